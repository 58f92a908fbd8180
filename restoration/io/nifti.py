"""NIfTI: a volume read slice by slice along its last axis, written back with its header and affine."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path
from typing import IO, Any

import nibabel as nib
import numpy as np

from restoration.io.base import DeclaredSize, ImageFile, UnreadableImageError, check_declared_size


# NIfTI: read from the bytes of open_input (gzip decompressed as a stream,
# after the header's size has been checked).
def _nifti_class(header_bytes: bytes):
    sizeof = struct.unpack("<i", header_bytes[:4])[0]
    big = struct.unpack(">i", header_bytes[:4])[0]
    if 540 in (sizeof, big):
        return nib.Nifti2Image, nib.Nifti2Header
    if 348 in (sizeof, big):
        return nib.Nifti1Image, nib.Nifti1Header
    raise ValueError("not a NIfTI-1 or NIfTI-2 header")


def _nifti_stream(path: Path, fh: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=fh) if str(path).lower().endswith(".gz") else fh


def _nifti_size(path: Path, head: bytes) -> tuple[DeclaredSize, Any, int]:
    """Declared size, image class and the bytes the file needs (header, extensions and voxels)."""
    image_class, header_class = _nifti_class(head)
    header = header_class.from_fileobj(io.BytesIO(head), check=False)
    shape = tuple(int(s) for s in header.get_data_shape())
    needed = int(header.get_data_offset()) + int(np.prod(shape, dtype=np.int64)) * header.get_data_dtype().itemsize
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        raise UnreadableImageError(path, f"NIfTI with {len(shape)} dimensions {shape} is not supported (2-D or 3-D only)")
    frames = shape[2] if len(shape) == 3 else 1
    return DeclaredSize(frames, shape[0], shape[1] if len(shape) > 1 else 1), image_class, needed


def read(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
    stream = _nifti_stream(path, fh)
    head = stream.read(540)
    size, image_class, needed = _nifti_size(path, head)
    check_declared_size(path, size, limit)
    # Never more than the header asks for: a gzip stream may expand without end.
    img = image_class.from_bytes(head + stream.read(max(0, needed - len(head))))
    volume = np.asanyarray(img.dataobj)
    while volume.ndim > 3 and volume.shape[-1] == 1:
        volume = volume[..., 0]
    if volume.ndim == 2:
        frames = [volume]
    elif volume.ndim == 3:
        frames = [volume[..., k] for k in range(volume.shape[-1])]
    else:
        raise UnreadableImageError(path, f"NIfTI with {volume.ndim} dimensions {volume.shape} is not supported (2-D or 3-D only)")
    return ImageFile(path, "nifti", frames, volume.dtype.itemsize * 8, "volume", img)


def write(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    img = original.header
    volume = frames[0] if len(img.shape) == 2 else np.stack(frames, axis=-1)
    volume = volume.reshape(volume.shape[:2] + tuple(img.shape[2:]))  # trailing singleton axes
    header = img.header.copy()
    header.set_data_dtype(img.get_data_dtype())
    affine = img.affine.copy()
    if scale != (1.0, 1.0):
        affine[:3, 0] /= scale[0]
        affine[:3, 1] /= scale[1]
    out = type(img)(volume, affine, header)
    out.header["descrip"] = derivation.encode("ascii", "replace")[:79]
    nib.save(out, tmp)
