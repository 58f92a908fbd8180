"""DICOM: read with its tags and bit depth, written back as a DERIVED instance that points at its original."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import IO

import numpy as np
import pydicom
import pydicom.dataset
import pydicom.sequence
import pydicom.uid

from restoration.io.base import DeclaredSize, ImageFile, UnreadableImageError, check_declared_size

# DICOM
_DICOM_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"}


def _dicom_size(path: Path, ds) -> DeclaredSize:
    return DeclaredSize(int(ds.get("NumberOfFrames", 1) or 1), int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))


def read(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
    try:
        ds = pydicom.dcmread(fh)  # the stored bytes only: pixels are decoded once the size is known to be safe
    except pydicom.errors.InvalidDicomError as exc:
        raise UnreadableImageError(path, f"not a DICOM file ({exc})") from exc
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise UnreadableImageError(path, "DICOM with floating-point pixel data is not supported")
    if "PixelData" not in ds:
        raise UnreadableImageError(path, "DICOM has no pixel data")
    check_declared_size(path, _dicom_size(path, ds), limit)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    samples = int(ds.get("SamplesPerPixel", 1))
    if photometric == "PALETTE COLOR":
        raise UnreadableImageError(path, "PALETTE COLOR DICOM: its pixels are colour-table indices, not intensities, and would be damaged by restoration")
    if samples == 1 and photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise UnreadableImageError(path, f"unsupported photometric interpretation {photometric or '(none)'}")
    if samples == 3 and photometric not in _DICOM_COLOUR:
        raise UnreadableImageError(path, f"unsupported colour space {photometric}")
    if samples not in (1, 3):
        raise UnreadableImageError(path, f"DICOM with {samples} samples per pixel is not supported")
    if int(ds.get("BitsAllocated", 8)) == 1:
        raise UnreadableImageError(path, "DICOM with 1-bit pixels (a binary map, e.g. a segmentation) is not restored")
    pixels = ds.pixel_array
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    frames = [pixels[i] for i in range(n_frames)] if n_frames > 1 else [pixels]
    bit_depth = int(ds.get("BitsStored", pixels.dtype.itemsize * 8))
    modality = str(ds.get("Modality", "OT") or "OT")
    return ImageFile(path, "dicom", frames, bit_depth, modality, ds)


def write(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    # A copy of every element but the old pixel data (which may be large, and is replaced).
    source = original.header
    ds = pydicom.dataset.FileDataset(str(original.path), {}, file_meta=copy.deepcopy(getattr(source, "file_meta", None) or pydicom.dataset.FileMetaDataset()))
    for element in source:
        if element.keyword not in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            ds.add(copy.deepcopy(element))
    pixels = np.stack(frames) if len(frames) > 1 else frames[0]
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.preamble = getattr(source, "preamble", None) or b"\x00" * 128
    colour = frames[0].ndim == 3
    # pydicom decodes YBR colour to RGB, so colour is written back as RGB.
    if colour:
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    bits_allocated = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = min(int(ds.get("BitsStored", bits_allocated)), bits_allocated)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if np.issubdtype(pixels.dtype, np.signedinteger) else 0
    ds.SamplesPerPixel = 3 if colour else 1
    ds.Rows, ds.Columns = frames[0].shape[:2]
    if len(frames) > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = len(frames)
    # Written as raw bytes: pydicom's set_pixel_data refuses 32-bit data (RT dose).
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()
    ds["PixelData"].VR = "OB" if bits_allocated == 8 else "OW"
    if scale != (1.0, 1.0) and "PixelSpacing" in ds:
        row, col = (float(v) for v in ds.PixelSpacing)
        ds.PixelSpacing = [f"{row / scale[0]:.6g}", f"{col / scale[1]:.6g}"]
    image_type = list(ds.get("ImageType", []) or [])
    ds.ImageType = ["DERIVED", "SECONDARY", *image_type[2:]] if image_type else ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = derivation[:1024]
    # The original this one was derived from.
    old_sop = str(ds.get("SOPInstanceUID", "") or "")
    if old_sop and "SOPClassUID" in ds:
        source = pydicom.dataset.Dataset()
        source.ReferencedSOPClassUID = ds.SOPClassUID
        source.ReferencedSOPInstanceUID = old_sop
        ds.SourceImageSequence = pydicom.sequence.Sequence([source])
    # Deterministic new UIDs: the same input and derivation give the same
    # UIDs, and every file of one series gets the same new series UID.
    old_series = str(ds.get("SeriesInstanceUID", ""))
    ds.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[old_series, derivation])
    ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[old_sop or original.path.name, derivation])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "SOPClassUID" in ds:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    # force_encoding: a big-endian or implicit-VR original is re-encoded as explicit VR little endian.
    pydicom.dcmwrite(tmp, ds, implicit_vr=False, little_endian=True, force_encoding=True)
