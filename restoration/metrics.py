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


#: SSIM's window, as Wang et al. (2004) and the published tables use it: an
#: 11 x 11 circular-symmetric Gaussian of sigma 1.5 (scikit-image's window
#: reaches 3.5 sigma: 2 * int(3.5 * 1.5 + 0.5) + 1 = 11 pixels), population
#: (co)variances, K1 = 0.01, K2 = 0.03.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def _ssim_map(reference: np.ndarray, test: np.ndarray, data_range: float) -> np.ndarray | None:
    if min(reference.shape[:2]) < SSIM_WINDOW:
        return None
    channel_axis = -1 if reference.ndim == 3 else None
    _, smap = structural_similarity(
        reference.astype(np.float64),
        test.astype(np.float64),
        data_range=data_range,
        channel_axis=channel_axis,
        gaussian_weights=True,
        sigma=SSIM_SIGMA,
        use_sample_covariance=False,
        full=True,
    )
    return smap.mean(axis=2) if smap.ndim == 3 else smap


def ssim(reference: np.ndarray, test: np.ndarray, *, data_range: float) -> float:
    """Mean structural similarity with Wang et al.'s 11 x 11 Gaussian window (sigma 1.5).

    The mean is over the pixels whose window lies inside the image (the
    'valid' region of Wang's reference code); colour images are averaged
    over channels. NaN for frames narrower than the 11-pixel window.

    References
    ----------
    Wang, Bovik, Sheikh and Simoncelli, "Image quality assessment: from
    error visibility to structural similarity", IEEE TIP 13(4), 2004.
    """
    _check(reference, test)
    smap = _ssim_map(reference, test, data_range)
    if smap is None:
        return float("nan")
    pad = (SSIM_WINDOW - 1) // 2
    return float(smap[pad:-pad, pad:-pad].mean())


def hole_ssim(reference: np.ndarray, test: np.ndarray, mask: np.ndarray, *, data_range: float) -> float:
    """Mean of the SSIM map (as :func:`ssim`) over the pixels where ``mask`` is nonzero; NaN for an empty mask."""
    _check(reference, test)
    hole = np.asarray(mask) != 0
    if not hole.any():
        return float("nan")
    smap = _ssim_map(reference, test, data_range)
    if smap is None:
        return float("nan")
    return float(smap[hole].mean())
