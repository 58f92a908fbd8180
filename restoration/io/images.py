"""Any supported image file: read into an :class:`~restoration.io.base.ImageFile`, written back in its own format.

Each format is one module with a ``read(path, fh, limit)`` and a
``write(original, frames, tmp, derivation, scale)`` side by side;
:data:`FORMAT_MODULES` names them.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np

from restoration.io import dicom, jpeg, nifti, png, tiff
from restoration.io.base import ImageFile, UnreadableImageError, format_of, max_pixels, native_frame
from restoration.io.files import atomic_write, open_input, write_bytes_atomic

#: Format name -> the module that reads and writes it.
FORMAT_MODULES: dict[str, ModuleType] = {"png": png, "jpeg": jpeg, "tiff": tiff, "dicom": dicom, "nifti": nifti}


def read_image_file(path: os.PathLike | str, *, limit: int | None = None) -> ImageFile:
    """Read any supported image file into an :class:`ImageFile`.

    The size the header declares is checked against ``limit`` (default
    :func:`max_pixels`) before any pixel is decoded.

    Raises
    ------
    UnreadableImageError
        When the suffix is unknown, the declared size is above the limit, the
        content cannot be decoded, or the file's kind cannot be written back
        faithfully; the message names the file and the reason.
    OSError
        When the file cannot be opened or read (callers may retry).
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise UnreadableImageError(path, f"unsupported file type {''.join(path.suffixes) or '(none)'}")
    limit = max_pixels() if limit is None else limit
    with open_input(path) as fh:
        try:
            image = FORMAT_MODULES[fmt].read(path, fh, limit)
        except (UnreadableImageError, OSError, MemoryError):
            raise
        except Exception as exc:  # each library raises its own types for bad content
            raise UnreadableImageError(path, f"cannot read {fmt}: {type(exc).__name__}: {exc}") from exc
    image.frames = [native_frame(frame) for frame in image.frames]
    if not image.frames:
        raise UnreadableImageError(path, f"{fmt} file holds no image")
    for frame in image.frames:
        if frame.ndim not in (2, 3) or min(frame.shape[:2]) < 1:
            raise UnreadableImageError(path, f"unsupported frame shape {frame.shape}")
    return image


def write_image_file(
    original: ImageFile,
    frames: list[np.ndarray],
    path: os.PathLike | str,
    *,
    derivation: str,
) -> Path:
    """Write ``frames`` to ``path`` in ``original``'s format, dtype, photometric meaning and metadata.

    DICOM keeps its tags, gets ImageType DERIVED/SECONDARY, a
    DerivationDescription, a SourceImageSequence pointing at the original
    SOP Instance and new SOP Instance and Series Instance UIDs (the same
    new series UID for every file of one series and one derivation); it is
    written uncompressed, explicit VR little endian. NIfTI keeps its header
    and affine. TIFF keeps each page's photometric interpretation, samples,
    bit depth, compression and descriptive tags; PNG and JPEG keep their
    colour profile and metadata (a JPEG is re-encoded with its own
    quantisation tables, so known pixels change as little as a lossy format
    allows). A frame whose height or width changed (up- or downscaling)
    rescales DICOM PixelSpacing, the NIfTI affine and TIFF resolution.

    Parameters
    ----------
    original : ImageFile
        The file the frames came from.
    frames : list of ndarray
        New frames, as many as ``original.frames``, same dtype and channels,
        each the original's height and width times one common factor.
    path : path-like
        Destination; written atomically.
    derivation : str
        One line saying what produced these pixels (method and options): it
        goes into DICOM's DerivationDescription and the NIfTI description.

    Raises
    ------
    ValueError
        When the frames do not match the original (count, channels, shape).
    """
    if len(frames) != len(original.frames):
        raise ValueError(f"{original.path}: {len(frames)} frames given for {len(original.frames)}")
    frames = [np.asarray(f) for f in frames]
    scale = None
    for index, (new, old) in enumerate(zip(frames, original.frames)):
        channels_ok = new.ndim == old.ndim and new.shape[2:] == old.shape[2:]
        factor = (new.shape[0] / old.shape[0], new.shape[1] / old.shape[1]) if new.ndim >= 2 else None
        if not channels_ok or factor is None or (scale is not None and factor != scale):
            raise ValueError(f"{original.path}: frame {index} came back {new.shape} for {old.shape}")
        scale = factor
    frames = [f.astype(o.dtype, copy=False) for f, o in zip(frames, original.frames)]
    module = FORMAT_MODULES[original.format]
    if hasattr(module, "encode"):  # encoded in memory: one write, and the output's hash is known without reading it back
        return write_bytes_atomic(path, module.encode(original, frames, derivation, scale))
    return atomic_write(path, lambda tmp: module.write(original, frames, tmp, derivation, scale))
