"""Incremental and resumable runs: unchanged files are skipped, touched ones redone, a killed run finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import crops, write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


@pytest.fixture()
def archive(tmp_path):
    for k, image in enumerate(crops(5, 64)):
        write_png(tmp_path / "in" / f"scan{k}.png", image)
    return tmp_path / "in"


def counts(records):
    from flows.steps import run_counts

    return run_counts(records)


def test_rerun_skips_unchanged_and_redoes_what_changed(archive, tmp_path):
    from flows.restore import restore_flow

    out = tmp_path / "out"
    assert counts(restore_flow(str(archive), str(out), "tv")) == {"new": 5, "changed": 0, "skipped": 0, "failed": 0, "left-out": 0}
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    os.utime(archive / "scan0.png")  # touched, same bytes: still skipped (keys are content hashes)
    second = restore_flow(str(archive), str(out), "tv")
    assert counts(second) == {"new": 0, "changed": 0, "skipped": 5, "failed": 0, "left-out": 0}
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == stamps  # nothing rewritten

    write_png(archive / "scan1.png", 255 - cv2.imread(str(archive / "scan1.png"), cv2.IMREAD_UNCHANGED))  # new content
    write_png(archive / "scan9.png", crops(6, 64)[5])  # a file added to the archive
    (out / "scan2.png").unlink()  # an output lost
    third = restore_flow(str(archive), str(out), "tv")
    by_path = {r.path: r.run for r in third}
    assert by_path == {
        "scan0.png": "skipped",
        "scan1.png": "changed",
        "scan2.png": "changed",
        "scan3.png": "skipped",
        "scan4.png": "skipped",
        "scan9.png": "new",
    }
    assert (out / "scan2.png").exists() and (out / "scan1.png").stat().st_mtime_ns != stamps["scan1.png"]

    # Other options, or another method, into the same folder: everything is redone.
    assert counts(restore_flow(str(archive), str(out), "tv", options={"sigma": 20.0}))["changed"] == 6
    assert counts(restore_flow(str(archive), str(out), "wavelet"))["changed"] == 6


def test_report_artifact_counts_new_skipped_failed(archive, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    from flows.restore import restore_flow

    restore_flow(str(archive), str(tmp_path / "out"), "wavelet")
    (archive / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    records = restore_flow(str(archive), str(tmp_path / "out"), "wavelet")
    assert counts(records) == {"new": 0, "changed": 0, "skipped": 5, "failed": 1, "left-out": 0}
    with get_client(sync_client=True) as client:
        latest = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["restore-report"])), sort=ArtifactSort.CREATED_DESC, limit=1)[
            0
        ]
    assert "| 0 | 0 | 5 | 1 | 0 |" in latest.data and "broken.png" in latest.data


def test_retrained_model_redoes_the_files(tmp_path, archive):
    import shutil

    import torch

    from flows.restore import restore_flow
    from restoration.learned.catalog import default_model_dir

    model = tmp_path / "model"
    shutil.copytree(default_model_dir("cnn-denoise"), model)
    options = {"model": str(model), "sigma": 15.0}
    assert counts(restore_flow(str(archive), str(tmp_path / "out"), "cnn-denoise", options=options))["new"] == 5
    assert counts(restore_flow(str(archive), str(tmp_path / "out"), "cnn-denoise", options=options))["skipped"] == 5
    state = torch.load(model / "weights.pt", weights_only=True)
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = state[first] * 1.01  # "retrained": same directory, other weights
    torch.save(state, model / "weights.pt")
    assert counts(restore_flow(str(archive), str(tmp_path / "out"), "cnn-denoise", options=options))["changed"] == 5


def _api_env(tmp_path: Path) -> dict:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "OMP_NUM_THREADS": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}


def test_killed_run_restarts_and_finishes_without_partial_files(tmp_path):
    """kill -9 half way through, start again: finished files are kept, the rest done, every output valid."""
    from restoration.io import read_image_file

    archive = tmp_path / "in"
    for k, image in enumerate(crops(48, 192)):
        write_png(archive / f"{k // 16}" / f"scan{k:02d}.png", image)
    restore = [sys.executable, "-m", "flows", "restore", str(archive), "--method", "nlm", "--sigma", "20", "--workers", "1"]
    env = _api_env(tmp_path)

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*restore[:4], str(archive), str(out), *restore[5:]], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    sidecars = out / ".provenance"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(list(sidecars.rglob("*.json"))) < 8:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.relative_to(sidecars).as_posix()[: -len(".json")] for p in sidecars.rglob("*.json")}
    assert 8 <= len(done_before) < 48, "the run was not killed half way"
    # What a kill in the middle of a write leaves: a hidden temp file beside the output.
    (out / "2").mkdir(parents=True, exist_ok=True)
    (out / "2" / ".scan40.png.arestore-tmp-4242-k1ll3d.png").write_bytes(b"\x89PNG half")

    again = subprocess.run([*restore[:4], str(archive), str(out), *restore[5:]], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"48 ok ({48 - len(done_before)} new, 0 changed, {len(done_before)} skipped), 0 failed" in again.stdout, again.stdout

    reference = tmp_path / "reference"
    clean = subprocess.run([*restore[:4], str(archive), str(reference), *restore[5:]], env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert not [p for p in out.rglob("*") if ".arestore-tmp-" in p.name]
    outputs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png") if ".provenance" not in p.parts)
    assert len(outputs) == 48
    for rel in outputs:  # every output complete and equal to the uninterrupted run's
        np.testing.assert_array_equal(read_image_file(out / rel).frames[0], read_image_file(reference / rel).frames[0])
