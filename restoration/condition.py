"""Condition of a frame without a clean reference: damage by kind, noise, sharpness, clipping.

What a condition report says about each file of an archive that has no
clean copy to compare with: the fraction of pixels each classical detector
flags (:mod:`restoration.damage.detect`), the noise sigma (0-255 scale of
the frame's range, as every method's ``sigma``), a sharpness measure, and
the fraction of pixels clipped at either end of the range. The same
measures apply before and after restoration.
"""

from __future__ import annotations

import numpy as np

from restoration.damage.detect import DETECTORS, Detection, gray_unit
from restoration.pixels import PixelRange, range_of

#: Damage kinds measured in a condition report (every classical detector).
CONDITION_KINDS = tuple(DETECTORS)


def sharpness(frame: np.ndarray, *, value_range: PixelRange | tuple[float, float] | None = None) -> float:
    """Mean gradient magnitude of the strongest tenth of the pixels, on the 0-255 scale of ``value_range``.

    A blurred copy of an image scores lower than the original; flat images
    score 0. Taking the strongest tenth makes it a measure of edges, not of
    how much of the picture is background.
    """
    gray = np.nan_to_num(gray_unit(frame, value_range=value_range)).astype(np.float64) * 255
    if min(gray.shape) < 3:
        return 0.0
    gy, gx = np.gradient(gray)
    magnitude = np.hypot(gx, gy).ravel()
    top = np.partition(magnitude, int(0.9 * (magnitude.size - 1)))[int(0.9 * (magnitude.size - 1)) :]
    return float(top.mean())


def clipped_fraction(frame: np.ndarray, *, value_range: PixelRange | tuple[float, float] | None = None) -> float:
    """Fraction of pixels at the very bottom or top of ``value_range`` (any channel)."""
    prange = range_of(frame, value_range)
    values = frame if frame.ndim == 2 else frame[..., : min(frame.shape[2], 3)]
    clipped = (values <= prange.low) | (values >= prange.high)
    if clipped.ndim == 3:
        clipped = clipped.any(axis=2)
    return float(clipped.mean())


def condition_of(
    frame: np.ndarray,
    *,
    value_range: PixelRange | tuple[float, float] | None = None,
    detections: dict[str, Detection] | None = None,
) -> dict[str, float]:
    """The condition measures of one frame.

    Returns ``damage_<kind>`` (fraction of pixels) for each kind of
    :data:`CONDITION_KINDS`, ``noise_sigma``, ``sharpness`` and ``clipped``.
    ``detections`` are the classical detectors' results by kind when the
    caller has them already (default: run here).
    """
    from restoration.damage.detect import detect_by_kind
    from restoration.frames import estimate_frame_sigma

    prange = range_of(frame, value_range)
    if detections is None:
        detections = detect_by_kind(np.nan_to_num(frame) if np.issubdtype(frame.dtype, np.floating) else frame, value_range=prange)
    row = {f"damage_{kind}": float(detection.mask.mean()) for kind, detection in detections.items()}
    finite = np.nan_to_num(frame) if np.issubdtype(frame.dtype, np.floating) else frame
    row["noise_sigma"] = float(estimate_frame_sigma(finite, value_range=prange))
    row["sharpness"] = sharpness(finite, value_range=prange)
    row["clipped"] = clipped_fraction(finite, value_range=prange)
    return row
