"""Finding damage nobody marked: `detect`, `restore --masks` from its masks, a curator's correction, `restore-archive`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data
from typer.testing import CliRunner

from restoration.damage import simulate
from restoration.metrics import detection_scores
from tests.conftest import write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def cli(*args):
    from flows.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def unmarked(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """A small archive of damaged scans (gray, RGB, 16-bit, a noisy one) and the true damage of each."""
    camera = skimage.data.camera()[:192, :192]
    astronaut = np.ascontiguousarray(skimage.data.astronaut()[:160, :160])
    coins = skimage.data.coins()[:160, :192].astype(np.uint16) * 257
    truth = {}
    damaged, truth["camera.png"] = simulate.simulate_holes(camera, rng=1, ratio=(0.05, 0.1))
    write_png(tmp_path / "in" / "camera.png", damaged)
    damaged, truth["box/astronaut.png"] = simulate.simulate_tears(astronaut, rng=2, ratio=(0.05, 0.1))
    write_png(tmp_path / "in" / "box" / "astronaut.png", damaged)
    damaged, truth["box/coins16.png"] = simulate.simulate_holes(coins, rng=3, ratio=(0.03, 0.06))
    write_png(tmp_path / "in" / "box" / "coins16.png", damaged)
    noisy = np.clip(skimage.data.moon()[:160, :160] + np.random.default_rng(0).normal(0, 20, (160, 160)), 0, 255).astype(np.uint8)
    write_png(tmp_path / "in" / "noisy.png", noisy)
    truth["noisy.png"] = np.zeros(noisy.shape, bool)
    return tmp_path, truth


def test_detect_writes_masks_that_restore_takes_and_a_corrected_mask_redoes_only_its_file(unmarked):
    root, truth = unmarked
    before = digest(root / "in")
    result = cli("detect", root / "in", root / "found", "--method", "detect-holes")
    assert result.exit_code == 0, result.output
    for rel, true_mask in truth.items():
        stem = Path(rel).with_suffix(".png")
        mask = cv2.imread(str(root / "found" / stem), cv2.IMREAD_UNCHANGED)
        confidence = cv2.imread(str(root / "found" / "confidence" / stem), cv2.IMREAD_UNCHANGED)
        assert mask.shape == true_mask.shape and set(np.unique(mask)) <= {0, 255}
        assert confidence.dtype == np.uint8 and (confidence[mask > 0] >= 128).all()
        if true_mask.any():
            assert detection_scores(true_mask, mask)["f1"] > 0.8, rel
    result = cli("restore", root / "in", root / "out", "--method", "telea", "--masks", root / "found")
    assert result.exit_code == 0, result.output
    assert "4 ok (4 new" in result.output
    restored = cv2.imread(str(root / "out" / "camera.png"), cv2.IMREAD_UNCHANGED)
    damaged = cv2.imread(str(root / "in" / "camera.png"), cv2.IMREAD_UNCHANGED)
    original = skimage.data.camera()[:192, :192]
    hole = truth["camera.png"]
    assert np.abs(restored.astype(int) - original)[hole].mean() < np.abs(damaged.astype(int) - original)[hole].mean() / 2
    # A curator paints over a missed spot in camera's mask: that file, and only that one, is redone.
    mask = cv2.imread(str(root / "found" / "camera.png"), cv2.IMREAD_UNCHANGED)
    mask[5:15, 5:15] = 255
    cv2.imwrite(str(root / "found" / "camera.png"), mask)
    result = cli("restore", root / "in", root / "out", "--method", "telea", "--masks", root / "found")
    assert result.exit_code == 0 and "4 ok (0 new, 1 changed, 3 skipped)" in result.output, result.output
    assert digest(root / "in") == before


def test_restore_archive_restores_an_unmarked_archive_and_reports_its_condition(unmarked):
    root, truth = unmarked
    before = digest(root / "in")
    result = cli("restore-archive", root / "in", root / "out", "--detect", "detect-classical", "--workers", "2")
    assert result.exit_code == 0, result.output
    out = root / "out"
    table = pd.read_csv(out / "report" / "condition.csv")
    assert sorted(table["path"]) == sorted(truth) and (table["status"] == "ok").all()
    for column in ("damage_holes", "damage_scratches", "noise_sigma", "sharpness", "clipped", "seconds", "detect", "inpaint"):
        assert column in table.columns
    rows = table.set_index("path")
    assert rows.loc["noisy.png", "noise_sigma"] > 10 and rows.loc["noisy.png", "denoise"] == "nlm"  # noisy: denoised
    assert pd.isna(rows.loc["camera.png", "denoise"]) or rows.loc["camera.png", "denoise"] == ""  # clean scan: not denoised
    for rel, true_mask in truth.items():
        stem = Path(rel).with_suffix(".png")
        restored = cv2.imread(str(out / "restored" / rel), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / "masks" / stem), cv2.IMREAD_UNCHANGED) > 0
        synthesised = cv2.imread(str(out / "synthesised" / stem), cv2.IMREAD_UNCHANGED)
        source = cv2.imread(str(root / "in" / rel), cv2.IMREAD_UNCHANGED)
        assert restored.dtype == source.dtype and restored.shape == source.shape  # 16-bit stays 16-bit
        assert (synthesised[mask] == 255).all() and (synthesised[~mask] != 255).all()
        if rows.loc[rel, "denoise"] != "nlm":  # not denoised: every pixel the map calls original is the input's
            original = synthesised == 0
            assert (restored[original] == source[original]).all()
        if true_mask.any():
            assert detection_scores(true_mask, mask)["recall"] > 0.8, rel
    assert "Restoration of" in (out / "report" / "report.md").read_text()
    assert (out / "report" / "contact_sheet.png").stat().st_size > 10_000
    assert digest(root / "in") == before  # the originals are untouched
    again = cli("restore-archive", root / "in", root / "out", "--detect", "detect-classical")
    assert again.exit_code == 0 and "4 ok (0 new, 0 changed, 4 skipped)" in again.output, again.output


def test_restore_archive_uses_supplied_masks_where_present(unmarked):
    root, truth = unmarked
    supplied = np.zeros((192, 192), np.uint8)
    supplied[50:70, 50:70] = 255
    write_png(root / "masks" / "camera.png", supplied)
    result = cli("restore-archive", root / "in", root / "out", "--detect", "detect-holes", "--denoise", "none", "--masks", root / "masks")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(root / "out" / "report" / "condition.csv").set_index("path")
    assert table.loc["camera.png", "detect"] == "supplied mask" and table.loc["noisy.png", "detect"] == "detect-holes"
    np.testing.assert_array_equal(cv2.imread(str(root / "out" / "masks" / "camera.png"), cv2.IMREAD_UNCHANGED), supplied)
    assert table["denoise"].isna().all() or (table["denoise"].fillna("") == "").all()


def test_bad_detector_names_are_usage_errors(unmarked):
    root, _ = unmarked
    result = cli("detect", root / "in", root / "found", "--method", "telea")
    assert result.exit_code == 2 and "unknown detect 'telea'" in result.output
    result = cli("restore-archive", root / "in", root / "out", "--inpaint", "nlm")
    assert result.exit_code == 2 and "unknown inpaint 'nlm'" in result.output
    assert not (root / "found").exists() and not (root / "out").exists()
