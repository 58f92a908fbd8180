"""Learned restorers: array in, array out, same dtype and bit depth, in bounded memory.

Each takes ``model=`` (a model directory written by ``archive-restore
train``; default: the model shipped with the package) and ``tile=`` (the
largest square the network sees at once). Images larger than a tile are cut
into overlapping tiles whose outputs are blended with weights that ramp down
across the overlap, so memory stays bounded whatever the image size.

Networks work on one channel: colour images are restored channel by channel,
except super-resolution, which upscales luma with the network and chroma
bicubically (as the super-resolution literature scores on luma).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restoration.learned.catalog import ModelFileError, default_model_dir, default_model_name
from restoration.learned.modelfiles import cached_model
from restoration.learned.networks import fill_from_known
from restoration.methods.inpaint import hole_of
from restoration.methods.upscale import DEFAULT_SCALE
from restoration.pixels import PixelRange, from_unit, known_range, pixel_range, to_unit

DEFAULT_TILE = 256
OVERLAP = 32


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _model(model: os.PathLike | str | None, default: str, task: str):
    directory = default_model_dir(default) if model is None else model
    try:
        net, card = cached_model(directory, task=task)
    except ModelFileError as exc:
        if model is None:
            raise ValueError(f"no default {default} model is installed ({exc}); train one with `archive-restore train --task {task}` and pass --model") from None
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
    tile: int = DEFAULT_TILE,
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


def denoise_cnn(image: np.ndarray, *, sigma: float | None = None, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE) -> np.ndarray:
    """Denoise with the learned residual CNN (``cnn-denoise``).

    ``sigma`` (0-255 scale, as for the classical denoisers) sets the noise
    map that steers the network; when None it is estimated per channel
    (:func:`restoration.methods.denoise.estimate_noise_sigma`).

    References
    ----------
    Zhang et al., "FFDNet: toward a fast and flexible solution for CNN-based
    image denoising", IEEE TIP 2018.
    """
    from restoration.methods.denoise import estimate_noise_sigma

    prange = pixel_range(image)
    unit = to_unit(image, prange)
    planes = [denoise_cnn_unit(p, sigma=estimate_noise_sigma(p) if sigma is None else sigma, model=model, tile=tile) for p in _channels(unit)]
    return from_unit(_stack(planes, unit), prange, image.dtype)


def denoise_cnn_unit(plane: np.ndarray, *, sigma: float, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE) -> np.ndarray:
    """:func:`denoise_cnn` on one float plane on the [0, 1] scale, unclipped (the benchmark protocol's form)."""
    net, _ = _model(model, default_model_name("cnn-denoise"), "denoise")
    level = torch.full((1,), float(sigma) / 255.0, device=_device())
    with torch.inference_mode():
        out = run_tiled(lambda x: net(x, level), [_plane_tensor(plane)], tile=tile, multiple=net.multiple)
    return out[0, 0].cpu().numpy().astype(np.float64)


def upscale_cnn(image: np.ndarray, *, scale: int = DEFAULT_SCALE, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE // 2) -> np.ndarray:
    """Upscale by ``scale`` with the learned super-resolution network (``cnn-sr``).

    Gray images go through the network; colour images have their luma
    (ITU-R BT.601 YCrCb) upscaled by the network and chroma bicubically.
    ``tile`` is in input pixels.

    References
    ----------
    Lim et al., "Enhanced deep residual networks for single image
    super-resolution", CVPRW 2017.
    """
    net, card = _model(model, default_model_name("cnn-sr", scale=scale), "sr")
    if net.scale != scale:
        raise ValueError(f"model {model} upscales by {net.scale}, not {scale}")
    prange = pixel_range(image)
    unit = to_unit(image, prange).astype(np.float32)
    color = unit.ndim == 3 and unit.shape[2] >= 3
    if color:
        ycc = cv2.cvtColor(np.ascontiguousarray(unit[..., :3]), cv2.COLOR_RGB2YCrCb)
        luma = ycc[..., 0]
    elif unit.ndim == 3:
        return np.stack([upscale_cnn(image[..., c], scale=scale, model=model, tile=tile) for c in range(image.shape[2])], axis=2)
    else:
        luma = unit
    with torch.inference_mode():
        big = run_tiled(net, [_plane_tensor(luma)], tile=tile, overlap=min(OVERLAP // 2, tile // 4), scale=scale)[0, 0].cpu().numpy()
    if not color:
        return from_unit(big, prange, image.dtype)
    size = (big.shape[1], big.shape[0])
    chroma = cv2.resize(ycc[..., 1:], size, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(np.dstack([big, chroma]).astype(np.float32), cv2.COLOR_YCrCb2RGB)
    if unit.shape[2] > 3:  # alpha: bicubic
        extra = cv2.resize(unit[..., 3:], size, interpolation=cv2.INTER_CUBIC).reshape(big.shape + (-1,))
        rgb = np.concatenate([rgb, extra], axis=2)
    return from_unit(rgb, prange, image.dtype)


def _inpaint(image: np.ndarray, mask: np.ndarray, run: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], multiple: int, tile: int) -> np.ndarray:
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
    return np.where(keep, restored, image)  # known pixels are the input's, bit for bit


def inpaint_gan(image: np.ndarray, mask: np.ndarray, *, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE) -> np.ndarray:
    """Inpaint with the gated-convolution generator trained against a PatchGAN (``gan-inpaint``).

    Only pixels inside ``mask`` change; the others are returned exactly.

    References
    ----------
    Yu et al., "Free-form image inpainting with gated convolution", ICCV 2019.
    """
    net, _ = _model(model, default_model_name("gan-inpaint"), "inpaint")
    return _inpaint(image, mask, lambda x, m, f: net(x, m, filled=f), net.multiple, tile)


def inpaint_vae(image: np.ndarray, mask: np.ndarray, *, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE) -> np.ndarray:
    """Inpaint with the convolutional VAE (``vae-inpaint``): encode the damaged image, decode the mean, blend into the hole.

    References
    ----------
    Kingma and Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """
    net, _ = _model(model, default_model_name("vae-inpaint"), "vae")

    def run(x, m, f):
        mu, _ = net.encode(x, m, filled=f)
        return torch.where(m > 0.5, net.decode(mu), x)

    return _inpaint(image, mask, run, net.multiple, tile)
