from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.data import get_testdata_file

from restoration.demo import nibabel_data_file
from restoration.io import (
    UnreadableImageError,
    find_mask,
    read_image_file,
    read_mask_file,
    write_mask_file,
)
from restoration.manifest import describe_file
from restoration.pipeline import FileStepError, damage_file, evaluate_file, restore_file
from tests.conftest import write_png


def _damage_and_restore(src: Path, tmp: Path, method: str = "telea", kind: str = "holes") -> tuple[Path, Path]:
    rel = src.name
    rec = damage_file(src, tmp / "damaged" / rel, tmp / "damaged" / "masks" / src.stem, rel=rel, kind=kind, seed=0, options={})
    out = tmp / "restored" / rel
    restore_file(tmp / "damaged" / rel, out, rel=rel, method=method, mask_path=Path(rec["mask"]), options={})
    return out, Path(rec["mask"])


def test_16bit_multipage_tiff_round_trip(tmp_path, camera):
    pages = np.stack([camera.astype(np.uint16) * 257, (255 - camera).astype(np.uint16) * 257])
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, pages, photometric="minisblack", resolution=(300, 300))
    image = read_image_file(src)
    assert len(image.frames) == 2 and image.bit_depth == 16
    out, mask = _damage_and_restore(src, tmp_path)
    assert mask.suffix == ".tif"  # one mask page per image page
    restored = tifffile.imread(out)
    assert restored.dtype == np.uint16 and restored.shape == pages.shape
    assert len(np.unique(restored)) > 256
    rows = evaluate_file(out, src, rel="scan.tif", mask_path=mask)
    damaged_rows = evaluate_file(tmp_path / "damaged" / "scan.tif", src, rel="scan.tif", mask_path=mask)
    assert [r["data_range"] for r in rows] == [65535, 65535]
    for r, d in zip(rows, damaged_rows):
        assert r["hole_psnr"] > d["hole_psnr"] + 5


def test_rgb_png_round_trip_keeps_channels(tmp_path, astronaut):
    src = write_png(tmp_path / "a.png", astronaut)
    out, _ = _damage_and_restore(src, tmp_path, method="biharmonic")
    restored = read_image_file(out)
    assert restored.frames[0].shape == astronaut.shape
    np.testing.assert_array_equal(read_image_file(src).frames[0], astronaut)  # original untouched


def test_dicom_stays_dicom_with_tags_and_new_uids(tmp_path):
    src = tmp_path / "CT_small.dcm"
    src.write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    before = src.read_bytes()
    out, mask = _damage_and_restore(src, tmp_path)
    original, restored = pydicom.dcmread(src), pydicom.dcmread(out)
    assert src.read_bytes() == before
    assert restored.pixel_array.dtype == original.pixel_array.dtype
    assert restored.BitsStored == original.BitsStored
    for tag in ("PatientName", "PatientID", "StudyInstanceUID", "Modality", "RescaleSlope", "RescaleIntercept", "PixelSpacing"):
        assert restored.get(tag) == original.get(tag), tag
    assert restored.SOPInstanceUID != original.SOPInstanceUID
    assert restored.SeriesInstanceUID != original.SeriesInstanceUID
    assert restored.file_meta.MediaStorageSOPInstanceUID == restored.SOPInstanceUID
    assert list(restored.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "telea" in restored.DerivationDescription
    row = evaluate_file(out, src, rel="CT_small.dcm", mask_path=mask)[0]
    damaged = evaluate_file(tmp_path / "damaged" / "CT_small.dcm", src, rel="CT_small.dcm", mask_path=mask)[0]
    assert row["hole_psnr"] > damaged["hole_psnr"] + 10


def test_multiframe_dicom_frames_are_items(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    frames = np.stack([ds.pixel_array, ds.pixel_array[::-1], ds.pixel_array[:, ::-1]])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.astype("<i2").tobytes()
    src = tmp_path / "multi.dcm"
    ds.save_as(src)
    rows = describe_file(tmp_path, "multi.dcm")
    assert [r["index"] for r in rows] == [0, 1, 2] and {r["modality"] for r in rows} == {"MR"}
    out, _ = _damage_and_restore(src, tmp_path, method="navier-stokes")
    restored = pydicom.dcmread(out)
    assert int(restored.NumberOfFrames) == 3 and restored.pixel_array.shape == frames.shape


def test_nifti_keeps_affine_header_and_dtype(tmp_path):
    src = tmp_path / "anatomical.nii"
    src.write_bytes(nibabel_data_file("anatomical.nii").read_bytes())
    image = read_image_file(src)
    assert len(image.frames) == 25 and image.modality == "volume"
    out, _ = _damage_and_restore(src, tmp_path, method="biharmonic")
    original, restored = nib.load(src), nib.load(out)
    np.testing.assert_array_equal(restored.affine, original.affine)
    assert restored.get_data_dtype() == original.get_data_dtype()
    assert restored.shape == original.shape


def test_downscaled_dicom_updates_geometry_and_upscaling_restores_it(tmp_path):
    src = tmp_path / "MR.dcm"
    src.write_bytes(Path(get_testdata_file("MR_small.dcm")).read_bytes())
    damage_file(src, tmp_path / "small.dcm", tmp_path / "m", rel="MR.dcm", kind="downscale", seed=0, options={})
    small = pydicom.dcmread(tmp_path / "small.dcm")
    original = pydicom.dcmread(src)
    assert (small.Rows, small.Columns) == (32, 32)
    assert float(small.PixelSpacing[0]) == pytest.approx(2 * float(original.PixelSpacing[0]))
    restore_file(tmp_path / "small.dcm", tmp_path / "big.dcm", rel="MR.dcm", method="bicubic", mask_path=None, options={"scale": 2})
    big = pydicom.dcmread(tmp_path / "big.dcm")
    assert big.pixel_array.shape == original.pixel_array.shape


@pytest.mark.parametrize(
    "name,payload,reason",
    [
        ("truncated.png", None, "corrupt or truncated"),
        ("cut.jpg", None, "truncated JPEG"),
        ("notes.txt", b"hello", "unsupported file type"),
        ("fake.dcm", b"\x00" * 300, "not a DICOM"),
        ("bad.nii", b"\x01" * 100, "cannot read nifti"),
    ],
)
def test_unreadable_files_are_quarantined_with_a_reason(tmp_path, camera, name, payload, reason):
    import cv2

    if name.endswith(".png"):
        payload = cv2.imencode(".png", camera)[1].tobytes()[:500]
    elif name.endswith(".jpg"):
        payload = cv2.imencode(".jpg", camera)[1].tobytes()[:700]
    (tmp_path / name).write_bytes(payload)
    rows = describe_file(tmp_path, name)
    assert len(rows) == 1 and rows[0]["status"] == "quarantined"
    assert reason in rows[0]["reason"]
    with pytest.raises(UnreadableImageError, match=name):
        read_image_file(tmp_path / name)


def test_mask_shape_mismatch_is_an_error_for_that_file(tmp_path, camera):
    src = write_png(tmp_path / "x.png", camera)
    write_png(tmp_path / "masks" / "x.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="10x10 but the image is 128x128"):
        read_mask_file(tmp_path / "masks" / "x.png", read_image_file(src))
    with pytest.raises(FileStepError, match="x.png"):
        restore_file(src, tmp_path / "out" / "x.png", rel="x.png", method="telea", mask_path=tmp_path / "masks" / "x.png", options={})
    assert not (tmp_path / "out" / "x.png").exists()


def test_find_mask_by_stem_in_any_format(tmp_path):
    write_mask_file([np.ones((4, 4))], tmp_path / "a" / "b" / "x")
    assert find_mask(tmp_path, "a/b/x.tif").name == "x.png"
    assert find_mask(tmp_path, "a/b/y.tif") is None
    tifffile.imwrite(tmp_path / "v.tif", np.zeros((3, 4, 4), np.uint8))
    assert find_mask(tmp_path, "v.nii.gz").name == "v.tif"


def test_mask_index_pairs_like_find_mask_and_lists_each_folder_once(tmp_path, monkeypatch):
    import os

    from restoration.io import MaskIndex

    for name in ["a/b/x.png", "a/b/x.tif", "a/b/y.jpg", "v.tif", "a/notes.txt", "a/b/c/z.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    calls = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p=".": calls.append(str(p)) or real(p))
    index = MaskIndex(tmp_path)
    assert len(calls) == 4  # root, a, a/b, a/b/c: once each, whatever the number of files
    for rel in ["a/b/x.tif", "a/b/y.png", "a/b/q.png", "v.nii.gz", "a/b/c/z.dcm", "z.png"]:
        assert index.find(rel) == find_mask(tmp_path, rel), rel
    assert index.find("a/b/x.tif").name == "x.png" and index.find("v.nii.gz").name == "v.tif"
    assert len(MaskIndex(tmp_path / "missing")) == 0 and MaskIndex(None).find("x.png") is None


def test_every_format_has_its_reader_and_writer_in_one_module():
    from restoration.io import FORMAT_MODULES, FORMATS

    assert set(FORMATS.values()) == set(FORMAT_MODULES)
    for name, module in FORMAT_MODULES.items():
        assert module.__name__ == f"restoration.io.{name}" and callable(module.read) and callable(module.write)
