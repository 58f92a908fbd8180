"""The train command and flow: a model directory, artifacts, resume, and restore with --model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_png
from tests.flows.test_end_to_end import cli

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


@pytest.fixture()
def data(tmp_path, camera, astronaut):
    write_png(tmp_path / "data" / "camera.png", camera)
    write_png(tmp_path / "data" / "astronaut.png", astronaut)
    return tmp_path / "data"


def test_train_writes_a_model_with_artifacts_and_resumes(tmp_path, data):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    out = tmp_path / "model"
    small = ["--batch-size", "2", "--patch", "32", "--validate-every", "2", "--checkpoint-every", "2"]
    result = cli("train", "--task", "vae", "--data", data, "--out", out, "--steps", "3", *small)
    assert result.exit_code == 0, result.output
    for name in ("weights.pt", "model.json", "checkpoint.pt", "loss.png", "samples.png", "history.csv"):
        assert (out / name).stat().st_size > 0, name
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["steps_done"] == 3 and card["training"]["command"].startswith("archive-restore train")
    assert [v["step"] for v in card["validation_history"]] == [0, 2, 3]

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["train-vae-progress", "train-vae-validation", "train-vae-report"]))
        )
    assert {a.key for a in found} == {"train-vae-progress", "train-vae-validation", "train-vae-report"}
    report = next(a for a in found if a.key == "train-vae-report")
    assert "loss.png" in report.data and "hole_psnr" in report.data

    again = cli("train", "--task", "vae", "--data", data, "--out", out, "--steps", "3", *small)
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = cli("train", "--task", "vae", "--data", data, "--out", out, "--steps", "5", "--resume", *small)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((out / "model.json").read_text())["training"]["steps_done"] == 5


def test_restore_with_a_trained_model_through_the_cli(tmp_path, data, camera):
    out = tmp_path / "den"
    assert cli("train", "--task", "denoise", "--data", data, "--out", out, "--steps", "2", "--batch-size", "2", "--patch", "32").exit_code == 0
    noisy = np.clip(camera + np.random.default_rng(0).normal(0, 20, camera.shape), 0, 255).astype(np.uint8)
    write_png(tmp_path / "noisy" / "camera.png", noisy)
    result = cli("restore", tmp_path / "noisy", tmp_path / "restored", "--method", "cnn-denoise", "--model", out, "--sigma", "20", "--tile", "64")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "restored" / "camera.png").exists()
    bad = cli("restore", tmp_path / "noisy", tmp_path / "r2", "--method", "telea", "--model", out)
    assert bad.exit_code != 0 and "does not take model" in bad.output


def test_package_images_writes_the_held_out_set_and_refuses_unknown_sets(tmp_path):
    result = cli("package-images", tmp_path / "held", "--set", "held-out")
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "held").rglob("*.png")}
    assert {"camera.png", "astronaut.png", "page.png"} <= names and "chelsea.png" not in names
    bad = cli("package-images", tmp_path / "x", "--set", "benchmarks")
    assert bad.exit_code != 0 and "unknown image set" in bad.output
