"""JPEG: decoded by OpenCV, re-encoded with the original's tables and metadata segments."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from restoration.io.base import DeclaredSize, ImageFile, UnreadableImageError, check_declared_size, modality_for

# JPEG: decoded by OpenCV. EXIF (orientation), ICC, XMP, IPTC and comment
# segments are copied into the re-encoded file, which uses the original's
# quantisation tables and chroma subsampling (Pillow), so re-encoding
# changes as few known pixels as a lossy format allows.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_segments(path: Path, data: bytes) -> tuple[DeclaredSize, list[bytes]]:
    """Declared size and the metadata segments (APP1-APP13, APP15, COM) before the image data."""
    if data[:2] != b"\xff\xd8":
        raise UnreadableImageError(path, "not a JPEG file (no start-of-image marker)")
    pos, kept, size = 2, [], None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise UnreadableImageError(path, "not a decodable JPEG (corrupt marker)")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        if marker in _JPEG_SOF and length >= 7:
            height, width = struct.unpack(">HH", segment[5:9])
            size = DeclaredSize(1, height, width)
        elif (0xE1 <= marker <= 0xED or marker in (0xEF, 0xFE)) and marker != 0xEE:
            kept.append(segment)  # APP14 (Adobe) describes the old colour transform: not copied
        if marker == 0xDA:  # start of scan: no more headers
            break
        pos += 2 + length
    if size is None:
        raise UnreadableImageError(path, "not a decodable JPEG (no frame header)")
    return size, kept


def read(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
    from PIL import Image, JpegImagePlugin

    data = fh.read()
    size, kept = _jpeg_segments(path, data)
    check_declared_size(path, size, limit)
    # libjpeg decodes a truncated file into grey padding with only a warning.
    if b"\xff\xd9" not in data[-4096:]:
        raise UnreadableImageError(path, "truncated JPEG (no end-of-image marker)")
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise UnreadableImageError(path, "not a decodable JPEG (corrupt or truncated)")
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    with Image.open(io.BytesIO(data)) as src:  # header only: tables and subsampling
        tables = {"qtables": getattr(src, "quantization", None), "subsampling": JpegImagePlugin.get_sampling(src)}
    return ImageFile(path, "jpeg", [frame], 8, modality_for(frame), {"segments": kept, **tables})


def _encode_jpeg(frame: np.ndarray, header: dict) -> bytes:
    from PIL import Image

    options: dict[str, Any] = {"quality": 95}
    tables = header.get("qtables") or {}
    if tables and len(tables) == (1 if frame.ndim == 2 else 2):
        options = {"qtables": header["qtables"]}
        if frame.ndim == 3 and header.get("subsampling", -1) >= 0:
            options["subsampling"] = header["subsampling"]
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buffer, "JPEG", **options)
    encoded = buffer.getvalue()
    segments = b"".join(header.get("segments", []))
    if not segments:
        return encoded
    at = 2  # after SOI, and after the encoder's own JFIF APP0 if it wrote one
    if encoded[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", encoded[4:6])[0]
    return encoded[:at] + segments + encoded[at:]


def encode(original: ImageFile, frames, derivation: str, scale) -> bytes:
    """The bytes of the re-encoded JPEG: the original's tables and metadata segments."""
    return _encode_jpeg(frames[0], original.header or {})


def write(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    tmp.write_bytes(encode(original, frames, derivation, scale))
