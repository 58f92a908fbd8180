"""Reading and writing archive images, staging archives, and the manifest.

An *archive* is a folder, a ``.zip`` or a ``.tar``/``.tar.gz``. Each file in
it holds one or more *items* (frames): the pages of a TIFF, the frames of a
DICOM, the slices of a NIfTI volume along its last axis. Files are read into
an :class:`ImageFile` and written back in their own format and bit depth with
:func:`write_image_file`. Every write is atomic (temp file, then rename).
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import nibabel as nib
import numpy as np
import pydicom
import pydicom.uid
import tifffile

from restoration import __version__

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

#: Limits for archive members (decompression bombs): bytes per member,
#: bytes in all, and the largest compressed-to-expanded ratio accepted.
MAX_MEMBER_BYTES = 4 * 2**30
MAX_TOTAL_BYTES = 64 * 2**30
MAX_COMPRESSION_RATIO = 200

MANIFEST_COLUMNS = [
    "item_id", "sha256", "path", "index", "format", "modality", "shape",
    "dtype", "bit_depth", "status", "reason",
]


class UnreadableImageError(ValueError):
    """A file that cannot be read as an image; the message names file and reason."""

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
        image, TIFF tag dict).
    """

    path: Path
    format: str
    frames: list[np.ndarray]
    bit_depth: int
    modality: str
    header: Any = field(default=None, repr=False)


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


def file_sha256(path: os.PathLike | str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
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


# ------------------------------------------------------------------- writing


def atomic_write(path: os.PathLike | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over.

    The temp file keeps ``path``'s suffixes, since some writers pick the
    format from them. Readers never see a half-written file, and a crash
    leaves at most a hidden ``.tmp-*`` file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


# ------------------------------------------------------------------- reading


def read_image_file(path: os.PathLike | str) -> ImageFile:
    """Read any supported image file into an :class:`ImageFile`.

    Raises
    ------
    UnreadableImageError
        When the suffix is unknown or the content cannot be decoded; the
        message names the file and the reason.
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise UnreadableImageError(path, f"unsupported file type {''.join(path.suffixes) or '(none)'}")
    reader = _READERS[fmt]
    try:
        image = reader(path)
    except UnreadableImageError:
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


def _modality_for(frame: np.ndarray) -> str:
    return "scan-rgb" if frame.ndim == 3 and frame.shape[2] >= 3 else "scan-gray"


def _read_raster(path: Path) -> ImageFile:
    data = np.fromfile(path, dtype=np.uint8)
    fmt = format_of(path)
    if fmt == "jpeg":
        # libjpeg decodes a truncated file into grey padding with only a warning.
        tail = data[-4096:].tobytes()
        if b"\xff\xd9" not in tail:
            raise UnreadableImageError(path, "truncated JPEG (no end-of-image marker)")
    frame = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise UnreadableImageError(path, f"not a decodable {fmt.upper()} (corrupt or truncated)")
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGBA)
    return ImageFile(path, fmt, [frame], frame.dtype.itemsize * 8, _modality_for(frame))


def _read_tiff(path: Path) -> ImageFile:
    frames, bits = [], []
    header: dict[str, Any] = {}
    with tifffile.TiffFile(path) as tif:
        for page in tif.pages:
            if page.photometric == tifffile.PHOTOMETRIC.PALETTE:
                raise UnreadableImageError(path, "palette (indexed-colour) TIFF is not supported")
            frame = page.asarray()
            if frame.ndim == 3 and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                frame = np.moveaxis(frame, 0, -1)
            frames.append(frame)
            bits.append(int(page.bitspersample))
        first = tif.pages[0]
        header["compressed"] = first.compression != tifffile.COMPRESSION.NONE
        tags = first.tags
        if "XResolution" in tags and "YResolution" in tags:
            header["resolution"] = (tags["XResolution"].value, tags["YResolution"].value)
            header["resolutionunit"] = tags["ResolutionUnit"].value if "ResolutionUnit" in tags else None
    return ImageFile(path, "tiff", frames, max(bits), _modality_for(frames[0]), header)


def _read_dicom(path: Path) -> ImageFile:
    try:
        ds = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as exc:
        raise UnreadableImageError(path, f"not a DICOM file ({exc})") from exc
    if "PixelData" not in ds:
        raise UnreadableImageError(path, "DICOM has no pixel data")
    pixels = ds.pixel_array
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1))
    if n_frames > 1:
        frames = [pixels[i] for i in range(n_frames)]
    else:
        frames = [pixels]
    if samples == 3 and ds.PhotometricInterpretation not in ("RGB", "YBR_FULL", "YBR_FULL_422"):
        raise UnreadableImageError(path, f"unsupported colour space {ds.PhotometricInterpretation}")
    bit_depth = int(ds.get("BitsStored", pixels.dtype.itemsize * 8))
    modality = str(ds.get("Modality", "OT") or "OT")
    return ImageFile(path, "dicom", frames, bit_depth, modality, ds)


def _read_nifti(path: Path) -> ImageFile:
    img = nib.load(path)
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


_READERS: dict[str, Callable[[Path], ImageFile]] = {
    "png": _read_raster,
    "jpeg": _read_raster,
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
    """Write ``frames`` to ``path`` in ``original``'s format, dtype and metadata.

    DICOM keeps its tags, gets ImageType DERIVED/SECONDARY, a
    DerivationDescription and new SOP Instance and Series Instance UIDs (the
    same new series UID for every file of one series and one derivation).
    NIfTI keeps its header and affine. A frame whose height or width changed
    (up- or downscaling) rescales DICOM PixelSpacing and the NIfTI affine.

    Parameters
    ----------
    original : ImageFile
        The file the frames came from.
    frames : list of ndarray
        New frames, as many as ``original.frames``, same dtype and channels.
    path : path-like
        Destination; written atomically.
    derivation : str
        One line saying what produced these pixels (goes into DICOM).
    """
    if len(frames) != len(original.frames):
        raise ValueError(f"{original.path}: {len(frames)} frames given for {len(original.frames)}")
    frames = [np.asarray(f).astype(o.dtype, copy=False) for f, o in zip(frames, original.frames)]
    scale = (
        frames[0].shape[0] / original.frames[0].shape[0],
        frames[0].shape[1] / original.frames[0].shape[1],
    )
    writer = _WRITERS[original.format]
    return atomic_write(path, lambda tmp: writer(original, frames, tmp, derivation, scale))


def _write_raster(original: ImageFile, frames, tmp: Path, derivation, scale) -> None:
    frame = frames[0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if original.format == "jpeg" else []
    ok, encoded = cv2.imencode(tmp.suffix, frame, params)
    if not ok:
        raise OSError(f"{tmp}: OpenCV could not encode {original.format}")
    tmp.write_bytes(encoded.tobytes())


def _write_tiff(original: ImageFile, frames, tmp: Path, derivation, scale) -> None:
    header = original.header or {}
    options: dict[str, Any] = {"compression": "zlib" if header.get("compressed") else None}
    if header.get("resolution") and scale == (1.0, 1.0):
        options["resolution"] = header["resolution"]
        if header.get("resolutionunit") is not None:
            options["resolutionunit"] = header["resolutionunit"]
    with tifffile.TiffWriter(tmp) as tif:
        for frame in frames:
            rgb = frame.ndim == 3 and frame.shape[2] in (3, 4)
            tif.write(
                frame,
                photometric="rgb" if rgb else "minisblack",
                extrasamples=("unassalpha",) if rgb and frame.shape[2] == 4 else None,
                software=f"archive-restoration {__version__}",
                metadata=None,
                **options,
            )


def _write_dicom(original: ImageFile, frames, tmp: Path, derivation: str, scale) -> None:
    ds = copy.deepcopy(original.header)
    pixels = np.stack(frames) if len(frames) > 1 else frames[0]
    if ds.file_meta.TransferSyntaxUID.is_compressed or not ds.file_meta.TransferSyntaxUID.is_little_endian:
        # Restored pixels are written uncompressed, explicit VR little endian.
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        for name in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
            if name in ds:
                del ds[name]
    # pydicom decodes YBR colour to RGB, so colour is written back as RGB.
    photometric = "RGB" if frames[0].ndim == 3 else str(ds.PhotometricInterpretation)
    ds.set_pixel_data(
        pixels.astype(pixels.dtype.newbyteorder("<")),
        photometric_interpretation=photometric,
        bits_stored=int(ds.get("BitsStored", pixels.dtype.itemsize * 8)),
        generate_instance_uid=False,
    )
    if scale != (1.0, 1.0) and "PixelSpacing" in ds:
        row, col = (float(v) for v in ds.PixelSpacing)
        ds.PixelSpacing = [f"{row / scale[0]:.6g}", f"{col / scale[1]:.6g}"]
    image_type = list(ds.get("ImageType", []) or [])
    image_type = ["DERIVED", "SECONDARY", *image_type[2:]] if image_type else ["DERIVED", "SECONDARY"]
    ds.ImageType = image_type
    ds.DerivationDescription = derivation[:1024]
    # Deterministic new UIDs: the same input and derivation give the same
    # UIDs, and every file of one series gets the same new series UID.
    old_series = str(ds.get("SeriesInstanceUID", ""))
    old_sop = str(ds.get("SOPInstanceUID", original.path.name))
    ds.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[old_series, derivation])
    ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[old_sop, derivation])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(tmp, enforce_file_format=True)


def _write_nifti(original: ImageFile, frames, tmp: Path, derivation, scale) -> None:
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
    "png": _write_raster,
    "jpeg": _write_raster,
    "tiff": _write_tiff,
    "dicom": _write_dicom,
    "nifti": _write_nifti,
}


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
            raise OSError(f"{path}: cannot encode mask")
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
    planes = [(m.reshape(m.shape[:2] + (-1,)) != 0).any(axis=2) for m in mask_file.frames]
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


def find_mask(masks_dir: os.PathLike | str, rel: str) -> Path | None:
    """Supplied mask for archive file ``rel``: ``masks_dir/<rel dir>/<stem>.*``.

    Any image format with that stem counts; PNG is preferred when several exist.
    """
    folder = Path(masks_dir) / PurePosixPath(rel).parent
    if not folder.is_dir():
        return None
    stem = stem_of(rel)
    found = sorted(p for p in folder.iterdir() if p.is_file() and format_of(p) and stem_of(p.name) == stem)
    found.sort(key=lambda p: format_of(p) != "png")
    return found[0] if found else None


# ------------------------------------------------------------------ archives


def list_files(root: os.PathLike | str, *, exclude: Iterable[os.PathLike | str] = ()) -> list[tuple[str, str | None]]:
    """Files under ``root`` as ``(relative posix path, problem or None)``, sorted.

    Hidden files and folders (a leading dot) are skipped, as is every folder in
    ``exclude``. A symbolic link that leads out of ``root``, or to something
    that is not a regular file, comes back with its problem.
    """
    root = Path(root).resolve()
    excluded = {Path(e).resolve() for e in exclude}
    found: list[tuple[str, str | None]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = here / name
            rel = full.relative_to(root).as_posix()
            problem = None
            if full.is_symlink():
                target = full.resolve()
                if root not in target.parents:
                    problem = "symbolic link leads outside the archive"
                elif not target.is_file():
                    problem = "symbolic link to something that is not a file"
            elif not full.is_file():
                problem = "not a regular file"
            found.append((rel, problem))
    return sorted(found)


def extract_archive(archive: os.PathLike | str, dest: os.PathLike | str) -> list[tuple[str, str]]:
    """Safely unpack a zip or tar archive into ``dest``.

    Members that would leave ``dest`` (absolute paths, ``..``), links,
    devices, and members that break the size limits are skipped, not
    extracted. Returns ``(member name, reason)`` for each skipped member.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if str(archive).lower().endswith(".zip"):
        return _extract_zip(archive, dest)
    return _extract_tar(archive, dest)


def _extract_zip(archive: Path, dest: Path) -> list[tuple[str, str]]:
    # zipfile has no extraction filter like tarfile.data_filter, so the
    # member checks below are written here.
    skipped, total = [], 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                skipped.append((name, "symbolic link inside the archive"))
                continue
            rel = PurePosixPath(name.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts:
                skipped.append((name, "member path leaves the archive folder"))
                continue
            if info.file_size > MAX_MEMBER_BYTES or info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + 2**20:
                skipped.append((name, f"member expands to {info.file_size} bytes (decompression bomb guard)"))
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                skipped.append((name, "archive expands past the total size limit"))
                continue
            target = inside(dest, rel.as_posix())
            with zf.open(info) as src:
                atomic_write(target, lambda tmp, src=src: _copy_stream(src, tmp))
    return skipped


def _extract_tar(archive: Path, dest: Path) -> list[tuple[str, str]]:
    skipped, total = [], 0
    with tarfile.open(archive) as tf:
        for member in tf:
            if member.isdir():
                continue
            try:
                member = tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                skipped.append((member.name, f"unsafe member: {exc}"))
                continue
            if not member.isfile():
                skipped.append((member.name, "link or special file inside the archive"))
                continue
            total += member.size
            if member.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                skipped.append((member.name, "member breaks the archive size limits"))
                continue
            target = inside(dest, member.name)
            src = tf.extractfile(member)
            atomic_write(target, lambda tmp, src=src: _copy_stream(src, tmp))
    return skipped


def _copy_stream(src, tmp: Path) -> None:
    with open(tmp, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            out.write(block)


# ------------------------------------------------------------------ manifest


def describe_file(root: os.PathLike | str, rel: str, *, problem: str | None = None) -> list[dict]:
    """Manifest rows for one archive file: one per frame, or one quarantined row.

    Parameters
    ----------
    root : path-like
        Archive folder.
    rel : str
        File path relative to ``root``.
    problem : str, optional
        A reason already known to quarantine the file (unsafe link...).
    """
    path = Path(root) / rel
    fmt = format_of(rel)
    base = {"path": rel, "format": fmt or "", "modality": "", "shape": "", "dtype": "", "bit_depth": 0}
    try:
        sha = file_sha256(path) if problem is None else ""
    except OSError as exc:
        sha, problem = "", f"cannot read file: {exc.strerror or exc}"
    if problem is not None:
        return [{**base, "item_id": f"{sha}:0", "sha256": sha, "index": 0, "status": "quarantined", "reason": problem}]
    try:
        image = read_image_file(path)
    except UnreadableImageError as exc:
        return [{**base, "item_id": f"{sha}:0", "sha256": sha, "index": 0, "status": "quarantined", "reason": exc.reason}]
    return [
        {
            **base,
            "item_id": f"{sha}:{index}",
            "sha256": sha,
            "index": index,
            "modality": image.modality,
            "shape": "x".join(str(s) for s in frame.shape),
            "dtype": str(frame.dtype),
            "bit_depth": image.bit_depth,
            "status": "ok",
            "reason": "",
        }
        for index, frame in enumerate(image.frames)
    ]


def write_manifest(rows: list[dict], out_dir: os.PathLike | str) -> tuple[Path, Path]:
    """Write manifest rows as ``manifest.parquet`` and ``manifest.csv``."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS).sort_values(["path", "index"], kind="stable")
    out_dir = Path(out_dir)
    parquet = atomic_write(out_dir / "manifest.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    csv = atomic_write(out_dir / "manifest.csv", lambda tmp: frame.to_csv(tmp, index=False))
    return parquet, csv
