"""TIFF: every page read and written back with its photometric meaning, samples, bit depth, compression and tags."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np
import tifffile

from restoration import __version__
from restoration.io.base import DeclaredSize, ImageFile, UnreadableImageError, check_declared_size

# TIFF: each page is written back with its own photometric interpretation,
# samples, extra samples, bit depth, tiling, compression and descriptive
# tags (ICC profile, GeoTIFF keys, artist, copyright...).
_TIFF_STRUCTURE_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 296, 305,
    317, 320, 322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 512, 513, 514, 515, 517, 518, 519, 520, 521,
    530, 531, 532, 270, 34665, 34853, 40965, 32997, 32998, 50838, 50839,
}  # fmt: skip
#: Lossless codecs a page is rewritten with as it was; other pages (JPEG...) get deflate.
_TIFF_LOSSLESS = {"NONE", "LZW", "ADOBE_DEFLATE", "DEFLATE", "PACKBITS", "ZSTD", "LZMA"}
_PHOTOMETRIC_KEPT = {"MINISBLACK", "MINISWHITE", "RGB", "SEPARATED"}


def _tiff_size(path: Path, pages) -> DeclaredSize:
    if not pages:
        raise UnreadableImageError(path, "tiff file holds no image")
    total = sum(int(p.imagelength) * int(p.imagewidth) for p in pages)
    return DeclaredSize(len(pages), int(pages[0].imagelength), int(pages[0].imagewidth), total)


def _tiff_page_header(path: Path, page) -> dict[str, Any]:
    photometric = tifffile.PHOTOMETRIC(page.photometric).name if page.photometric is not None else "MINISBLACK"
    compression = tifffile.COMPRESSION(page.compression).name if page.compression is not None else "NONE"
    if photometric == "PALETTE":
        raise UnreadableImageError(path, "palette (indexed-colour) TIFF is not supported")
    if photometric == "YCBCR" and compression == "JPEG":
        photometric = "RGB"  # decoded to RGB by the JPEG codec, and written back as RGB
    if photometric not in _PHOTOMETRIC_KEPT:
        raise UnreadableImageError(path, f"TIFF with photometric interpretation {photometric} is not supported (it would not be written back faithfully)")
    if page.sampleformat is not None and int(page.sampleformat) in (5, 6):  # complex integer / complex float
        raise UnreadableImageError(path, "complex-valued TIFF is not supported")
    tags = []
    for tag in page.tags.values():
        if tag.code in _TIFF_STRUCTURE_TAGS or tag.code >= 65000:
            continue
        value = tag.value
        if hasattr(value, "value") and not isinstance(value, (bytes, str)):  # enums
            value = value.value
        if isinstance(value, dict):
            continue  # a private structure tifffile parsed; it cannot be written back as it was
        count = 0 if int(tag.dtype) == 2 else tag.count  # ASCII: tifffile counts the terminator itself
        tags.append((tag.code, int(tag.dtype), count, value, True))
    extrasamples = tuple(int(e) for e in (page.extrasamples or ()))
    description = page.tags[270].value if 270 in page.tags else None
    resolution = None
    if 282 in page.tags and 283 in page.tags:
        unit = int(page.tags[296].value) if 296 in page.tags else None
        resolution = (page.tags[282].value, page.tags[283].value, unit)
    return {
        "photometric": photometric.lower(),
        "planarconfig": "separate" if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE else "contig",
        "bitspersample": int(page.bitspersample),
        "bilevel": int(page.bitspersample) == 1,
        "extrasamples": extrasamples,
        "compression": compression if compression in _TIFF_LOSSLESS else "ADOBE_DEFLATE",
        "predictor": int(page.predictor) if page.predictor and compression in _TIFF_LOSSLESS else None,
        "tile": (page.tilelength, page.tilewidth) if page.is_tiled else None,
        "description": description if isinstance(description, str) else None,
        "resolution": resolution,
        "tags": tags,
    }


def read(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
    frames = []
    with tifffile.TiffFile(fh) as tif:
        pages = list(tif.pages)
        check_declared_size(path, _tiff_size(path, pages), limit)
        headers = [_tiff_page_header(path, page) for page in pages]
        for page, header in zip(pages, headers):
            frame = page.asarray()
            if frame.ndim == 3 and header["planarconfig"] == "separate":
                frame = np.moveaxis(frame, 0, -1)
            if header["bilevel"]:
                frame = np.where(frame, 255, 0).astype(np.uint8)  # restored as 8-bit, written back as 1-bit
            elif header["bitspersample"] < 8 and frame.dtype == np.uint8:
                frame = frame * np.uint8(255 // (2 ** header["bitspersample"] - 1))  # 2/4-bit on the 8-bit scale
            frames.append(frame)
    first = headers[0]
    alpha = bool(first["extrasamples"]) and first["extrasamples"][-1] in (1, 2)
    bits = max(8 if h["bitspersample"] < 8 else h["bitspersample"] for h in headers)
    modality = "scan-rgb" if first["photometric"] in ("rgb", "separated") else "scan-gray"
    return ImageFile(path, "tiff", frames, bits, modality, {"pages": headers}, alpha)


def write(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    pages = (original.header or {}).get("pages") or [{}] * len(frames)
    with tifffile.TiffWriter(tmp, bigtiff=sum(f.nbytes for f in frames) > 2**32 - 2**25) as tif:
        for frame, page in zip(frames, pages):
            photometric = page.get("photometric") or ("rgb" if frame.ndim == 3 and frame.shape[2] in (3, 4) else "minisblack")
            compression = page.get("compression", "NONE")
            options: dict[str, Any] = {
                "photometric": photometric,
                "compression": None if compression == "NONE" else tifffile.COMPRESSION[compression],
                "software": f"archive-restoration {__version__}",
                "metadata": None,
                "extratags": page.get("tags", []),
            }
            if page.get("predictor") and options["compression"]:
                options["predictor"] = page["predictor"]
            if page.get("description"):
                options["description"] = page["description"]
            if page.get("tile") and scale == (1.0, 1.0):
                options["tile"] = page["tile"]
            if frame.ndim == 3:
                options["planarconfig"] = page.get("planarconfig", "contig")
                if page.get("extrasamples"):
                    options["extrasamples"] = page["extrasamples"]
                data = np.moveaxis(frame, -1, 0) if options["planarconfig"] == "separate" else frame
            else:
                data = frame
            bits = page.get("bitspersample", data.dtype.itemsize * 8)
            if page.get("bilevel"):
                data = data >= 128
            elif bits not in (8, 16, 32, 64):
                if bits < 8 and data.dtype == np.uint8:
                    data = np.rint(data / (255 / (2**bits - 1))).astype(np.uint8)
                # tifffile packs such samples only uncompressed (lossless either way).
                options.update(bitspersample=bits, compression=None, predictor=None)
            if page.get("resolution"):
                x, y, unit = page["resolution"]
                sx, sy = (scale[1], scale[0]) if scale else (1.0, 1.0)
                options["resolution"] = (_rational(x) * sx, _rational(y) * sy)
                if unit is not None:
                    options["resolutionunit"] = unit
            tif.write(data, **options)


def _rational(value) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else float(value[0])
    return float(value)
