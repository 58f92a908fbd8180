"""Pixel value ranges: the bridge between stored integers and unit floats.

Every method works on floats in [0, 1] and hands back the input's dtype, so
16-bit in gives 16-bit out and a 12-bit DICOM stays inside 0..4095.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PixelRange:
    """The closed value range ``[low, high]`` of an image's pixels."""

    low: float
    high: float

    @property
    def span(self) -> float:
        """``high - low``: the data range PSNR and SSIM are computed at."""
        return self.high - self.low


def pixel_range(image: np.ndarray, *, bit_depth: int | None = None) -> PixelRange:
    """Native value range of ``image``.

    Integer images span their bit depth (``bit_depth`` narrows the dtype's
    range, e.g. 12 bits stored in uint16 gives 0..4095; signed types are
    centred on zero). Float images span their own minimum to maximum, since a
    float image has no declared range.

    Parameters
    ----------
    image : ndarray
        The image.
    bit_depth : int, optional
        Bits actually used, when fewer than the dtype holds.
    """
    dtype = image.dtype
    if dtype == bool:
        return PixelRange(0.0, 1.0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        bits = min(bit_depth or info.bits, info.bits)
        if info.min < 0:
            return PixelRange(-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1)
        return PixelRange(0.0, 2.0**bits - 1)
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return PixelRange(0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    return PixelRange(low, high if high > low else low + 1.0)


def range_of(image: np.ndarray, value_range: PixelRange | tuple[float, float] | None = None) -> PixelRange:
    """The value range a method works in: ``value_range`` when given, else :func:`pixel_range` of ``image``.

    Every method and simulator that rescales pixels takes a keyword-only
    ``value_range``: the pipeline passes each frame's stored range (its bit
    depth: 0..4095 for a 12-bit DICOM in uint16), computed once per frame,
    so that "sigma 25" means 25/255 of that range at every depth. Called on
    a bare array, a method falls back to the dtype's range.

    Raises
    ------
    ValueError
        When ``value_range`` is not a finite pair with ``low < high``.
    """
    if value_range is None:
        return pixel_range(image)
    if isinstance(value_range, PixelRange):
        low, high = value_range.low, value_range.high
    else:
        try:
            low, high = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"value_range must be a pair (low, high), got {value_range!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"value_range must be finite with low < high, got ({low}, {high})")
    return PixelRange(float(low), float(high))


def known_range(image: np.ndarray, damaged: np.ndarray) -> PixelRange:
    """Value range of the pixels *not* marked in ``damaged`` (H, W).

    Inpainters normalise by it: a CT slice uses a few thousand of int16's
    65536 levels, and the known pixels say what a fill should span.
    """
    known = image[~np.asarray(damaged, bool)]
    low, high = float(known.min()), float(known.max())
    return PixelRange(low, high if high > low else low + 1.0)


def to_unit(image: np.ndarray, prange: PixelRange) -> np.ndarray:
    """Map ``image`` to float64 in [0, 1] (``low`` -> 0, ``high`` -> 1)."""
    return (image.astype(np.float64) - prange.low) / prange.span


def from_unit(unit: np.ndarray, prange: PixelRange, dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`to_unit`: clip, rescale, and round to ``dtype``."""
    values = np.clip(unit, 0.0, 1.0) * prange.span + prange.low
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer) or dtype == bool:
        values = np.rint(values)
    return values.astype(dtype)
