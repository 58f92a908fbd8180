"""Classical detectors find planted damage on real images and leave clean ones alone; scores and tiling are right."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from restoration import frames
from restoration.damage import detect, simulate
from restoration.metrics import detection_scores, unchanged_damage
from restoration.registry import REGISTRY


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """256 x 256 of scikit-image's camera (a real photo, uint8): sky over buildings, grass and a man's shoulder."""
    return np.ascontiguousarray(skimage.data.camera()[:256, :256])


def plant_scratch(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    damaged, mask = image.copy(), np.zeros(image.shape[:2], np.uint8)
    cv2.line(mask, (40, 10), (70, 240), 1, 2)
    hit = mask.astype(bool)
    damaged[hit] = np.clip(damaged[hit].astype(int) + 90, 0, 255)
    return damaged, hit


def plant_spots(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Five dust specks 5 pixels across, dark on light ground and light on dark (as dust shows on a print and on a negative)."""
    damaged, mask = image.copy(), np.zeros(image.shape[:2], np.uint8)
    for x, y in [(30, 40), (200, 60), (120, 200), (220, 220), (60, 150)]:
        speck = np.zeros_like(mask)
        cv2.circle(speck, (x, y), 2, 1, -1)
        damaged[speck > 0] = 5 if image[y, x] > 100 else 250
        mask |= speck
    return damaged, mask.astype(bool)


def plant_stain(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A soft-edged brown water stain about a tenth of the image across."""
    strength = np.zeros(image.shape[:2], np.float32)
    cv2.ellipse(strength, (150, 70), (30, 20), 20, 0, 360, 0.7, -1)
    strength = cv2.GaussianBlur(strength, (0, 0), 4)
    hit = strength > 0.15
    a = strength[..., None] if image.ndim == 3 else strength
    tint = np.array([140, 100, 55]) if image.ndim == 3 else 30
    damaged = np.clip((1 - a) * image + a * tint, 0, 255).astype(np.uint8)
    return damaged, hit


def test_scores_count_a_one_pixel_shift_as_correct_within_the_tolerance():
    truth = np.zeros((40, 40), bool)
    truth[10:20, 10:20] = True
    shifted = np.roll(truth, 1, axis=1)
    exact = detection_scores(truth, shifted, tolerance=0)
    assert exact["precision"] == pytest.approx(0.9) and exact["recall"] == pytest.approx(0.9)
    assert detection_scores(truth, shifted, tolerance=1)["f1"] == 1.0
    missed = detection_scores(truth, np.zeros_like(truth))
    assert missed["recall"] == 0 and missed["f1"] == 0 and missed["flagged"] == 0
    clean = detection_scores(np.zeros_like(truth), truth)
    assert clean["precision"] == 0 and np.isnan(clean["recall"]) and clean["flagged"] == pytest.approx(0.0625)


def test_damage_that_changed_nothing_counts_neither_way():
    # A black hole half on a black background: its hidden half is no detector's to find.
    clean = np.full((40, 40), 120, np.uint8)
    clean[:, :20] = 0
    truth = np.zeros((40, 40), bool)
    truth[10:30, 10:30] = True
    damaged = np.where(truth, 0, clean).astype(np.uint8)
    unseen = unchanged_damage(clean, damaged, truth, data_range=255)
    assert unseen.sum() == 200 and not unseen[:, 20:].any()
    visible_only = truth & ~unseen
    assert detection_scores(truth, visible_only)["recall"] == pytest.approx(0.5, abs=0.06)  # 1-px tolerance finds a column more
    scored = detection_scores(truth, visible_only, ignore=unseen)
    assert scored["recall"] == 1.0 and scored["precision"] == 1.0
    # flagging the hidden half is not held against a detector either, and a faint change within 2 % is hidden
    assert detection_scores(truth, truth, ignore=unseen)["precision"] == 1.0
    assert unchanged_damage(clean, clean + truth.astype(np.uint8) * 5, truth, data_range=255).sum() == 400


def test_scratch_detector_finds_a_planted_scratch_and_little_else(photo):
    damaged, truth = plant_scratch(photo)
    found = detect.detect_scratches(damaged)
    assert detection_scores(truth, found.mask)["iou"] > 0.6
    assert detect.detect_scratches(photo).mask.mean() < 0.01  # the buildings' own straight edges are what it flags


def test_spot_detector_finds_planted_dust(photo):
    damaged, truth = plant_spots(photo)
    scores = detection_scores(truth, detect.detect_spots(damaged).mask)
    assert scores["recall"] >= 0.8 and scores["iou"] > 0.4, scores
    assert detect.detect_spots(photo).mask.mean() < 0.002


@pytest.mark.parametrize("colour", [False, True])
def test_stain_detector_finds_a_planted_stain(colour):
    moon = np.ascontiguousarray(skimage.data.moon()[:256, :256])
    image = np.dstack([moon] * 3) if colour else moon
    damaged, truth = plant_stain(image)
    scores = detection_scores(truth, detect.detect_stains(damaged).mask)
    assert scores["iou"] > 0.6, scores
    # Judged against a smooth background, darker or lighter regions of the picture are flagged too
    # (why detect-classical leaves stains out unless asked): here a few per cent of the clean image.
    assert detect.detect_stains(image).mask.mean() < 0.05


def test_hole_detector_finds_holes_and_tears_and_not_clipped_or_bitonal_areas(photo):
    for simulator in (simulate.simulate_holes, simulate.simulate_tears):
        damaged, truth = simulator(photo, rng=3)
        assert detection_scores(truth, detect.detect_holes(damaged).mask)["f1"] > 0.85
    overexposed = np.clip(photo.astype(int) + 50, 0, 255).astype(np.uint8)  # a third of it blown out: flat at the top, reached gradually
    assert (overexposed == 255).mean() > 0.25
    assert detect.detect_holes(overexposed).mask.mean() < 0.01
    bitonal = np.where(photo > 128, 255, 0).astype(np.uint8)  # a fax or a line drawing: all flat regions
    assert not detect.detect_holes(bitonal).mask.any()


def test_dead_pixel_detector_finds_a_dead_row_and_stuck_pixels_on_a_ct_slice():
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    ct = dcmread(get_testdata_file("CT_small.dcm")).pixel_array  # int16, 12 bits stored
    span = (int(ct.min()), int(ct.max()))
    damaged, truth = ct.copy(), np.zeros(ct.shape, bool)
    damaged[30] = ct.max()
    truth[30] = True
    for y, x in [(10, 10), (50, 70), (100, 20)]:
        damaged[y, x] = ct.min() if ct[y, x] > ct.mean() else ct.max()
        truth[y, x] = True
    found = detect.detect_dead_pixels(damaged, value_range=span)
    assert detection_scores(truth, found.mask, tolerance=0)["recall"] == 1.0
    assert detect.detect_dead_pixels(ct, value_range=span).mask.mean() < 0.002


@pytest.mark.parametrize("name", ["detect-classical", "detect-holes", "detect-scratches", "detect-spots", "detect-stains", "detect-dead-pixels"])
def test_detectors_keep_to_shape_and_bit_depth(photo, name):
    entry = REGISTRY.get(name, kind="detect")
    damaged, _ = simulate.simulate_holes(photo, rng=1)
    eight = frames.detect_frame(entry, damaged)
    sixteen = frames.detect_frame(entry, damaged.astype(np.uint16) * 257)
    colour = frames.detect_frame(entry, np.dstack([damaged] * 3))
    for found in (eight, sixteen, colour):
        assert found.mask.shape == photo.shape and found.mask.dtype == bool
        assert found.confidence.dtype == np.float32 and 0 <= found.confidence.min() and found.confidence.max() <= 1
    assert detection_scores(eight.mask, sixteen.mask)["f1"] > 0.95  # the same image at 16 bits is judged alike
    # A 12-bit frame stored in uint16 is read on its own range.
    twelve = frames.detect_frame(entry, (damaged.astype(np.uint16) * 16), value_range=(0, 4095))
    assert detection_scores(eight.mask, twelve.mask)["f1"] > 0.95


def test_no_data_pixels_are_never_flagged_and_tiles_agree_with_the_whole(photo, monkeypatch):
    damaged, _ = simulate.simulate_holes(photo, rng=2)
    floats = damaged.astype(np.float32)
    floats[:20, :20] = np.nan
    found = frames.detect_frame(REGISTRY.get("detect-holes"), floats, value_range=(0, 255))
    assert not found.mask[:20, :20].any() and (found.confidence[:20, :20] == 0).all()
    entry = REGISTRY.get("detect-holes")
    big, _ = simulate.simulate_holes(skimage.data.camera(), rng=2)
    whole = frames.detect_frame(entry, big)
    monkeypatch.setattr(frames, "WHOLE_FRAME_PIXELS", 200 * 200)
    monkeypatch.setattr(frames, "TILE", 256)  # four tiles, each with the detector's context around it
    tiled = frames.detect_frame(entry, big)
    assert detection_scores(whole.mask, tiled.mask, tolerance=0)["f1"] > 0.99


def test_classical_union_takes_named_kinds_and_refuses_unknown_ones(photo):
    damaged, truth = plant_scratch(photo)
    union = detect.detect_classical(damaged, kinds="holes,scratches")
    assert detection_scores(truth, union.mask)["iou"] > 0.6
    grown = detect.detect_classical(damaged, kinds="holes,scratches", grow=1)  # grown by 1 pixel: the scratch's rim too
    assert (grown.mask >= union.mask).all() and detection_scores(truth, grown.mask)["recall"] >= detection_scores(truth, union.mask)["recall"]
    with pytest.raises(ValueError, match="unknown damage kind"):
        detect.detect_classical(damaged, kinds="holes,smudges")


def test_new_simulators_are_seeded_and_mark_what_changed(photo):
    for simulator in (simulate.simulate_dust, simulate.simulate_cracks):
        a, mask_a = simulator(photo, rng=5)
        b, mask_b = simulator(photo, rng=5)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(mask_a, mask_b)
        assert 0 < mask_a.mean() < 0.05
        assert (a[~mask_a] == photo[~mask_a]).all()


def test_detect_file_writes_masks_in_the_supplied_mask_layout_for_dicom_and_multi_frame_files(tmp_path):
    import shutil

    import tifffile
    from pydicom.data import get_testdata_file

    from restoration.io import read_image_file, read_mask_file
    from restoration.pipeline import detect_file, detect_settings

    settings = detect_settings("detect-classical", {})
    ct = tmp_path / "in" / "ct.dcm"
    ct.parent.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), ct)
    record = detect_file(ct, tmp_path / "found" / "ct.png", tmp_path / "found" / "confidence" / "ct.png", rel="ct.dcm", settings=settings)
    image = read_image_file(ct)
    (mask,) = read_mask_file(record["output"], image)  # what `restore --masks` reads
    assert record["output"].endswith("ct.png") and mask.shape == image.frames[0].shape
    pages = np.stack([skimage.data.camera()[:128, :128]] * 3).astype(np.uint16) * 257
    pages[1, 40:60, 40:60] = 0  # a hole in the second page only
    tifffile.imwrite(tmp_path / "in" / "stack.tif", pages, photometric="minisblack")
    record = detect_file(
        tmp_path / "in" / "stack.tif", tmp_path / "found" / "stack.png", tmp_path / "found" / "confidence" / "stack.png", rel="stack.tif", settings=settings
    )
    assert record["output"].endswith("stack.tif") and record["confidence"].endswith("stack.tif") and record["frames"] == 3
    masks = read_mask_file(record["output"], read_image_file(tmp_path / "in" / "stack.tif"))
    assert masks[1][40:60, 40:60].all() and not masks[0][40:60, 40:60].any()
