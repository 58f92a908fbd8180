"""Quality metrics: PSNR and SSIM on the whole image and inside the hole.

All take ``data_range``, the image's native range (255 for 8-bit, 65535 for
16-bit, 4095 for 12-bit DICOM): see :func:`restoration.pixels.pixel_range`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
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


def _near(mask: np.ndarray, tolerance: int) -> np.ndarray:
    if tolerance <= 0:
        return mask
    size = 2 * int(tolerance) + 1
    return ndimage.binary_dilation(mask, structure=np.ones((size, size), bool))


#: The least change, as a fraction of the data range, that makes a damaged pixel visible
#: (about 5 grey levels in 8 bits; the Weber fraction of the eye is 1-2 %).
VISIBLE_CHANGE = 0.02


def unchanged_damage(clean: np.ndarray, damaged: np.ndarray, mask: np.ndarray, *, data_range: float, visible: float = VISIBLE_CHANGE) -> np.ndarray:
    """Pixels of the damage ``mask`` that the damage left as they were: no channel moved by more than ``visible`` of ``data_range``.

    A black hole on a black background, a dark speck on a dark coat: no
    detector, and no person, can see such damage, so detection scores leave
    these pixels out (``ignore`` of :func:`detection_scores`). Inpainting
    scores keep them.
    """
    _check(clean, damaged)
    change = np.abs(damaged.astype(np.float64) - clean.astype(np.float64))
    if change.ndim == 3:
        change = change.max(axis=2)
    return (np.asarray(mask) != 0) & (change <= visible * data_range)


def detection_counts(true_mask: np.ndarray, predicted_mask: np.ndarray, *, tolerance: int = 1, ignore: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """Counts behind :func:`detection_scores`: predicted pixels near a true one, true pixels near a predicted one, predicted, true.

    Pixels in ``ignore`` count neither way. Sums of these over many images
    give pooled scores.
    """
    truth = np.asarray(true_mask) != 0
    predicted = np.asarray(predicted_mask) != 0
    if ignore is not None:
        care = ~(np.asarray(ignore) != 0)
        truth, predicted = truth & care, predicted & care
    correct = int((predicted & _near(truth, tolerance)).sum())
    found = int((truth & _near(predicted, tolerance)).sum())
    return correct, found, int(predicted.sum()), int(truth.sum())


def detection_scores(true_mask: np.ndarray, predicted_mask: np.ndarray, *, tolerance: int = 1, ignore: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, F1 and IoU of a predicted damage mask, with a tolerance in pixels.

    A predicted pixel is correct when a truly damaged pixel lies within
    ``tolerance`` pixels of it (a square neighbourhood: 1 is the 8
    neighbours); a damaged pixel is found when a predicted one lies that
    close. Precision counts over the predicted pixels, recall over the true
    ones; IoU is ``tp / (tp + fp + fn)`` with ``tp`` the mean of the two
    correct counts. Pixels in ``ignore`` (e.g. :func:`unchanged_damage`)
    count neither way. An empty truth gives NaN recall (nothing to find)
    and precision 0 for any prediction; also returns ``flagged``, the
    fraction of all pixels predicted damaged.

    References
    ----------
    Martin, Fowlkes and Malik, "Learning to detect natural image boundaries
    using local brightness, color, and texture cues", IEEE PAMI 2004 (scoring
    with a distance tolerance).
    """
    truth = np.asarray(true_mask) != 0
    predicted = np.asarray(predicted_mask) != 0
    if truth.shape != predicted.shape:
        raise ValueError(f"shapes differ: true mask {truth.shape}, predicted {predicted.shape}")
    correct, found, n_pred, n_true = detection_counts(truth, predicted, tolerance=tolerance, ignore=ignore)
    precision = correct / n_pred if n_pred else (float("nan") if n_true == 0 else 0.0)
    recall = found / n_true if n_true else float("nan")
    if n_true == 0 or n_pred == 0:
        f1 = float("nan") if n_true == 0 and n_pred == 0 else 0.0
    else:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    tp = 0.5 * (correct + found)
    union = tp + (n_pred - correct) + (n_true - found)
    iou = tp / union if union else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou, "flagged": float(predicted.sum()) / truth.size}
