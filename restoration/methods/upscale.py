"""Classical upscaling by an integer factor (OpenCV interpolation)."""

from __future__ import annotations

import cv2
import numpy as np

from restoration.pixels import from_unit, range_of, to_unit

#: The factor every upscaler uses when none is given.
DEFAULT_SCALE = 2


def _resize(image: np.ndarray, scale: int, interpolation: int, value_range) -> np.ndarray:
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    h, w = image.shape[:2]
    size = (w * int(scale), h * int(scale))
    if image.dtype in (np.uint8, np.uint16) and (image.ndim == 2 or image.shape[2] <= 4):
        return cv2.resize(image, size, interpolation=interpolation)  # saturates to the dtype
    prange = range_of(image, value_range)
    unit = to_unit(image, prange).astype(np.float32)
    big = cv2.resize(unit, size, interpolation=interpolation).reshape(size[::-1] + image.shape[2:])
    return from_unit(big, prange, image.dtype)


def upscale_bicubic(image: np.ndarray, *, scale: int = DEFAULT_SCALE, value_range=None) -> np.ndarray:
    """Bicubic interpolation (Keys, IEEE TASSP 1981) by ``scale``; overshoot is clipped to ``value_range``."""
    return _resize(image, scale, cv2.INTER_CUBIC, value_range)


def upscale_lanczos(image: np.ndarray, *, scale: int = DEFAULT_SCALE, value_range=None) -> np.ndarray:
    """Lanczos-4 interpolation (Duchon, J. Appl. Meteorology 1979) by ``scale``; overshoot is clipped to ``value_range``."""
    return _resize(image, scale, cv2.INTER_LANCZOS4, value_range)
