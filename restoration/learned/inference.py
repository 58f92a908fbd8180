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
    return net.to(_device()), card


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


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
) -> torch.Tensor:
    """Apply ``fn`` to overlapping tiles of ``inputs`` ((1, C, H, W) each) and blend the outputs.

    ``fn`` maps tiles of the inputs to a (1, 1, h*scale, w*scale) tensor.
    Inputs are reflect-padded to a multiple of ``multiple`` (what the
    network's down-sampling needs) and to at least one tile where smaller;
    the output is cropped back to (1, 1, H*scale, W*scale).
    """
    if tile < 2 * overlap or tile % max(multiple, 1):
        raise ValueError(f"tile must be a multiple of {multiple} and at least {2 * overlap}, got {tile}")
    _, _, h, w = inputs[0].shape
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        inputs = [F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate") for x in inputs]
    H, W = h + ph, w + pw
    th, tw = min(tile, H), min(tile, W)
    out = torch.zeros((1, 1, H * scale, W * scale), device=inputs[0].device)
    weight = torch.zeros_like(out)
    ramp = (_ramp(th, overlap if H > th else 0, scale)[:, None] * _ramp(tw, overlap if W > tw else 0, scale)[None, :]).to(out.device)
    for y in _starts(H, th, overlap):
        for x in _starts(W, tw, overlap):
            pieces = [t[..., y : y + th, x : x + tw] for t in inputs]
            result = fn(*pieces).float()
            out[..., y * scale : (y + th) * scale, x * scale : (x + tw) * scale] += result * ramp
            weight[..., y * scale : (y + th) * scale, x * scale : (x + tw) * scale] += ramp
    return (out / weight)[..., : h * scale, : w * scale]


def _plane_tensor(plane: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane, np.float32))[None, None].to(_device())


def _channels(unit: np.ndarray) -> list[np.ndarray]:
    return [unit] if unit.ndim == 2 else [unit[..., c] for c in range(unit.shape[2])]


def _stack(planes: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    return planes[0] if like.ndim == 2 else np.stack(planes, axis=2)


def denoise_planes(planes: list[np.ndarray], sigmas: list[float], *, net, tile: int) -> list[np.ndarray]:
    """Each float plane ([0, 1] scale) denoised by ``net`` with its noise level (0-255 scale), unclipped."""
    out = []
    with torch.inference_mode():
        for plane, sigma in zip(planes, sigmas):
            level = torch.full((1,), float(sigma) / 255.0, device=_device())
            result = run_tiled(lambda x: net(x, level), [_plane_tensor(plane)], tile=tile, multiple=net.multiple)
            out.append(result[0, 0].cpu().numpy().astype(np.float64))
    return out


def upscale_unit(unit: np.ndarray, *, net, scale: int, tile: int) -> np.ndarray:
    """A [0, 1] image upscaled: gray through ``net``, colour by luma through ``net`` and chroma (and alpha) bicubically."""
    unit = unit.astype(np.float32)
    color = unit.ndim == 3 and unit.shape[2] >= 3
    if unit.ndim == 3 and not color:
        return np.stack([upscale_unit(unit[..., c], net=net, scale=scale, tile=tile) for c in range(unit.shape[2])], axis=2)
    ycc = cv2.cvtColor(np.ascontiguousarray(unit[..., :3]), cv2.COLOR_RGB2YCrCb) if color else None
    with torch.inference_mode():
        y = ycc[..., 0] if color else unit
        big = run_tiled(net, [_plane_tensor(y)], tile=tile, overlap=min(OVERLAP // 2, tile // 4), scale=scale)[0, 0].cpu().numpy()
    if not color:
        return big
    size = (big.shape[1], big.shape[0])
    chroma = cv2.resize(ycc[..., 1:], size, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(np.dstack([big, chroma]).astype(np.float32), cv2.COLOR_YCrCb2RGB)
    if unit.shape[2] > 3:  # alpha: bicubic
        extra = cv2.resize(unit[..., 3:], size, interpolation=cv2.INTER_CUBIC).reshape(big.shape + (-1,))
        rgb = np.concatenate([rgb, extra], axis=2)
    return rgb


def inpaint(
    image: np.ndarray, mask: np.ndarray, run: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], multiple: int, tile: int
) -> np.ndarray:
    """Fill ``mask`` in ``image`` plane by plane with ``run(x, m, filled)``; known pixels are the input's, bit for bit.

    Planes are mapped by the known pixels' own range: a CT slice using a
    few thousand of int16's levels is what the network expects to see.
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
            filled = fill_from_known(x, m)  # over the whole image, so no tile is without context
            out = run_tiled(run, [x, m, filled], tile=tile, multiple=multiple)
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


def damage_probability(gray: np.ndarray, *, net, tile: int) -> np.ndarray:
    """Per-pixel probability of damage of a [0, 1] gray plane, float32, by the segmentation network ``net``."""
    with torch.inference_mode():
        logits = run_tiled(net, [_plane_tensor(gray)], tile=tile, multiple=net.multiple)
    return torch.sigmoid(logits)[0, 0].cpu().numpy().astype(np.float32)
