"""Classical inpainting: fill the pixels a mask marks as damaged.

Each function takes ``(image, mask)`` with ``mask`` nonzero where damaged,
returns an image of the input's dtype and shape, and leaves pixels outside
the mask exactly as they were.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic as _skimage_biharmonic

from restoration.pixels import PixelRange, from_unit, known_range, range_of, to_unit


def hole_of(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask`` as a bool (H, W) hole, checked against ``image``.

    Raises ValueError when the shapes differ or the hole covers everything
    (nothing is known to fill from).
    """
    hole = np.asarray(mask) != 0
    if hole.shape != image.shape[:2]:
        raise ValueError(f"mask shape {hole.shape} does not match image shape {image.shape[:2]}")
    if hole.all():
        raise ValueError("the mask covers the whole image: there is nothing known to fill from")
    return hole


def _mask_u8(mask: np.ndarray, image: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape[:2]}")
    return (mask != 0).astype(np.uint8)


def _keep_known(image: np.ndarray, filled: np.ndarray, mask_u8: np.ndarray) -> np.ndarray:
    hole = mask_u8.astype(bool)
    if image.ndim == 3:
        hole = hole[..., None]
    return np.where(hole, filled, image).astype(image.dtype)


def _per_plane(image: np.ndarray, fill_plane) -> np.ndarray:
    if image.ndim == 2:
        return fill_plane(image)
    return np.stack([fill_plane(image[..., c]) for c in range(image.shape[2])], axis=2)


def inpaint_biharmonic(image: np.ndarray, mask: np.ndarray, *, value_range=None) -> np.ndarray:
    """Fill holes with the smooth biharmonic interpolant of their border.

    A wrapper of :func:`skimage.restoration.inpaint_biharmonic` that keeps
    dtype and bit depth: the fill's overshoot is clipped to ``value_range``
    (the frame's stored range; default the dtype's).

    References
    ----------
    Damelin and Hoang, "On Surface Completion and Image Inpainting by
    Biharmonic Functions: Numerical Aspects", IJMMS 2018.
    """
    m = _mask_u8(mask, image)
    if not m.any():
        return image.copy()
    prange = range_of(image, value_range)
    unit = to_unit(image, prange)
    # One sparse system per hole: the same fill (the stencil couples only pixels
    # within two of each other) with far less memory than one system for all.
    filled = _skimage_biharmonic(unit, m.astype(bool), split_into_regions=True, channel_axis=-1 if image.ndim == 3 else None)
    return _keep_known(image, from_unit(filled, prange, image.dtype), m)


_UINT16 = PixelRange(0.0, 65535.0)
_UINT8 = PixelRange(0.0, 255.0)


def _via(image: np.ndarray, target: PixelRange, dtype, fill_plane, mask_u8: np.ndarray) -> np.ndarray:
    """Run ``fill_plane`` on ``image`` mapped to an integer dtype, plane by plane, and map back.

    The mapping spans the known pixels' own range, so that a CT slice using a
    few thousand of int16's 65536 levels keeps its precision.
    """
    prange = known_range(image, mask_u8 != 0)
    mapped = from_unit(to_unit(image, prange), target, dtype)
    filled = _per_plane(mapped, fill_plane)
    return _keep_known(image, from_unit(to_unit(filled, target), prange, image.dtype), mask_u8)


def _cv2_inpaint(image: np.ndarray, mask: np.ndarray, radius: float, flag: int) -> np.ndarray:
    m = _mask_u8(mask, image)
    if not m.any():
        return image.copy()

    def fill(plane: np.ndarray) -> np.ndarray:
        return cv2.inpaint(np.ascontiguousarray(plane), m, float(radius), flag)

    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] == 3):
        return fill(image)
    if image.dtype == np.uint16:
        return _per_plane(image, fill)
    # OpenCV's float32 inpainting assumes values on a 0-255 scale (it gives
    # noise for [0, 1] data), so other dtypes go through uint16, exact for int16.
    return _via(image, _UINT16, np.uint16, fill, m)


def inpaint_telea(image: np.ndarray, mask: np.ndarray, *, radius: float = 5.0) -> np.ndarray:
    """Fast-marching inpainting (OpenCV ``INPAINT_TELEA``).

    8-bit gray and RGB images go straight to :func:`cv2.inpaint`, so the
    result is exactly OpenCV's; other dtypes are filled plane by plane.

    Parameters
    ----------
    radius : float
        Neighbourhood radius in pixels.

    References
    ----------
    Telea, "An Image Inpainting Technique Based on the Fast Marching
    Method", Journal of Graphics Tools 9(1), 2004.
    """
    return _cv2_inpaint(image, mask, radius, cv2.INPAINT_TELEA)


def inpaint_navier_stokes(image: np.ndarray, mask: np.ndarray, *, radius: float = 5.0) -> np.ndarray:
    """Fluid-dynamics inpainting (OpenCV ``INPAINT_NS``).

    References
    ----------
    Bertalmio, Bertozzi and Sapiro, "Navier-Stokes, Fluid Dynamics, and
    Image and Video Inpainting", CVPR 2001.
    """
    return _cv2_inpaint(image, mask, radius, cv2.INPAINT_NS)


def inpaint_fsr(image: np.ndarray, mask: np.ndarray, *, quality: str = "fast") -> np.ndarray:
    """Frequency-selective reconstruction (``cv2.xphoto.inpaint``).

    Images other than 8-bit gray/RGB are filled at 8-bit precision inside
    the hole (OpenCV's FSR leaves 16-bit holes unfilled); known pixels keep
    their full bit depth.

    Parameters
    ----------
    quality : {"fast", "best"}
        ``INPAINT_FSR_FAST`` or the much slower ``INPAINT_FSR_BEST``.

    References
    ----------
    Genser, Seiler, Schilling and Kaup, "Signal and Loss Geometry Aware
    Frequency Selective Extrapolation for Error Concealment", PCS 2018.
    """
    flags = {"fast": cv2.xphoto.INPAINT_FSR_FAST, "best": cv2.xphoto.INPAINT_FSR_BEST}
    if quality not in flags:
        raise ValueError(f"quality must be 'fast' or 'best', got {quality!r}")
    m = _mask_u8(mask, image)
    if not m.any():
        return image.copy()
    known = (1 - m).astype(np.uint8)  # xphoto's mask marks the *known* pixels

    def fill(plane_or_rgb: np.ndarray) -> np.ndarray:
        out = np.zeros_like(plane_or_rgb)
        cv2.xphoto.inpaint(np.ascontiguousarray(plane_or_rgb), known, out, flags[quality])
        return out

    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] == 3):
        return _keep_known(image, fill(image), m)
    # OpenCV 5's FSR returns 16-bit input with the holes unfilled, so other
    # dtypes are filled at 8 bits; the known pixels keep their full depth.
    return _via(image, _UINT8, np.uint8, fill, m)
