"""A hostile archive built from real images that ship in packages, with what must become of each entry.

:func:`build_corpus` writes a folder of every kind of input the pipeline
meets: good files of every format and layout (restored, and checked to be
restored faithfully), bad ones (refused, with a reason), links, special
files, hidden entries (left out, by name) and files declaring sizes that
must never be decoded. :func:`build_archives` writes hostile zip and tar
files. Each entry carries its expected outcome; the corpus test and
``bench/reliability.py`` run the command line over them and compare.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import pydicom
import tifffile
from PIL import Image
from pydicom.data import get_testdata_file

ICC = Path(pydicom.__file__).parent / "data" / "test_files" / "crayons.icc"


@dataclass
class Case:
    """One entry of the corpus and what must become of it.

    ``expect`` is ``restored``, ``refused`` (failed or quarantined, with a
    reason containing ``reason``) or ``left-out`` (named, with ``reason``).
    ``check(original, restored)`` raises AssertionError when a restored file
    is not faithful.
    """

    rel: str
    expect: str
    reason: str = ""
    check: Callable[[Path, Path], None] | None = field(default=None, repr=False)


# ----------------------------------------------------------------- pictures


def _pictures() -> dict[str, np.ndarray]:
    import skimage.data as data

    return {
        "camera": np.ascontiguousarray(data.camera()[100:292, 120:376]),
        "astronaut": np.ascontiguousarray(data.astronaut()[30:222, 150:406]),
        "coins": np.ascontiguousarray(data.coins()[:192, :256]),
        "moon": np.ascontiguousarray(data.moon()[100:292, 100:356]),
        "text": np.ascontiguousarray(data.text()),
    }


def _png(image: np.ndarray) -> bytes:
    return imagecodecs.png_encode(np.ascontiguousarray(image))


def _zlib_of_zeros(size: int, block: int = 1 << 25) -> bytes:
    """A zlib stream that inflates to ``size`` zero bytes, made without compressing them all.

    A block of zeros is deflated once and ends in a full flush (no
    reference to earlier data), so its bytes can be repeated; the adler32 of
    n zeros is ``(n mod 65521) << 16 | 1``. Compressing 1 GB outright took 7 s
    per test.
    """

    def deflated(n: int) -> bytes:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        return comp.compress(bytes(n)) + comp.flush(zlib.Z_FULL_FLUSH)

    whole, rest = divmod(size, block)
    body = (deflated(block) * whole if whole else b"") + (deflated(rest) if rest else b"")
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return b"\x78\xda" + body + end + struct.pack(">I", (size % 65521) << 16 | 1)


def png_declaring(width: int, height: int) -> bytes:
    """A valid 8-bit gray PNG of zeros, written row by row: a small file declaring a huge image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    idat = _zlib_of_zeros((width + 1) * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_declaring(width: int, height: int, rows_per_strip: int = 16) -> bytes:
    """A classic TIFF whose deflate strips all point at one small blob."""
    blob = zlib.compress(b"\x00" * (width * rows_per_strip), 9)
    strips = (height + rows_per_strip - 1) // rows_per_strip
    offsets, counts = 8 + len(blob), 8 + len(blob) + 4 * strips
    ifd = counts + 4 * strips
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1), (273, 4, strips, offsets),
            (277, 3, 1, 1), (278, 4, 1, rows_per_strip), (279, 4, strips, counts)]  # fmt: skip
    out = io.BytesIO()
    out.write(b"II*\x00" + struct.pack("<I", ifd) + blob)
    out.write(struct.pack(f"<{strips}I", *([8] * strips)) + struct.pack(f"<{strips}I", *([len(blob)] * strips)))
    out.write(struct.pack("<H", len(tags)))
    for tag, kind, count, value in tags:
        out.write(struct.pack("<HHIHH", tag, kind, count, value, 0) if kind == 3 else struct.pack("<HHII", tag, kind, count, value))
    out.write(struct.pack("<I", 0))
    return out.getvalue()


# ------------------------------------------------------------------- checks


def _read(path: Path):
    from restoration.io import read_image_file

    return read_image_file(path)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    from restoration.metrics import psnr
    from restoration.pixels import pixel_range

    finite = np.isfinite(a) & np.isfinite(b) if np.issubdtype(a.dtype, np.floating) else np.ones(a.shape, bool)
    return psnr(a[finite], b[finite], data_range=pixel_range(a).span)


def faithful(original: Path, restored: Path) -> None:
    """Same format, frames, shapes, dtype and alpha; pixels restored, not garbled (within 22 dB of the clean input)."""
    before, after = _read(original), _read(restored)
    assert after.format == before.format, (after.format, before.format)
    assert len(after.frames) == len(before.frames)
    assert after.alpha == before.alpha and after.bit_depth == before.bit_depth
    for a, b in zip(before.frames, after.frames):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        assert _psnr(a, b) > 22, _psnr(a, b)


def _tiff_page(path: Path) -> dict:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return {"photometric": page.photometric, "samples": page.samplesperpixel, "bits": page.bitspersample, "pages": len(tif.pages),
                "extrasamples": tuple(page.extrasamples or ()), "icc": page.tags[34675].value if 34675 in page.tags else None}  # fmt: skip


def tiff_layout_kept(original: Path, restored: Path) -> None:
    faithful(original, restored)
    assert _tiff_page(restored) == _tiff_page(original), (_tiff_page(restored), _tiff_page(original))


def alpha_kept(original: Path, restored: Path) -> None:
    faithful(original, restored)
    np.testing.assert_array_equal(_read(restored).frames[0][..., -1], _read(original).frames[0][..., -1])


def nan_kept(original: Path, restored: Path) -> None:
    before, after = tifffile.imread(original), tifffile.imread(restored)
    np.testing.assert_array_equal(np.isnan(after), np.isnan(before))
    finite = np.isfinite(before)
    assert np.isfinite(after[finite]).all() and _psnr(before, after) > 22


def png_icc_kept(original: Path, restored: Path) -> None:
    faithful(original, restored)
    with Image.open(original) as a, Image.open(restored) as b:
        assert b.info.get("icc_profile") == a.info.get("icc_profile") is not None


def jpeg_exif_kept(original: Path, restored: Path) -> None:
    faithful(original, restored)
    with Image.open(original) as a, Image.open(restored) as b:
        assert dict(b.getexif()) == dict(a.getexif()) != {}


def dicom_kept(original: Path, restored: Path) -> None:
    faithful(original, restored)
    a, b = pydicom.dcmread(original), pydicom.dcmread(restored)
    for tag in ("PatientID", "StudyInstanceUID", "Modality", "SOPClassUID", "BitsAllocated", "PixelRepresentation", "RescaleSlope", "RescaleIntercept"):
        assert b.get(tag) == a.get(tag), tag
    assert b.SOPInstanceUID != a.SOPInstanceUID and b.SourceImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert "nlm" in b.DerivationDescription


def nifti_kept(original: Path, restored: Path) -> None:
    import nibabel as nib

    faithful(original, restored)
    a, b = nib.load(original), nib.load(restored)
    np.testing.assert_array_equal(a.affine, b.affine)
    assert a.get_data_dtype() == b.get_data_dtype()


def twelve_bit_dicom(path: Path) -> Path:
    """MR_small as a 12-bit signed DICOM (BitsStored 12 in 16 allocated)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    pixels = ds.pixel_array.astype(np.int32)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.PixelData = ((pixels - pixels.min()) * 4095 // max(int(np.ptp(pixels)), 1) - 2048).astype("<i2").tobytes()
    ds.save_as(path)
    return path


# ------------------------------------------------------------------- corpus


def build_corpus(root: Path) -> list[Case]:
    """Write the hostile folder under ``root``; return what must become of each entry."""
    pic = _pictures()
    cases: list[Case] = []

    def put(rel: str, data: bytes | None = None, *, writer: Callable[[Path], None] | None = None) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        else:
            writer(path)
        return path

    def good(rel: str, check=faithful, **kw) -> None:
        put(rel, **kw)
        cases.append(Case(rel, "restored", check=check))

    def bad(rel: str, reason: str, **kw) -> None:
        put(rel, **kw)
        cases.append(Case(rel, "refused", reason))

    gray, rgb = pic["camera"], pic["astronaut"]
    # PNG
    good("png/gray8.png", data=_png(gray))
    good("png/rgb8.png", data=_png(rgb))
    good("png/gray16.png", data=_png(gray.astype(np.uint16) * 257))
    good("png/rgb16.png", data=_png(rgb.astype(np.uint16) * 257))
    good("png/rgba.png", data=_png(np.dstack([rgb, np.full(gray.shape, 180, np.uint8)])), check=alpha_kept)
    good("png/gray-alpha.png", data=_png(np.dstack([gray, np.where(gray > 100, 255, 60).astype(np.uint8)])), check=alpha_kept)
    good("png/gray-alpha16.png", data=_png(np.dstack([gray, gray // 2]).astype(np.uint16) * 257), check=alpha_kept)
    good("png/palette.png", writer=lambda p: Image.fromarray(rgb).quantize(64).save(p))
    good("png/bilevel.png", writer=lambda p: Image.fromarray(pic["text"] > 100).save(p))
    good("png/with-icc.png", writer=lambda p: Image.fromarray(rgb).save(p, icc_profile=ICC.read_bytes()), check=png_icc_kept)
    bad("png/animated.png", "animated PNG", writer=lambda p: Image.fromarray(gray).save(p, save_all=True, append_images=[Image.fromarray(255 - gray)]))
    bad("png/truncated.png", "corrupt or truncated", data=_png(pic["coins"])[:700])
    bad("png/not-a-png.png", "corrupt or truncated", data=b"GIF89a not a png")
    bad("png/declares-32000x32000.png", "above the limit", data=png_declaring(32000, 32000))
    # JPEG
    exif = Image.Exif()
    exif[0x0112], exif[0x013B] = 6, "A. Photographer"
    good("jpeg/exif.jpg", writer=lambda p: Image.fromarray(rgb).save(p, quality=85, exif=exif, icc_profile=ICC.read_bytes()), check=jpeg_exif_kept)
    good("jpeg/gray.jpeg", writer=lambda p: Image.fromarray(pic["moon"]).save(p, quality=90))
    good("jpeg/progressive.jpg", writer=lambda p: Image.fromarray(rgb).save(p, quality=90, progressive=True))
    full = cv2.imencode(".jpg", gray)[1].tobytes()
    bad("jpeg/truncated.jpg", "truncated JPEG", data=full[: len(full) // 2])
    # TIFF
    tif = tifffile.imwrite
    good("tiff/gray8.tif", writer=lambda p: tif(p, gray, photometric="minisblack"), check=tiff_layout_kept)
    good("tiff/rgb16-lzw.tif", writer=lambda p: tif(p, rgb.astype(np.uint16) * 257, photometric="rgb", compression="lzw"), check=tiff_layout_kept)
    good("tiff/pages16.tif", writer=lambda p: tif(p, np.stack([gray, 255 - gray]).astype(np.uint16) * 257, photometric="minisblack"), check=tiff_layout_kept)
    good("tiff/miniswhite.tif", writer=lambda p: tif(p, gray, photometric="miniswhite"), check=tiff_layout_kept)
    good("tiff/cmyk.tif", writer=lambda p: tif(p, np.dstack([gray, 255 - gray, gray // 2, gray // 3]), photometric="separated"), check=tiff_layout_kept)
    good("tiff/five-samples.tif", writer=lambda p: tif(p, np.dstack([gray] * 5), photometric="minisblack", planarconfig="contig"), check=tiff_layout_kept)
    good("tiff/planar-rgb.tif", writer=lambda p: tif(p, np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate"), check=tiff_layout_kept)
    good(
        "tiff/rgba.tif",
        writer=lambda p: tif(p, np.dstack([rgb, np.full(gray.shape, 200, np.uint8)]), photometric="rgb", extrasamples=["unassalpha"]),
        check=alpha_kept,
    )
    good("tiff/tiled-deflate.tif", writer=lambda p: tif(p, pic["coins"], photometric="minisblack", tile=(64, 64), compression="zlib"), check=tiff_layout_kept)
    good("tiff/bilevel.tif", writer=lambda p: tif(p, pic["text"] > 100, photometric="miniswhite"), check=tiff_layout_kept)
    good("tiff/4-bit.tif", writer=lambda p: tif(p, gray >> 4, bitspersample=4, photometric="minisblack"), check=tiff_layout_kept)
    good(
        "tiff/icc.tif",
        writer=lambda p: tif(p, rgb, photometric="rgb", extratags=[(34675, 7, ICC.stat().st_size, ICC.read_bytes(), True)]),
        check=tiff_layout_kept,
    )
    nan = gray.astype(np.float32) / 255
    nan[20:30, 40:60] = np.nan
    good("tiff/float-nan.tif", writer=lambda p: tif(p, nan), check=nan_kept)
    bad(
        "tiff/palette.tif",
        "palette",
        writer=lambda p: tif(p, (gray // 16).astype(np.uint8), photometric="palette", colormap=np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (3, 1))),
    )
    bad("tiff/cielab.tif", "photometric interpretation CIELAB", writer=lambda p: tif(p, rgb, photometric="cielab"))
    bad("tiff/garbage.tif", "tiff", data=b"II*\x00" + b"\xff" * 64)
    bad("tiff/declares-100000x100000.tif", "above the limit", data=tiff_declaring(100000, 100000))
    # DICOM
    for name in (
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_bigendian.dcm",
        "rtdose.dcm",
        "MR_small_RLE.dcm",
        "JPEG2000.dcm",
        "examples_ybr_color.dcm",
        "SC_rgb_rle_32bit.dcm",
    ):
        good(f"dicom/{name}", data=Path(get_testdata_file(name)).read_bytes(), check=dicom_kept)
    put("dicom/mr-12-bit.dcm", writer=twelve_bit_dicom)
    cases.append(Case("dicom/mr-12-bit.dcm", "restored", check=dicom_kept))
    bad("dicom/palette.dcm", "PALETTE COLOR", data=Path(get_testdata_file("examples_palette.dcm")).read_bytes())
    bad("dicom/truncated.dcm", "", data=Path(get_testdata_file("MR_truncated.dcm")).read_bytes())
    bad("dicom/one-bit.dcm", "1-bit pixels", data=Path(get_testdata_file("liver_1frame.dcm")).read_bytes())
    bad("dicom/not-dicom.dcm", "not a DICOM", data=b"\x00" * 300)
    # NIfTI
    from restoration.demo import nibabel_data_file

    nifti = nibabel_data_file("anatomical.nii").read_bytes()
    good("nifti/anatomical.nii", data=nifti, check=nifti_kept)
    import gzip

    good("nifti/anatomical.nii.gz", data=gzip.compress(nifti), check=nifti_kept)
    bad("nifti/bad.nii", "cannot read nifti", data=b"\x01" * 400)
    # Tiny frames: methods used to crash on them
    good("tiny/one-pixel.png", data=_png(gray[:1, :1]), check=None)
    good("tiny/one-column.png", data=_png(gray[:, :1]), check=None)
    good("tiny/one-row.tif", writer=lambda p: tif(p, gray[:1]), check=None)
    # Not images, links, special files, hidden entries
    bad("other/notes.txt", "unsupported file type", data=b"scanning log")
    put("links/real.png", data=_png(pic["coins"]))
    cases.append(Case("links/real.png", "restored", check=faithful))
    os.symlink("real.png", root / "links" / "inside.png")
    cases.append(Case("links/inside.png", "restored", check=faithful))
    os.symlink("loop", root / "links" / "loop")
    cases.append(Case("links/loop", "refused", "symbolic link loop"))
    os.symlink("/etc/passwd", root / "links" / "outside.png")
    cases.append(Case("links/outside.png", "refused", "leads outside the archive"))
    os.symlink("nothing.png", root / "links" / "broken.png")
    cases.append(Case("links/broken.png", "refused", "broken symbolic link"))
    os.symlink("../png", root / "links" / "folder")
    cases.append(Case("links/folder", "refused", "symbolic link to a folder"))
    os.mkfifo(root / "other" / "pipe.png")
    cases.append(Case("other/pipe.png", "refused", "not a regular file"))
    put(".hidden.png", data=_png(gray))
    cases.append(Case(".hidden.png", "left-out", "hidden file"))
    put(".git/objects/pack.png", data=_png(gray))
    cases.append(Case(".git/", "left-out", "hidden folder"))
    put(".notes.tmp-abc", data=b"a user's own file, named like a temp file")
    cases.append(Case(".notes.tmp-abc", "left-out", "hidden file"))
    return cases


def build_archives(root: Path, pictures_png: bytes | None = None) -> dict[str, list[Case]]:
    """Hostile zip and tar files under ``root``; per archive file, what must become of its members."""
    png = pictures_png or _png(_pictures()["camera"])
    root.mkdir(parents=True, exist_ok=True)
    archives: dict[str, list[Case]] = {}

    with zipfile.ZipFile(root / "escapes.zip", "w") as zf:
        zf.writestr("ok/img.png", png)
        zf.writestr("../evil.png", png)
        zf.writestr("/abs/evil.png", png)
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    archives["escapes.zip"] = [Case("ok/img.png", "restored", check=faithful), Case("../evil.png", "refused", "leaves the archive"),
                               Case("/abs/evil.png", "refused", "leaves the archive"), Case("link.png", "refused", "symbolic link")]  # fmt: skip

    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.png", png)
        zf.writestr("zeros.png", b"\x00" * (64 * 2**20))  # 64 MB of zeros: over 200:1
    archives["bomb.zip"] = [Case("ok.png", "restored", check=faithful), Case("zeros.png", "refused", "decompression bomb")]

    data = (root / "escapes.zip").read_bytes()
    (root / "truncated.zip").write_bytes(data[: len(data) // 2])
    archives["truncated.zip"] = [Case(".", "refused", "not a readable archive")]

    with tarfile.open(root / "escapes.tar.gz", "w:gz") as tf:
        for name, kind in (("good/a.png", tarfile.REGTYPE), ("../up.png", tarfile.REGTYPE), ("/abs.png", tarfile.REGTYPE),
                           ("hard.png", tarfile.LNKTYPE), ("sym.png", tarfile.SYMTYPE), ("dev.png", tarfile.CHRTYPE)):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(png)
                tf.addfile(info, io.BytesIO(png))
            else:
                info.linkname = "/etc/passwd"
                tf.addfile(info)
    # tarfile's data filter makes "/abs.png" the harmless "abs.png"; everything else is refused.
    archives["escapes.tar.gz"] = [Case("good/a.png", "restored", check=faithful), Case("abs.png", "restored", check=faithful),
                                  Case("../up.png", "refused", "unsafe member"), Case("hard.png", "refused", "unsafe member"),
                                  Case("sym.png", "refused", "unsafe member"), Case("dev.png", "refused", "special file")]  # fmt: skip

    with tarfile.open(root / "long.tar.gz", "w:gz") as tf:
        for k in range(4):
            image = np.roll(_pictures()["astronaut"], 37 * k, axis=1)
            payload = _png(image)
            info = tarfile.TarInfo(f"part{k}.png")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    data = (root / "long.tar.gz").read_bytes()
    (root / "truncated.tar.gz").write_bytes(data[: int(len(data) * 0.6)])
    archives["truncated.tar.gz"] = [Case("part0.png", "restored", check=faithful), Case("part1.png", "restored", check=faithful),
                                    Case("part2.png", "refused", "truncated or corrupt")]  # fmt: skip
    return archives


def tree_sha256(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (links and special files by what they are), by relative path."""
    import hashlib

    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "special"
    return found


def said_of(output: str, rel: str) -> tuple[str, str] | None:
    """What the command printed of ``rel``: ("refused" | "left-out", reason), or None when it named no problem."""
    for line in output.splitlines():
        for prefix, kind in (("FAILED ", "refused"), ("LEFT OUT ", "left-out")):
            if line.startswith(f"{prefix}{rel}: "):
                return kind, line[len(prefix) + len(rel) + 2 :]
    return None


def files_outside(root: Path, allowed: list[Path]) -> set[str]:
    """Every file under ``root`` except those in the folders ``allowed`` (relative paths)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in allowed]
        found.update((here / f).relative_to(root).as_posix() for f in filenames)
    return found
