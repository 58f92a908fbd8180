"""End-to-end: the CLI and flows on real images, under one Prefect test server."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import tifffile
from pydicom.data import get_testdata_file
from typer.testing import CliRunner

from restoration.registry import REGISTRY
from tests.conftest import keep_screenshots, write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def cli(*args: str):
    from flows.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def png_folder(tmp_path, camera, astronaut):
    """Folder of PNGs (gray, RGB, nested) and a folder of masks for them."""
    import skimage.data

    images = {"camera.png": camera, "sub/astronaut.png": astronaut, "sub/deep/coins.png": skimage.data.coins()[:96, :128]}
    rng = np.random.default_rng(0)
    for rel, image in images.items():
        write_png(tmp_path / "in" / rel, image)
        mask = np.zeros(image.shape[:2], np.uint8)
        for _ in range(6):
            y, x = rng.integers(0, image.shape[0] - 12), rng.integers(0, image.shape[1] - 12)
            mask[y : y + 10, x : x + 12] = 255
        write_png(tmp_path / "masks" / rel, mask)
    return tmp_path, list(images)


def test_restore_telea_equals_opencv_image_for_image(png_folder):
    root, rels = png_folder
    result = cli("restore", root / "in", root / "out", "--method", "telea", "--masks", root / "masks")
    assert result.exit_code == 0, result.output
    for rel in rels:
        source = cv2.imread(str(root / "in" / rel), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(root / "masks" / rel), cv2.IMREAD_UNCHANGED)
        expected = cv2.inpaint(source, mask, 5, cv2.INPAINT_TELEA)
        np.testing.assert_array_equal(cv2.imread(str(root / "out" / rel), cv2.IMREAD_UNCHANGED), expected)


def test_corrupt_file_fails_by_name_and_the_batch_completes(png_folder):
    root, rels = png_folder
    (root / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = cli("restore", root / "in", root / "out", "--method", "navier-stokes", "--masks", root / "masks")
    assert result.exit_code == 1
    assert "broken.png" in result.output and "corrupt or truncated" in result.output
    assert all((root / "out" / rel).exists() for rel in rels)
    assert not (root / "out" / "broken.png").exists()


def test_damage_restore_evaluate_chain_improves_the_hole(tmp_path, camera):
    write_png(tmp_path / "clean" / "camera.png", camera)
    assert cli("damage", tmp_path / "clean", tmp_path / "dmg", "--kind", "holes", "--seed", "7", "--ratio", "0.1-0.2").exit_code == 0
    mask = cv2.imread(str(tmp_path / "dmg" / "masks" / "camera.png"), cv2.IMREAD_UNCHANGED)
    assert 0.1 <= (mask > 0).mean() <= 0.2
    masks = tmp_path / "dmg" / "masks"
    assert cli("restore", tmp_path / "dmg", tmp_path / "fixed", "--method", "biharmonic", "--masks", masks).exit_code == 0
    assert not (tmp_path / "fixed" / "masks").exists()  # the masks folder is not an input
    assert cli("evaluate", tmp_path / "fixed", tmp_path / "clean", "--masks", masks, "--out", tmp_path / "fixed.csv").exit_code == 0
    assert cli("evaluate", tmp_path / "dmg", tmp_path / "clean", "--masks", masks, "--out", tmp_path / "dmg.csv").exit_code == 0
    fixed, damaged = pd.read_csv(tmp_path / "fixed.csv"), pd.read_csv(tmp_path / "dmg.csv")
    assert list(fixed["path"]) == ["camera.png"]
    assert fixed["hole_psnr"][0] > damaged["hole_psnr"][0] + 10
    assert fixed["psnr"][0] > damaged["psnr"][0]


def test_unknown_method_and_misspelt_option_are_clear_errors(tmp_path):
    result = CliRunner().invoke(__import__("flows.cli", fromlist=["app"]).app, ["restore", str(tmp_path), str(tmp_path / "o"), "--method", "teela"])
    assert result.exit_code == 2 and "choose from" in result.output
    result = CliRunner().invoke(
        __import__("flows.cli", fromlist=["app"]).app, ["restore", str(tmp_path), str(tmp_path / "o"), "--method", "nlm", "--radius", "3"]
    )
    assert result.exit_code == 2 and "does not take radius" in result.output


def _small_archive(tmp_path: Path, camera: np.ndarray) -> Path:
    src = tmp_path / "src"
    write_png(src / "photos" / "camera.png", camera)
    tifffile.imwrite(src / "scans" / "scan16.tif", (255 - camera).astype(np.uint16) * 257, photometric="minisblack") if (src / "scans").mkdir(
        parents=True
    ) is None else None
    (src / "medical").mkdir()
    shutil.copyfile(get_testdata_file("MR_small.dcm"), src / "medical" / "MR_small.dcm")
    (src / "broken.png").write_bytes(b"not a png at all")
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(src).as_posix())
    return archive


def test_benchmark_end_to_end_with_reports_and_artifacts(tmp_path, camera):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    archive = _small_archive(tmp_path, camera)
    args = ["benchmark", archive, "--methods", "telea,biharmonic,nlm,tv", "--damage", "holes,gaussian", "--seed", "3"]
    result = cli(*args, "--out", tmp_path / "run1")
    assert result.exit_code == 1  # the broken file is quarantined, and said so
    assert "QUARANTINED broken.png" in result.output
    report = tmp_path / "run1" / "report"
    for name in ("per_image.csv", "per_image.parquet", "summary.csv", "summary.parquet", "summary.md", "summary.html", "contact_sheet.png"):
        assert (report / name).stat().st_size > 0, name
    manifest = pd.read_csv(tmp_path / "run1" / "manifest.csv")
    assert set(manifest["status"]) == {"ok", "quarantined"}
    assert manifest.loc[manifest["path"] == "scans/scan16.tif", "bit_depth"].item() == 16

    per_image = pd.read_parquet(report / "per_image.parquet")
    # restore-archive's inpainter also restores from the default detector's masks, scored on the true damage.
    assert set(per_image["method"]) == {"damaged", "telea", "biharmonic", "nlm", "tv", "telea+detect-classical"}
    detection = pd.read_csv(report / "detection.csv")
    # Every detector looks at the clean archive; on holes, those made to find holes (and those that find every kind).
    by_damage = detection.groupby("damage")["detector"].agg(set)
    assert set(by_damage.index) == {"holes", "clean"}
    assert by_damage["clean"] == set(REGISTRY.names(kind="detect", available_only=True))
    assert by_damage["holes"] == {"detect-unet", "detect-classical", "detect-holes"}
    found = detection.set_index(["damage", "detector"])
    # (pooled over a photo, a 16-bit scan and an MR slice whose black background hides black holes)
    assert found.loc[("holes", "detect-holes"), "f1"] > 0.5 and found.loc[("clean", "detect-holes"), "flagged"] < 0.01
    assert set(per_image["modality"]) == {"scan-gray", "MR"}
    holes = per_image[per_image["damage"] == "holes"].pivot_table(index="path", columns="method", values="hole_psnr")
    assert (holes["telea"] > holes["damaged"]).all() and (holes["biharmonic"] > holes["damaged"]).all()
    noise = per_image[per_image["damage"] == "gaussian"].pivot_table(index="path", columns="method", values="psnr")
    assert (noise["nlm"] > noise["damaged"]).all()
    summary = pd.read_csv(report / "summary.csv")
    assert {"psnr_ci_low", "psnr_ci_high", "ratio_bin", "n"} <= set(summary.columns)
    assert (summary["psnr_ci_low"] <= summary["psnr"] + 1e-9).all()

    with get_client(sync_client=True) as client:
        keys = {
            a.key
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["benchmark-summary", "benchmark-report", "benchmark-progress"]))
            )
        }
    assert keys == {"benchmark-summary", "benchmark-report", "benchmark-progress"}

    # Same inputs and seed: byte-identical masks and report tables, in a fresh folder and on a rerun in the same one
    # (summary.html is the page around them: it also shows the run's date and timings).
    tables = ["per_image.csv", "per_image.parquet", "summary.csv", "summary.parquet", "summary.md"]
    first = {name: (report / name).read_bytes() for name in tables}
    masks = {p.relative_to(tmp_path / "run1").as_posix(): p.read_bytes() for p in (tmp_path / "run1" / "damaged").rglob("masks/**/*") if p.is_file()}
    assert len(masks) >= 6
    assert cli(*args, "--out", tmp_path / "run2").exit_code == 1
    rerun = cli(*args, "--out", tmp_path / "run1")
    assert rerun.exit_code == 1
    for run in ("run2", "run1"):
        for name in tables:
            assert (tmp_path / run / "report" / name).read_bytes() == first[name], (run, name)
        for rel, data in masks.items():
            assert (tmp_path / run / rel).read_bytes() == data, (run, rel)


@pytest.fixture(scope="module")
def failing_benchmark(tmp_path_factory, prefect_harness):
    """A benchmark in which `tv` fails on one file (wide.png), with an odd-sized image (127 x 93) among the others."""
    import skimage.data

    import restoration.registry as registry
    from flows.benchmark import benchmark_flow

    camera = skimage.data.camera()[160:288, 200:328]
    root = tmp_path_factory.mktemp("failing")
    entry = registry.REGISTRY.get("tv")

    def fragile(image, *, sigma=None, value_range=None):
        if image.shape == (96, 128):
            raise ValueError("this file upsets tv")
        return entry.func(image, sigma=sigma)

    write_png(root / "in" / "camera.png", camera)
    write_png(root / "in" / "odd.png", camera[:127, :93])
    write_png(root / "in" / "wide.png", np.tile(camera, (1, 2))[:96, :128])
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.REGISTRY._entries, "tv", type(entry)(**{**entry.__dict__, "func": fragile}))
        state = benchmark_flow(
            str(root / "in"), str(root / "out"), methods=["tv", "bicubic"], damage=["gaussian", "downscale"], detectors=[], workers=1, return_state=True
        )
    return state, root / "out" / "report"


def test_benchmark_failures_are_rows_with_their_reasons_and_odd_sizes_upscale_cleanly(failing_benchmark):
    """A method failing on one file: a per-image row with the reason, named in summary.md/html, a run "Completed with failures";
    an odd-sized image goes through downscale and back without failing."""
    from flows.steps import COMPLETED_WITH_FAILURES

    state, report = failing_benchmark
    assert state.is_completed() and state.name == COMPLETED_WITH_FAILURES and "1 of" in state.message and "wide.png" in state.message
    per_image = pd.read_parquet(report / "per_image.parquet")
    failed = per_image[per_image["status"] == "failed"]
    assert failed[["damage", "method", "path"]].values.tolist() == [["gaussian", "tv", "wide.png"]]
    assert "this file upsets tv" in failed["error"].item() and np.isnan(failed["psnr"].item())
    upscaled = per_image[(per_image["method"] == "bicubic") & (per_image["status"] == "ok")]
    assert sorted(upscaled["path"]) == ["camera.png", "odd.png", "wide.png"] and (upscaled["psnr"] > 20).all()
    summary = pd.read_parquet(report / "summary.parquet")
    assert summary.loc[(summary["method"] == "tv"), "n"].sum() == 2  # the failure is not a score
    for name in ("summary.md", "summary.html"):
        text = (report / name).read_text()
        assert "Failed: 1" in text and "wide.png" in text and "this file upsets tv" in text, name


def test_the_summary_page_reads_well_in_headless_chromium(failing_benchmark, chromium, tmp_path):
    """What a curator sees: the title and what ran, the failure named, the best method highlighted, every image drawn, offline."""
    from selenium.webdriver.common.by import By

    _, report = failing_benchmark
    driver = chromium
    driver.get((report / "summary.html").as_uri())
    body = driver.find_element(By.TAG_NAME, "body").text
    assert driver.title == "Benchmark of in" and "Benchmark of in" in body
    assert "damage\ngaussian, downscale" in body or "gaussian, downscale" in body
    assert "Failed: 1" in body and "wide.png" in body and "this file upsets tv" in body
    best = driver.find_elements(By.CSS_SELECTOR, "tr.best")
    assert best and all(row.find_element(By.TAG_NAME, "td").value_of_css_property("font-weight") in ("600", "700") for row in best)
    images = driver.find_elements(By.TAG_NAME, "img")
    assert len(images) >= 4  # plots, crops, contact sheet
    assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img) for img in images)
    assert {img.get_attribute("alt") for img in images} >= {"contact sheet", "reference", "damaged", "restored"}
    driver.save_screenshot(str(tmp_path / "summary-page.png"))
    assert (tmp_path / "summary-page.png").stat().st_size > 10_000
    keep_screenshots(tmp_path / "summary-page.png")


def test_missing_input_is_a_clear_error(tmp_path):
    result = cli("restore", tmp_path / "nope", tmp_path / "out", "--method", "telea")
    text = " ".join(result.output.replace("│", " ").split())  # undo rich's box and wrapping
    assert result.exit_code == 2 and "does not exist" in text


def test_ingest_cli_quarantines_and_names_the_bad_file(tmp_path, camera):
    write_png(tmp_path / "arch" / "good.png", camera)
    (tmp_path / "arch" / "bad.tif").write_bytes(b"II*\x00garbage")
    result = cli("ingest", tmp_path / "arch", "--out", tmp_path / "out")
    assert result.exit_code == 1 and "QUARANTINED bad.tif" in result.output
    manifest = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert dict(zip(manifest["path"], manifest["status"])) == {"bad.tif": "quarantined", "good.png": "ok"}
    assert manifest.loc[manifest["path"] == "good.png", "item_id"].item().endswith(":0")
