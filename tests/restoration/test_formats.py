"""Formats kept faithfully, or refused when read: photometric meaning, samples, bit depth, metadata, declared size."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import pydicom
import pytest
import tifffile
from PIL import Image
from pydicom.data import get_testdata_file

from restoration.manifest import describe_file

ICC = Path(pydicom.__file__).parent / "data" / "test_files" / "crayons.icc"  # a real ICC profile that ships with pydicom
from restoration.io import UnreadableImageError, read_image_file
from restoration.pipeline import restore_file
from tests.reliability import corpus


def restore(src: Path, out: Path, method: str = "nlm", **options) -> Path:
    restore_file(src, out, rel=src.name, method=method, mask_path=None, options=options or {"sigma": 10})
    return out


# ------------------------------------------------------------------ size limits


def png_declaring(path: Path, width: int, height: int) -> Path:
    path.write_bytes(corpus.png_declaring(width, height))
    return path


def tiff_declaring(path: Path, width: int, height: int) -> Path:
    path.write_bytes(corpus.tiff_declaring(width, height))
    return path


def test_a_png_declaring_a_huge_image_is_refused_before_decoding(tmp_path):
    bomb = png_declaring(tmp_path / "bomb.png", 32000, 32000)
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(UnreadableImageError, match="declares 32000 x 32000 pixels .* above the limit"):
        read_image_file(bomb)
    row = describe_file(tmp_path, "bomb.png")[0]  # ingest quarantines it: it used to ingest as ok
    assert row["status"] == "quarantined" and "above the limit" in row["reason"]


def test_a_tiff_of_shared_strips_declaring_a_huge_image_is_refused(tmp_path):
    bomb = tiff_declaring(tmp_path / "bomb.tif", 100000, 100000)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(UnreadableImageError, match="declares 100000 x 100000 pixels"):
        read_image_file(bomb)


def test_the_pixel_limit_is_configurable(tmp_path, camera, monkeypatch):
    src = tmp_path / "c.png"
    cv2.imwrite(str(src), camera)
    monkeypatch.setenv("ARCHIVE_RESTORE_MAX_PIXELS", str(camera.size - 1))
    with pytest.raises(UnreadableImageError, match="above the limit of 16,383"):
        read_image_file(src)
    monkeypatch.setenv("ARCHIVE_RESTORE_MAX_PIXELS", str(camera.size))
    assert read_image_file(src).frames[0].shape == camera.shape


def test_upscaling_refuses_an_output_above_the_limit(tmp_path, camera, monkeypatch):
    from restoration.pipeline import FileStepError

    src = tmp_path / "c.png"
    cv2.imwrite(str(src), camera)
    monkeypatch.setenv("ARCHIVE_RESTORE_MAX_PIXELS", str(camera.size * 3))
    with pytest.raises(FileStepError, match="upscaled by 2 it would hold 65,536 pixels, above the limit of 49,152"):
        restore_file(src, tmp_path / "o.png", rel="c.png", method="bicubic", mask_path=None, options={})
    assert not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------------ PNG


def test_gray_alpha_png_stays_gray_alpha_and_its_alpha_is_not_denoised(tmp_path, camera):
    alpha = np.where(np.arange(camera.shape[1]) < 64, 255, 90).astype(np.uint8)[None, :].repeat(camera.shape[0], 0)
    for dtype, scale in ((np.uint8, 1), (np.uint16, 257)):
        ga = np.dstack([camera, alpha]).astype(dtype) * scale
        src = tmp_path / f"ga{scale}.png"
        src.write_bytes(imagecodecs.png_encode(ga))
        image = read_image_file(src)
        assert image.frames[0].shape == ga.shape and image.alpha and image.modality == "scan-gray"
        out = imagecodecs.png_decode(restore(src, tmp_path / "out" / src.name).read_bytes())
        assert out.shape == ga.shape and out.dtype == dtype  # it came back RGBA before
        np.testing.assert_array_equal(out[..., 1], ga[..., 1])  # opacity is not noise
        assert not np.array_equal(out[..., 0], ga[..., 0])


def test_png_colour_profile_and_text_are_kept(tmp_path, astronaut):
    icc = ICC.read_bytes()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Title", "Letter of 1902")
    src = tmp_path / "a.png"
    Image.fromarray(astronaut).save(src, icc_profile=icc, pnginfo=info, dpi=(600, 600))
    out = restore(src, tmp_path / "out" / "a.png")
    with Image.open(out) as restored:
        assert restored.info.get("icc_profile") == icc
        assert restored.info.get("Title") == "Letter of 1902"
        assert round(restored.info["dpi"][0]) == 600


def test_an_animated_png_is_refused(tmp_path, camera):
    src = tmp_path / "anim.png"
    frames = [Image.fromarray(camera), Image.fromarray(255 - camera)]
    frames[0].save(src, save_all=True, append_images=frames[1:])
    with pytest.raises(UnreadableImageError, match="animated PNG"):
        read_image_file(src)


# ----------------------------------------------------------------------- JPEG


def test_jpeg_keeps_exif_and_icc_and_its_own_quantisation(tmp_path, astronaut):
    icc = ICC.read_bytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x013B] = "A. Photographer"
    src = tmp_path / "p.jpg"
    Image.fromarray(astronaut).save(src, quality=80, exif=exif, icc_profile=icc)
    out = restore(src, tmp_path / "out" / "p.jpg")
    with Image.open(src) as a, Image.open(out) as b:
        assert b.getexif().get(0x0112) == 6 and b.getexif().get(0x013B) == "A. Photographer"
        assert b.info.get("icc_profile") == icc
        assert b.quantization == a.quantization
    # Re-encoding a decoded JPEG with its own tables changes far fewer pixels than a fixed quality.
    decoded = cv2.imread(str(src))
    same_tables = cv2.imdecode(np.frombuffer(out.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    identity = restore(src, tmp_path / "id" / "p.jpg", method="nlm", sigma=0.0)
    reencoded = cv2.imread(str(identity))
    q95 = cv2.imdecode(cv2.imencode(".jpg", decoded, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], cv2.IMREAD_UNCHANGED)
    assert (reencoded != decoded).any(axis=2).mean() < 0.7 * (q95 != decoded).any(axis=2).mean()
    assert same_tables.shape == decoded.shape


# ----------------------------------------------------------------------- TIFF


def test_miniswhite_tiff_keeps_its_photometric_and_raw_values(tmp_path, camera):
    src = tmp_path / "w.tif"
    tifffile.imwrite(src, camera, photometric="miniswhite")
    out = restore(src, tmp_path / "out" / "w.tif", sigma=0.0)  # sigma 0: pixels unchanged
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.MINISWHITE  # came back MINISBLACK (inverted) before
        np.testing.assert_array_equal(tif.pages[0].asarray(), camera)


def test_cmyk_tiff_stays_cmyk_without_alpha(tmp_path, camera):
    cmyk = np.dstack([camera, 255 - camera, camera // 2, camera // 3])
    src = tmp_path / "c.tif"
    tifffile.imwrite(src, cmyk, photometric="separated")
    assert not read_image_file(src).alpha
    out = restore(src, tmp_path / "out" / "c.tif")
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.photometric == tifffile.PHOTOMETRIC.SEPARATED and not page.extrasamples  # was RGB + alpha
        assert page.shape == cmyk.shape


def test_a_five_sample_tiff_stays_one_page_of_five_samples(tmp_path, camera):
    bands = np.dstack([camera, 255 - camera, camera // 2, camera // 3, camera // 4])
    src = tmp_path / "five.tif"
    tifffile.imwrite(src, bands, photometric="minisblack", planarconfig="contig")
    out = restore(src, tmp_path / "out" / "five.tif")
    with tifffile.TiffFile(out) as tif:
        assert len(tif.pages) == 1 and tif.pages[0].shape == bands.shape  # was 128 pages of 128 x 5


def test_float_tiff_keeps_its_nan_area_and_its_finite_pixels(tmp_path, camera):
    values = camera.astype(np.float32) / 255
    values[10:14, 10:14] = np.nan
    values[40, 50] = np.inf
    src = tmp_path / "f.tif"
    tifffile.imwrite(src, values)
    unchanged = tifffile.imread(restore(src, tmp_path / "id" / "f.tif", sigma=0.0))
    np.testing.assert_array_equal(unchanged, values)  # no shift of finite pixels
    restored = tifffile.imread(restore(src, tmp_path / "out" / "f.tif", sigma=10.0))
    np.testing.assert_array_equal(np.isnan(restored), np.isnan(values))  # the NaN area grew from 16 to 256 pixels before
    assert restored[40, 50] == np.inf
    finite = np.isfinite(values)
    assert np.isfinite(restored[finite]).all()
    assert np.abs(restored[finite] - values[finite]).mean() < 0.05


def test_tiff_tags_and_packed_bit_depths_are_kept(tmp_path, camera):
    icc = ICC.read_bytes()
    tags = [(34675, 7, len(icc), icc, True), (315, 2, 0, "Jane Archivist", True), (33550, 12, 3, (0.5, 0.5, 0.0), True)]
    src = tmp_path / "t.tif"
    tifffile.imwrite(src, camera, photometric="minisblack", extratags=tags, description="letter 12", metadata=None, compression="lzw", resolution=(300, 300))
    out = restore(src, tmp_path / "out" / "t.tif")
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.tags[34675].value == icc and page.tags[315].value == "Jane Archivist"
        assert page.tags[33550].value == (0.5, 0.5, 0.0) and page.description == "letter 12"
        assert page.compression == tifffile.COMPRESSION.LZW and page.tags[282].value == (300, 1)
    four = tmp_path / "four.tif"
    tifffile.imwrite(four, camera >> 4, bitspersample=4, photometric="minisblack")
    image = read_image_file(four)
    assert image.frames[0].max() > 200  # 4-bit samples on the 8-bit scale for the methods
    out4 = restore(four, tmp_path / "out" / "four.tif", sigma=0.0)
    with tifffile.TiffFile(out4) as tif:
        assert tif.pages[0].bitspersample == 4
        np.testing.assert_array_equal(tif.pages[0].asarray(), camera >> 4)


def test_bilevel_tiff_comes_back_bilevel(tmp_path, camera):
    src = tmp_path / "fax.tif"
    tifffile.imwrite(src, camera > 128, photometric="miniswhite")
    out = restore(src, tmp_path / "out" / "fax.tif", method="tv", sigma=5.0)
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.bitspersample == 1 and page.photometric == tifffile.PHOTOMETRIC.MINISWHITE
        assert (page.asarray() == (camera > 128)).mean() > 0.95


# ---------------------------------------------------------------------- DICOM


def test_palette_colour_dicom_is_refused_at_ingest(tmp_path):
    shutil.copyfile(get_testdata_file("examples_palette.dcm"), tmp_path / "pal.dcm")
    row = describe_file(tmp_path, "pal.dcm")[0]
    assert row["status"] == "quarantined" and "PALETTE COLOR" in row["reason"]


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "rtdose_1frame.dcm", "rtdose.dcm"])
def test_big_endian_and_32_bit_dicom_are_restored(tmp_path, name):
    src = tmp_path / name
    shutil.copyfile(get_testdata_file(name), src)
    original = pydicom.dcmread(src)
    out = restore(src, tmp_path / "out" / name, sigma=0.0)  # failed at write before
    written = pydicom.dcmread(out)
    assert written.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    np.testing.assert_array_equal(written.pixel_array, original.pixel_array)
    assert written.BitsAllocated == original.BitsAllocated and written.PixelRepresentation == original.PixelRepresentation
    for tag in ("PatientID", "StudyInstanceUID", "Modality", "DoseGridScaling"):
        assert written.get(tag) == original.get(tag), tag


def test_a_12_bit_dicom_stays_within_12_bits(tmp_path):
    src = corpus.twelve_bit_dicom(tmp_path / "mr12.dcm")
    original = pydicom.dcmread(src).pixel_array
    for method, options in (("lanczos", {"scale": 2}), ("nlm", {"sigma": 30.0})):  # lanczos overshoots at edges
        written = pydicom.dcmread(restore(src, tmp_path / method / "mr12.dcm", method, **options))
        assert written.BitsStored == 12 and written.pixel_array.dtype == original.dtype
        assert -2048 <= written.pixel_array.min() and written.pixel_array.max() <= 2047


def test_dicom_outputs_carry_their_derivation(tmp_path):
    src = tmp_path / "CT.dcm"
    shutil.copyfile(get_testdata_file("CT_small.dcm"), src)
    original = pydicom.dcmread(src)
    written = pydicom.dcmread(restore(src, tmp_path / "out" / "CT.dcm", method="tv", sigma=12.0))
    assert "tv" in written.DerivationDescription and "12.0" in written.DerivationDescription
    source = written.SourceImageSequence[0]
    assert source.ReferencedSOPInstanceUID == original.SOPInstanceUID
    assert source.ReferencedSOPClassUID == original.SOPClassUID
    assert list(written.ImageType)[:2] == ["DERIVED", "SECONDARY"]


def test_a_truncated_dicom_is_quarantined(tmp_path):
    shutil.copyfile(get_testdata_file("MR_truncated.dcm"), tmp_path / "cut.dcm")
    row = describe_file(tmp_path, "cut.dcm")[0]
    assert row["status"] == "quarantined" and row["reason"]
