"""Quality metrics: PSNR and SSIM on the whole image and inside the hole.

All take ``data_range``, the image's native range (255 for 8-bit, 65535 for
16-bit, 4095 for 12-bit DICOM): see :func:`restoration.pixels.pixel_range`.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _check(reference: np.ndarray, test: np.ndarray) -> None:
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, test {test.shape}")


def _psnr_from_mse(mse: float, data_range: float) -> float:
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def psnr(reference: np.ndarray, test: np.ndarray, *, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels."""
    _check(reference, test)
    diff = reference.astype(np.float64) - test.astype(np.float64)
    return _psnr_from_mse(float(np.mean(diff**2)), data_range)


def hole_psnr(reference: np.ndarray, test: np.ndarray, mask: np.ndarray, *, data_range: float) -> float:
    """PSNR over the pixels where ``mask`` is nonzero (all channels); NaN for an empty mask."""
    _check(reference, test)
    hole = np.asarray(mask) != 0
    if not hole.any():
        return float("nan")
    diff = reference.astype(np.float64)[hole] - test.astype(np.float64)[hole]
    return _psnr_from_mse(float(np.mean(diff**2)), data_range)


def _ssim_map(reference: np.ndarray, test: np.ndarray, data_range: float) -> np.ndarray | None:
    side = min(reference.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return None
    channel_axis = -1 if reference.ndim == 3 else None
    _, smap = structural_similarity(
        reference.astype(np.float64),
        test.astype(np.float64),
        data_range=data_range,
        channel_axis=channel_axis,
        win_size=win,
        full=True,
    )
    return smap.mean(axis=2) if smap.ndim == 3 else smap


def ssim(reference: np.ndarray, test: np.ndarray, *, data_range: float) -> float:
    """Mean structural similarity (Wang et al., IEEE TIP 2004), 7x7 window.

    Colour images are averaged over channels; NaN for images under 3 pixels wide.
    """
    _check(reference, test)
    smap = _ssim_map(reference, test, data_range)
    if smap is None:
        return float("nan")
    pad = (min(7, smap.shape[0], smap.shape[1]) - 1) // 2  # skimage crops the border
    inner = smap[pad : smap.shape[0] - pad or None, pad : smap.shape[1] - pad or None]
    return float(inner.mean() if inner.size else smap.mean())


def hole_ssim(reference: np.ndarray, test: np.ndarray, mask: np.ndarray, *, data_range: float) -> float:
    """Mean of the SSIM map over the pixels where ``mask`` is nonzero."""
    _check(reference, test)
    hole = np.asarray(mask) != 0
    if not hole.any():
        return float("nan")
    smap = _ssim_map(reference, test, data_range)
    if smap is None:
        return float("nan")
    return float(smap[hole].mean())
