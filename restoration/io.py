"""Reading and writing image files, faithfully, in bounded memory.

Each file holds one or more *items* (frames): the pages of a TIFF, the
frames of a DICOM, the slices of a NIfTI volume along its last axis. Files
are read into an :class:`ImageFile` and written back in their own format,
bit depth and photometric meaning with :func:`write_image_file`; what
cannot be written back faithfully is refused when it is read, with the
reason. The size a file declares in its header is checked against
:func:`max_pixels` before anything is decoded. Every write is atomic (a
temp file with a name no user would choose, then a rename) and respects
the process umask.

Every read of a file's bytes goes through :func:`open_input` and every
write is committed by :func:`commit`: one place each where I/O enters and
leaves the library.
"""

from __future__ import annotations

import copy
import errno
import gzip
import hashlib
import io
import os
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import cv2
import imagecodecs
import nibabel as nib
import numpy as np
import pydicom
import pydicom.dataset
import pydicom.sequence
import pydicom.uid
import tifffile

from restoration import __version__
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


#: Every temp file of :func:`atomic_write` has this in its name, with the
#: writing process's id: ``.<name>.arestore-tmp-<pid>-<random><suffix>``.
TEMP_MARKER = ".arestore-tmp-"


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


# --------------------------------------------------------------------- names


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
            f"declares {frames}{size.height} x {size.width} pixels ({size.pixels:,} in all), above the limit of "
            f"{limit:,} ({MAX_PIXELS_ENV}); not decoded",
        )
    return size


# ------------------------------------------------------------------ file I/O


def open_input(path: os.PathLike | str) -> IO[bytes]:
    """Open a file for reading: every read of an input's bytes in the library goes through here."""
    return open(path, "rb")


def commit(tmp: os.PathLike | str, path: os.PathLike | str) -> None:
    """Rename a finished temp file over its destination: every write in the library ends here."""
    os.replace(tmp, path)


#: errno values of OS errors that may well succeed when tried again (a
#: flaky disk or network share). A full disk, a read-only folder, a missing
#: file or a refused permission are not among them: retrying cannot help.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EIO", "EAGAIN", "EINTR", "EBUSY", "ETIMEDOUT", "ESTALE", "ECONNRESET", "ECONNABORTED",
                 "ENETDOWN", "ENETUNREACH", "EHOSTUNREACH", "ENOLCK", "EREMOTEIO", "ENOBUFS")
    if hasattr(errno, name)
)  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an OS error worth trying again (see :data:`TRANSIENT_ERRNOS`)."""
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def file_sha256(path: os.PathLike | str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open_input(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing any path that would leave ``root``."""
    root = Path(root).resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{rel}: path leaves the output folder {root}")
    return target


def _create_temp(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file ``folder/<prefix><random><suffix>``, created with mode 0o666 so that the kernel applies the umask.

    (``tempfile.mkstemp`` makes 0o600 files, which would then need the umask
    read back and a chmod per output.)
    """
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder / prefix))


def atomic_write(path: os.PathLike | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over.

    The temp file keeps ``path``'s suffixes, since some writers pick the
    format from them, and carries :data:`TEMP_MARKER` and this process's id
    in its name, so that only such files are ever swept up after a crash.
    The finished file gets the mode a new file gets under the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    prefix = f".{path.name[:80]}{TEMP_MARKER}{os.getpid()}-"
    tmp = _create_temp(path.parent, prefix, suffix)
    try:
        write(tmp)
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


# ------------------------------------------------------------------- reading


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
            image = _READERS[fmt](path, fh, limit)
        except (UnreadableImageError, OSError, MemoryError):
            raise
        except Exception as exc:  # each library raises its own types for bad content
            raise UnreadableImageError(path, f"cannot read {fmt}: {type(exc).__name__}: {exc}") from exc
    image.frames = [_native(frame) for frame in image.frames]
    if not image.frames:
        raise UnreadableImageError(path, f"{fmt} file holds no image")
    for frame in image.frames:
        if frame.ndim not in (2, 3) or min(frame.shape[:2]) < 1:
            raise UnreadableImageError(path, f"unsupported frame shape {frame.shape}")
    return image


def _native(frame: np.ndarray) -> np.ndarray:
    if frame.dtype.byteorder not in ("=", "|"):
        frame = frame.astype(frame.dtype.newbyteorder("="))
    return np.ascontiguousarray(frame)


def _modality_for(frame: np.ndarray, alpha: bool = False) -> str:
    colour = frame.shape[2] - int(alpha) if frame.ndim == 3 else 1
    return "scan-rgb" if colour >= 3 else "scan-gray"


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


def _read_png(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
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
    return ImageFile(path, "png", [frame], frame.dtype.itemsize * 8, _modality_for(frame, alpha), {"chunks": kept}, alpha)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _encode_png(frame: np.ndarray, kept: list[tuple[bytes, bytes]]) -> bytes:
    encoded = imagecodecs.png_encode(np.ascontiguousarray(frame))
    if not kept:
        return encoded
    # After the signature and IHDR (8 + 25 bytes), before everything else.
    at = len(_PNG_SIGNATURE) + 25
    return encoded[:at] + b"".join(_png_chunk(k, p) for k, p in kept) + encoded[at:]


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


def _read_jpeg(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
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
    return ImageFile(path, "jpeg", [frame], 8, _modality_for(frame), {"segments": kept, **tables})


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


def _read_tiff(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
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


# DICOM
_DICOM_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"}


def _dicom_size(path: Path, ds) -> DeclaredSize:
    return DeclaredSize(int(ds.get("NumberOfFrames", 1) or 1), int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))


def _read_dicom(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
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


def _read_nifti(path: Path, fh: IO[bytes], limit: int) -> ImageFile:
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


_READERS: dict[str, Callable[[Path, IO[bytes], int], ImageFile]] = {
    "png": _read_png,
    "jpeg": _read_jpeg,
    "tiff": _read_tiff,
    "dicom": _read_dicom,
    "nifti": _read_nifti,
}


# ------------------------------------------------------------ writing back


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
    writer = _WRITERS[original.format]
    return atomic_write(path, lambda tmp: writer(original, frames, tmp, derivation, scale))


def _write_png(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    header = original.header or {}
    tmp.write_bytes(_encode_png(frames[0], header.get("chunks", [])))


def _write_jpeg(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    tmp.write_bytes(_encode_jpeg(frames[0], original.header or {}))


def _write_tiff(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
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


def _write_dicom(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
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


def _write_nifti(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
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


_WRITERS = {
    "png": _write_png,
    "jpeg": _write_jpeg,
    "tiff": _write_tiff,
    "dicom": _write_dicom,
    "nifti": _write_nifti,
}


# --------------------------------------------------------------------- masks


def write_mask_file(masks: list[np.ndarray], path: os.PathLike | str) -> Path:
    """Write damage masks (nonzero = damaged) as 0/255 uint8.

    One mask goes to a PNG; several (one per frame of a multi-frame file) go
    to a multi-page TIFF, whatever suffix ``path`` has.
    """
    path = Path(path)
    planes = [np.where(np.asarray(m) > 0, 255, 0).astype(np.uint8) for m in masks]
    if len(planes) == 1:
        path = path.with_suffix(".png")
        ok, encoded = cv2.imencode(".png", planes[0])
        if not ok:
            raise OSError(errno.EIO, f"{path}: cannot encode mask")
        return write_bytes_atomic(path, encoded.tobytes())
    path = path.with_suffix(".tif")
    return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, np.stack(planes), photometric="minisblack", compression="zlib"))


def read_mask_file(path: os.PathLike | str, image: ImageFile) -> list[np.ndarray]:
    """Masks for each frame of ``image`` from a mask file (nonzero = damaged).

    A single-frame mask applies to every frame; otherwise the mask file must
    have one frame per image frame. Colour masks count any nonzero channel.

    Raises
    ------
    ValueError
        When the frame count or the shape does not match the image.
    """
    mask_file = read_image_file(path)
    planes = [m != 0 if m.ndim == 2 else (m != 0).any(axis=2) for m in mask_file.frames]
    del mask_file  # the decoded mask image is not needed once it is boolean
    if len(planes) == 1:
        planes = planes * len(image.frames)
    if len(planes) != len(image.frames):
        raise ValueError(f"{image.path}: mask {path} has {len(planes)} frames for {len(image.frames)} image frames")
    for mask, frame in zip(planes, image.frames):
        if mask.shape != frame.shape[:2]:
            raise ValueError(
                f"{image.path}: mask {path} is {mask.shape[0]}x{mask.shape[1]} "
                f"but the image is {frame.shape[0]}x{frame.shape[1]}"
            )
    return planes


class MaskIndex:
    """The supplied masks under a folder, listed once: ``masks_dir/<rel dir>/<stem>.*`` by archive path.

    Pairing 10,000 files with their masks reads the folder tree once
    (one ``scandir`` per subfolder), rather than listing a folder per file.
    Any image format with the file's stem counts; PNG is preferred when
    several exist, then the first name in sorted order.
    """

    def __init__(self, masks_dir: os.PathLike | str | None):
        self.root = Path(masks_dir) if masks_dir else None
        self._by_key: dict[tuple[str, str], Path] = {}
        if self.root is None or not self.root.is_dir():
            return
        for folder, subfolders, names in os.walk(self.root):
            subfolders.sort()
            parent = PurePosixPath(Path(folder).relative_to(self.root).as_posix())
            for name in sorted(names):
                fmt = format_of(name)
                if fmt is None:
                    continue
                key = (str(parent), stem_of(name))
                known = self._by_key.get(key)
                if known is None or (format_of(known) != "png" and fmt == "png"):
                    path = Path(folder) / name
                    if path.is_file():
                        self._by_key[key] = path

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, rel: str) -> Path | None:
        """The mask of archive file ``rel``, or None."""
        rel_path = PurePosixPath(rel)
        return self._by_key.get((str(rel_path.parent), stem_of(rel_path.name)))


def find_mask(masks_dir: os.PathLike | str, rel: str) -> Path | None:
    """Supplied mask for archive file ``rel``: ``masks_dir/<rel dir>/<stem>.*`` (one lookup; :class:`MaskIndex` for many).

    Any image format with that stem counts; PNG is preferred when several exist.
    """
    folder = Path(masks_dir) / PurePosixPath(rel).parent
    if not folder.is_dir():
        return None
    stem = stem_of(rel)
    found = sorted(p for p in folder.iterdir() if p.is_file() and format_of(p) and stem_of(p.name) == stem)
    found.sort(key=lambda p: format_of(p) != "png")
    return found[0] if found else None
