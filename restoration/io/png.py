"""PNG: read with its metadata chunks, written back with them."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import IO

import imagecodecs
import numpy as np

from restoration.io.base import DeclaredSize, ImageFile, UnreadableImageError, check_declared_size, modality_for

# PNG: decoded by libpng through imagecodecs, which keeps gray+alpha and 16
# bits (OpenCV expands gray+alpha to four channels). Metadata chunks are
# parsed here because no installed library copies them between files.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Ancillary chunks copied into a restored PNG: colour management, physical
#: size and text. Chunks tied to the old pixel encoding (palette, sBIT,
#: tRNS, bKGD, hIST) or to its time (tIME) are not.
PNG_KEPT_CHUNKS = (b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"cICP", b"pHYs", b"tEXt", b"zTXt", b"iTXt", b"eXIf")


def _png_chunks(path: Path, data: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, payload)`` of each chunk up to the first IDAT."""
    if not data.startswith(_PNG_SIGNATURE):
        raise UnreadableImageError(path, "not a decodable PNG (corrupt or truncated: bad signature)")
    chunks, pos = [], len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            break
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) < 13:
        raise UnreadableImageError(path, "not a decodable PNG (corrupt or truncated: no image header)")
    return chunks


def read(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
    data = fh.read()
    chunks = _png_chunks(path, data)
    width, height = struct.unpack(">II", chunks[0][1][:8])
    check_declared_size(path, DeclaredSize(1, height, width), limit)
    if any(kind == b"acTL" for kind, _ in chunks):
        raise UnreadableImageError(path, "animated PNG (APNG): only still images are restored")
    try:
        frame = imagecodecs.png_decode(data)
    except imagecodecs.PngError as exc:
        raise UnreadableImageError(path, f"not a decodable PNG (corrupt or truncated: {exc})") from None
    alpha = frame.ndim == 3 and frame.shape[2] in (2, 4)
    kept = [(kind, payload) for kind, payload in chunks if kind in PNG_KEPT_CHUNKS]
    return ImageFile(path, "png", [frame], frame.dtype.itemsize * 8, modality_for(frame, alpha), {"chunks": kept}, alpha)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _encode_png(frame: np.ndarray, kept: list[tuple[bytes, bytes]]) -> bytes:
    encoded = imagecodecs.png_encode(np.ascontiguousarray(frame))
    if not kept:
        return encoded
    # After the signature and IHDR (8 + 25 bytes), before everything else.
    at = len(_PNG_SIGNATURE) + 25
    return encoded[:at] + b"".join(_png_chunk(k, p) for k, p in kept) + encoded[at:]


def encode(original: ImageFile, frames, derivation: str, scale) -> bytes:
    """The bytes of the restored PNG: the frame with the original's kept chunks."""
    return _encode_png(frames[0], (original.header or {}).get("chunks", []))


def write(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    tmp.write_bytes(encode(original, frames, derivation, scale))
