"""Learned restorers: array in, array out, same dtype and bit depth, in bounded memory.

Each takes ``model=`` (a model directory written by ``archive-restore
train``; default: the model shipped with the package, see
:mod:`restoration.learned.catalog`), ``tile=`` (the largest square the
network sees at once) and ``self_ensemble=`` (average the network's outputs
over the eight flips and quarter turns of the input, at eight times the
time; :func:`restoration.learned.inference.tiled`). This module does not import torch: the signatures
here are what the registry, the command line and the UI read, and the
networks (:mod:`restoration.learned.inference`) are loaded at the first
call, once per process and model, not per channel or frame.
"""

from __future__ import annotations

import os

import numpy as np

from restoration.methods.upscale import DEFAULT_SCALE
from restoration.pixels import from_unit, range_of, to_unit

DEFAULT_TILE = 512


def denoise_cnn(
    image: np.ndarray,
    *,
    sigma: float | None = None,
    model: os.PathLike | str | None = None,
    tile: int = DEFAULT_TILE,
    self_ensemble: bool = False,
    value_range=None,
) -> np.ndarray:
    """Denoise with the learned residual CNN (``cnn-denoise``).

    ``sigma`` (0-255 scale of ``value_range``, as for the classical
    denoisers) sets the noise map that steers the network; when None it is
    estimated per channel on that same scale
    (:func:`restoration.methods.denoise.estimate_noise_sigma`).

    References
    ----------
    Zhang et al., "FFDNet: toward a fast and flexible solution for CNN-based
    image denoising", IEEE TIP 2018.
    """
    from restoration.learned import inference
    from restoration.methods.denoise import estimate_noise_sigma

    prange = range_of(image, value_range)
    unit = to_unit(image, prange)
    planes = [unit] if unit.ndim == 2 else [unit[..., c] for c in range(unit.shape[2])]
    # Each plane is already on the unit scale of the frame's range: estimated there, never rescaled again.
    sigmas = [estimate_noise_sigma(p, value_range=(0.0, 1.0)) if sigma is None else float(sigma) for p in planes]
    net, _ = inference.network("cnn-denoise", {"model": model})
    out = inference.denoise_planes(planes, sigmas, net=net, tile=tile, self_ensemble=self_ensemble)
    return from_unit(out[0] if unit.ndim == 2 else np.stack(out, axis=2), prange, image.dtype)


def denoise_cnn_unit(
    plane: np.ndarray, *, sigma: float, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE, self_ensemble: bool = False
) -> np.ndarray:
    """:func:`denoise_cnn` on one float plane on the [0, 1] scale, unclipped (the benchmark protocol's form)."""
    from restoration.learned import inference

    net, _ = inference.network("cnn-denoise", {"model": model})
    return inference.denoise_planes([plane], [sigma], net=net, tile=tile, self_ensemble=self_ensemble)[0]


def upscale_cnn(
    image: np.ndarray,
    *,
    scale: int = DEFAULT_SCALE,
    model: os.PathLike | str | None = None,
    tile: int = DEFAULT_TILE // 2,
    self_ensemble: bool = False,
    value_range=None,
) -> np.ndarray:
    """Upscale by ``scale`` with the learned super-resolution network (``cnn-sr``).

    Gray images go through the network; colour images have their luma
    (ITU-R BT.601 YCrCb) upscaled by the network and chroma bicubically.
    ``tile`` is in input pixels.

    References
    ----------
    Lim et al., "Enhanced deep residual networks for single image
    super-resolution", CVPRW 2017.
    """
    from restoration.learned import inference

    net, _ = inference.network("cnn-sr", {"model": model, "scale": scale})
    if net.scale != scale:
        raise ValueError(f"model {model} upscales by {net.scale}, not {scale}")
    prange = range_of(image, value_range)
    big = inference.upscale_unit(to_unit(image, prange), net=net, scale=scale, tile=tile, self_ensemble=self_ensemble)
    return from_unit(big, prange, image.dtype)


def inpaint_gan(
    image: np.ndarray, mask: np.ndarray, *, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE, self_ensemble: bool = False
) -> np.ndarray:
    """Inpaint with the gated-convolution generator trained against a PatchGAN (``gan-inpaint``).

    The network corrects a classical fill (the biharmonic one for the
    default model; the model card's ``start``), and its last layer starts
    at zero, so it begins exactly at that fill and learns structure and
    texture on top. Only pixels inside ``mask`` change; the others are
    returned exactly.

    References
    ----------
    Yu et al., "Free-form image inpainting with gated convolution", ICCV 2019.
    """
    from restoration.learned import inference

    net, _ = inference.network("gan-inpaint", {"model": model})
    return inference.inpaint(image, mask, inference.gan_run(net), net.multiple, tile, start=net.start, self_ensemble=self_ensemble)


def inpaint_vae(
    image: np.ndarray, mask: np.ndarray, *, model: os.PathLike | str | None = None, tile: int = DEFAULT_TILE, self_ensemble: bool = False
) -> np.ndarray:
    """Inpaint with the convolutional VAE (``vae-inpaint``): encode the damaged image, decode the mean, blend into the hole.

    A baseline: a small VAE's mean decoding is blurrier than a diffusion
    fill, and it is kept to show what a generic generative prior gives.

    References
    ----------
    Kingma and Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """
    from restoration.learned import inference

    net, _ = inference.network("vae-inpaint", {"model": model})
    return inference.inpaint(image, mask, inference.vae_run(net), net.multiple, tile, self_ensemble=self_ensemble)
