"""What every format shares: the :class:`ImageFile` an image is read into, file-name rules, and the pixel limit."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from restoration.options import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from restoration.pixels import PixelRange, pixel_range

#: File suffix -> format name. ``.nii.gz`` is matched before ``.gz``.
FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".dcm": "dicom",
    ".nii": "nifti",
    ".nii.gz": "nifti",
}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


class UnreadableImageError(ValueError):
    """A file that cannot be read (or written back) faithfully; the message names file and reason."""

    def __init__(self, path: os.PathLike | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class ImageFile:
    """One image file: its frames as arrays plus what is needed to write it back.

    Attributes
    ----------
    path : Path
        Where it was read from.
    format : str
        One of ``png``, ``jpeg``, ``tiff``, ``dicom``, ``nifti``.
    frames : list of ndarray
        Each (H, W) or (H, W, C), in native byte order.
    bit_depth : int
        Bits per sample actually used (12 for a 12-bit DICOM in uint16).
    modality : str
        DICOM Modality (``CT``, ``MR``...), ``volume`` for NIfTI, otherwise
        ``scan-rgb`` or ``scan-gray``.
    header : Any
        Format-specific header used when writing (pydicom Dataset, nibabel
        image, per-page TIFF settings, PNG/JPEG metadata).
    alpha : bool
        Whether the last channel is opacity rather than colour.
    """

    path: Path
    format: str
    frames: list[np.ndarray]
    bit_depth: int
    modality: str
    header: Any = field(default=None, repr=False)
    alpha: bool = False

    def value_range(self, index: int) -> PixelRange:
        """The stored value range of frame ``index``: its bit depth (0..4095 for 12-bit DICOM in uint16), or a float frame's own range."""
        return pixel_range(self.frames[index], bit_depth=self.bit_depth)


@dataclass(frozen=True)
class DeclaredSize:
    """What a file's header says it holds, read before any pixel is decoded.

    ``height`` and ``width`` are the first frame's; ``total`` counts the
    pixels of all frames when they differ in size (TIFF pages may).
    """

    frames: int
    height: int
    width: int
    total: int | None = None

    @property
    def pixels(self) -> int:
        """Pixels in all frames."""
        return self.total if self.total is not None else self.frames * self.height * self.width


def format_of(path: os.PathLike | str) -> str | None:
    """Format name for a file name, or None when the suffix is not an image."""
    name = str(path).lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def stem_of(path: os.PathLike | str) -> str:
    """File name without its image suffix (``x.nii.gz`` -> ``x``)."""
    name = PurePosixPath(str(path)).name
    lower = name.lower()
    for suffix in sorted((*FORMATS, *ARCHIVE_SUFFIXES), key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return PurePosixPath(name).stem


def is_archive_file(path: os.PathLike | str) -> bool:
    """True for ``.zip``, ``.tar``, ``.tar.gz`` and ``.tgz`` files."""
    return Path(path).is_file() and str(path).lower().endswith(ARCHIVE_SUFFIXES)


def max_pixels() -> int:
    """The largest file, in pixels of all its frames, that is decoded.

    ``ARCHIVE_RESTORE_MAX_PIXELS`` sets it (default :data:`DEFAULT_MAX_PIXELS`).
    """
    value = os.environ.get(MAX_PIXELS_ENV)
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{MAX_PIXELS_ENV} must be a whole number of pixels, got {value!r}") from None
    if limit < 1:
        raise ValueError(f"{MAX_PIXELS_ENV} must be at least 1, got {limit}")
    return limit


def check_declared_size(path: os.PathLike | str, size: DeclaredSize, limit: int | None = None) -> DeclaredSize:
    """``size`` if it is within ``limit`` (default :func:`max_pixels`), else :class:`UnreadableImageError`."""
    limit = max_pixels() if limit is None else limit
    if size.height < 1 or size.width < 1 or size.frames < 1:
        raise UnreadableImageError(path, f"declares an empty image ({size.frames} frames of {size.height} x {size.width})")
    if size.pixels > limit:
        frames = f"{size.frames} frames of " if size.frames > 1 else ""
        raise UnreadableImageError(
            path,
            f"declares {frames}{size.height} x {size.width} pixels ({size.pixels:,} in all), above the limit of {limit:,} ({MAX_PIXELS_ENV}); not decoded",
        )
    return size


def native_frame(frame: np.ndarray) -> np.ndarray:
    if frame.dtype.byteorder not in ("=", "|"):
        frame = frame.astype(frame.dtype.newbyteorder("="))
    return np.ascontiguousarray(frame)


def modality_for(frame: np.ndarray, alpha: bool = False) -> str:
    colour = frame.shape[2] - int(alpha) if frame.ndim == 3 else 1
    return "scan-rgb" if colour >= 3 else "scan-gray"
