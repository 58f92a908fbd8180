"""Running the learned networks (torch): tiled inference in bounded memory.

The public restorers are in :mod:`restoration.learned.restorers`, which
imports this module (and torch) only when a learned method is first called.
Images larger than a tile are cut into overlapping tiles whose outputs are
blended with weights that ramp down across the overlap, so memory stays
bounded whatever the image size. Networks work on one channel: colour
images are restored channel by channel (the network loaded once for all),
except super-resolution, which upscales luma with the network and chroma
bicubically (as the super-resolution literature scores on luma).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restoration.learned.catalog import ModelFileError, learned_entry, model_directory
from restoration.learned.modelfiles import cached_model
from restoration.learned.networks import fill_from_known
from restoration.methods.inpaint import hole_of
from restoration.pixels import PixelRange, from_unit, known_range, to_unit

OVERLAP = 32
#: Mirrored margin around a plane before denoising (pixels).
BORDER = 16


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def network(method: str, options: dict):
    """The network (on the run's device) and card the learned restorer ``method`` uses with ``options``; loaded once per process.

    Its ``model`` option, or the shipped default; task and default come from
    the method's registry entry (:func:`restoration.learned.catalog.model_directory`).
    """
    entry = learned_entry(method)
    directory = model_directory(entry, options)
    try:
        net, card = cached_model(directory, task=entry.learned.task)
    except ModelFileError as exc:
        if not options.get("model"):
            raise ValueError(
                f"no default {directory.name} model is installed ({exc}); train one with `archive-restore train --task {entry.learned.task}` and pass --model"
            ) from None
        raise ValueError(str(exc)) from None
    return _prepared(net), card


_PREPARED_LOCK = threading.Lock()


def _prepared(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` on the run's device with channels-last weights, converted once (under a lock: threads share the cached network).

    Channels-last weights let oneDNN pick its faster convolution kernels on
    CPU (1.4-1.5x here, same outputs). Converting on every call raced with
    other threads' forward passes and gave NaN outputs.
    """
    with _PREPARED_LOCK:
        if not getattr(net, "prepared_for_inference", False):
            net.to(_device(), memory_format=torch.channels_last)
            net.prepared_for_inference = True
    return net


def _spans(length: int, tile: int, overlap: int, multiple: int, *, shrink: bool = True) -> tuple[int, list[int]]:
    """Size and starts of the fewest tiles of at most ``tile`` pixels covering ``length``, overlapping by at least ``overlap``.

    The tiles are evenly spread and, with ``shrink``, as small as that count
    allows, so little is computed twice (a fixed stride leaves a last tile that mostly repeats
    its neighbour: 1.6x the pixels of a 1 MP image in 256-pixel tiles).
    Sizes and starts are multiples of ``multiple`` (``length`` and ``tile``
    are), so every tile sees the same down-sampling grid as the whole image.
    """
    if length <= tile:
        return length, [0]
    n, t, o = length // multiple, tile // multiple, -(-overlap // multiple)
    count = -(-(n - o) // (t - o))
    size = -(-(n - o) // count) + o if shrink else t
    return size * multiple, [round(k * (n - size) / (count - 1)) * multiple for k in range(count)]


def _ramp(length: int, overlap: int, scale: int) -> torch.Tensor:
    """Blending weights along one side of a tile.

    Near zero over the outer quarter of the overlap (where the network saw
    padding instead of the image), rising linearly to 1 over the next half.
    """
    n = length * scale
    pos = torch.minimum(torch.arange(n, dtype=torch.float32) + 0.5, n - torch.arange(n, dtype=torch.float32) - 0.5)
    margin, rise = overlap * scale / 4, max(1.0, overlap * scale / 2)
    return torch.clamp((pos - margin) / rise, 1e-4, 1.0)


def run_tiled(
    fn: Callable[..., torch.Tensor],
    inputs: list[torch.Tensor],
    *,
    tile: int = 256,
    overlap: int = OVERLAP,
    multiple: int = 1,
    scale: int = 1,
    shrink: bool = True,
) -> torch.Tensor:
    """Apply ``fn`` to overlapping tiles of ``inputs`` ((1, C, H, W) each) and blend the outputs.

    ``fn`` maps tiles of the inputs to a (1, 1, h*scale, w*scale) tensor.
    Inputs are reflect-padded to a multiple of ``multiple`` (what the
    network's down-sampling needs) and to at least one tile where smaller;
    the output is cropped back to (1, 1, H*scale, W*scale). Tiles are evenly
    spread and, with ``shrink``, no larger than their count needs (see
    :func:`_spans`); a network that normalises over each tile passes
    ``shrink=False`` to see tiles of the size it was validated on.
    """
    if tile < 2 * overlap or tile % max(multiple, 1):
        raise ValueError(f"tile must be a multiple of {multiple} and at least {2 * overlap}, got {tile}")
    _, _, h, w = inputs[0].shape
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        inputs = [F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate") for x in inputs]
    H, W = h + ph, w + pw
    (th, ys), (tw, xs) = (_spans(n, tile, overlap, max(multiple, 1), shrink=shrink) for n in (H, W))
    out = torch.zeros((1, 1, H * scale, W * scale), device=inputs[0].device)
    weight = torch.zeros_like(out)
    ramp = (_ramp(th, overlap if H > th else 0, scale)[:, None] * _ramp(tw, overlap if W > tw else 0, scale)[None, :]).to(out.device)
    for y in ys:
        for x in xs:
            pieces = [t[..., y : y + th, x : x + tw].contiguous(memory_format=torch.channels_last) for t in inputs]
            result = fn(*pieces).float()
            out[..., y * scale : (y + th) * scale, x * scale : (x + tw) * scale] += result * ramp
            weight[..., y * scale : (y + th) * scale, x * scale : (x + tw) * scale] += ramp
    return (out / weight)[..., : h * scale, : w * scale]


#: The eight flips and quarter turns of the square, as (quarter turns, mirrored).
DIHEDRAL = tuple((k, mirrored) for mirrored in (False, True) for k in range(4))


def _turn(x: torch.Tensor, k: int, mirrored: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if mirrored else x


def _unturn(y: torch.Tensor, k: int, mirrored: bool) -> torch.Tensor:
    y = torch.flip(y, dims=(-1,)) if mirrored else y
    return torch.rot90(y, -k, dims=(-2, -1))


def tiled(fn: Callable[..., torch.Tensor], inputs: list[torch.Tensor], *, self_ensemble: bool = False, **options) -> torch.Tensor:
    """:func:`run_tiled`, or with ``self_ensemble`` the mean of its outputs over the eight flips and quarter turns.

    Each input is turned, run and turned back, so the result is the network's
    average over the symmetries of the square: usually a few tenths of a dB
    better, at eight times the time.

    References
    ----------
    Timofte, Rothe and Van Gool, "Seven ways to improve example-based single
    image super resolution", CVPR 2016.
    """
    if not self_ensemble:
        return run_tiled(fn, inputs, **options)
    total = None
    for k, mirrored in DIHEDRAL:
        out = _unturn(run_tiled(fn, [_turn(x, k, mirrored) for x in inputs], **options), k, mirrored)
        total = out if total is None else total + out
    return total / len(DIHEDRAL)


def _plane_tensor(plane: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane, np.float32))[None, None].to(_device())


def _channels(unit: np.ndarray) -> list[np.ndarray]:
    return [unit] if unit.ndim == 2 else [unit[..., c] for c in range(unit.shape[2])]


def _stack(planes: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    return planes[0] if like.ndim == 2 else np.stack(planes, axis=2)


def denoise_planes(planes: list[np.ndarray], sigmas: list[float], *, net, tile: int, self_ensemble: bool = False) -> list[np.ndarray]:
    """Each float plane ([0, 1] scale) denoised by ``net`` with its noise level (0-255 scale), unclipped."""
    out = []
    with torch.inference_mode():
        for plane, sigma in zip(planes, sigmas):
            level = torch.full((1,), float(sigma) / 255.0, device=_device())
            # Mirror a margin around the image, so the convolutions' zero padding never reaches it (edges stay as flat as the middle).
            m = min(BORDER, *(n - 1 for n in plane.shape)) // 2 * 2
            x = F.pad(_plane_tensor(plane), (m, m, m, m), mode="reflect") if m else _plane_tensor(plane)
            result = tiled(lambda t: net(t, level), [x], tile=tile, multiple=net.multiple, self_ensemble=self_ensemble)
            out.append(result[0, 0, m : m + plane.shape[0], m : m + plane.shape[1]].cpu().numpy().astype(np.float64))
    return out


def upscale_unit(unit: np.ndarray, *, net, scale: int, tile: int, self_ensemble: bool = False) -> np.ndarray:
    """A [0, 1] image upscaled: gray through ``net``, colour by luma through ``net`` and chroma (and alpha) bicubically."""
    unit = unit.astype(np.float32)
    color = unit.ndim == 3 and unit.shape[2] >= 3
    if unit.ndim == 3 and not color:
        return np.stack([upscale_unit(unit[..., c], net=net, scale=scale, tile=tile, self_ensemble=self_ensemble) for c in range(unit.shape[2])], axis=2)
    ycc = cv2.cvtColor(np.ascontiguousarray(unit[..., :3]), cv2.COLOR_RGB2YCrCb) if color else None
    with torch.inference_mode():
        y = ycc[..., 0] if color else unit
        big = tiled(net, [_plane_tensor(y)], tile=tile, overlap=min(OVERLAP // 2, tile // 4), scale=scale, self_ensemble=self_ensemble)[0, 0].cpu().numpy()
    if not color:
        return big
    size = (big.shape[1], big.shape[0])
    chroma = cv2.resize(ycc[..., 1:], size, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(np.dstack([big, chroma]).astype(np.float32), cv2.COLOR_YCrCb2RGB)
    if unit.shape[2] > 3:  # alpha: bicubic
        extra = cv2.resize(unit[..., 3:], size, interpolation=cv2.INTER_CUBIC).reshape(big.shape + (-1,))
        rgb = np.concatenate([rgb, extra], axis=2)
    return rgb


def start_fill(planes: np.ndarray, holes: np.ndarray, kind: str) -> np.ndarray:
    """The classical fill an inpainting network starts from, for (N, H, W) [0, 1] planes and their holes.

    ``biharmonic``: :func:`skimage.restoration.inpaint_biharmonic` (each hole
    region solved on its own); ``push-pull``: :func:`fill_from_known`.
    Known pixels are returned unchanged.
    """
    from skimage.restoration import inpaint_biharmonic

    planes = np.asarray(planes, np.float32)
    holes = np.asarray(holes) > 0.5
    if kind == "push-pull":
        x, m = torch.from_numpy(planes)[:, None], torch.from_numpy(holes.astype(np.float32))[:, None]
        return fill_from_known(x * (1 - m), m)[:, 0].numpy()
    if kind != "biharmonic":
        raise ValueError(f"unknown start fill {kind!r}")
    out = planes.copy()
    for k, (plane, hole) in enumerate(zip(planes, holes)):
        if hole.any() and not hole.all():
            out[k] = inpaint_biharmonic(np.where(hole, 0.0, plane), hole, split_into_regions=True)
        elif hole.all():
            out[k] = 0.5
    return out


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    run: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    multiple: int,
    tile: int,
    *,
    start: str = "push-pull",
    self_ensemble: bool = False,
) -> np.ndarray:
    """Fill ``mask`` in ``image`` plane by plane with ``run(x, m, filled)``; known pixels are the input's, bit for bit.

    ``filled`` is the ``start`` fill (:func:`start_fill`) over the whole
    image, so no tile is without context. Planes are mapped by the known
    pixels' own range: a CT slice using a few thousand of int16's levels is
    what the network expects to see.
    """
    hole = hole_of(image, mask)
    if not hole.any():
        return image.copy()
    prange: PixelRange = known_range(image, hole)
    unit = np.clip(to_unit(image, prange), 0.0, 1.0)
    m = _plane_tensor(hole.astype(np.float32))
    planes = []
    with torch.inference_mode():
        for plane in _channels(unit):
            x = _plane_tensor(np.where(hole, 0.0, plane))
            filled = _plane_tensor(start_fill(plane[None], hole[None], start)[0])
            out = tiled(run, [x, m, filled], tile=tile, multiple=multiple, self_ensemble=self_ensemble)
            planes.append(out[0, 0].cpu().numpy())
    restored = from_unit(_stack(planes, unit), prange, image.dtype)
    keep = hole if image.ndim == 2 else hole[..., None]
    return np.where(keep, restored, image)


def gan_run(net):
    """The generator's fill of tiles ``(x, m, filled)``."""
    return lambda x, m, f: net(x, m, filled=f)


def vae_run(net):
    """The VAE's fill of tiles: encode the damaged tile, decode the mean, keep known pixels."""

    def run(x, m, f):
        mu, _ = net.encode(x, m, filled=f)
        return torch.where(m > 0.5, net.decode(mu), x)

    return run


def damage_probability(gray: np.ndarray, *, net, tile: int, self_ensemble: bool = False) -> np.ndarray:
    """Per-pixel probability of damage of a [0, 1] gray plane, float32, by the segmentation network ``net``."""
    with torch.inference_mode():
        # Group normalisation works over each tile: tiles keep the full size the detector is validated with.
        logits = tiled(net, [_plane_tensor(gray)], tile=tile, multiple=net.multiple, shrink=False, self_ensemble=self_ensemble)
    return torch.sigmoid(logits)[0, 0].cpu().numpy().astype(np.float32)
