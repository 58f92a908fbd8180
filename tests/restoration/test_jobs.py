"""Typed jobs and records: a plain loop over jobs does what the tasks do, sidecars decide what is skipped."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from restoration.jobs import DamageJob, EvaluationJob, Jobs, Record, Records, RestoreJob, failed, run_recorded
from restoration.pipeline import restore_settings
from restoration.provenance import sidecar_path
from tests.conftest import write_png


@pytest.fixture()
def scan(tmp_path):
    rng = np.random.default_rng(0)
    clean = np.clip(np.add.outer(np.arange(48), np.arange(48)) * 2 + rng.normal(0, 3, (48, 48)), 0, 255).astype(np.uint8)
    write_png(tmp_path / "in" / "a.png", clean)
    return tmp_path


def test_damage_restore_evaluate_jobs_in_a_plain_loop(scan):
    out = scan / "damaged"
    damage = DamageJob(
        rel="a.png", input=str(scan / "in" / "a.png"), output=str(out / "a.png"), mask_output=str(out / "masks" / "a.png"),
        kind="holes", seed=3, labels={"damage": "holes"}, sidecar=str(sidecar_path(out, "a.png")),
    )  # fmt: skip
    [damaged] = run_recorded(damage)
    assert damaged.ok and damaged.run == "new" and damaged.labels == {"damage": "holes"} and 0 < damaged.values["hole_ratio"] < 1
    restored_dir = scan / "restored"
    restore = RestoreJob(
        rel="a.png", input=damaged.output, output=str(restored_dir / "a.png"), mask=damaged.mask, settings=restore_settings("telea", {}),
        sidecar=str(sidecar_path(restored_dir, "a.png")),
    )  # fmt: skip
    [restored] = run_recorded(restore)
    baseline = run_recorded(EvaluationJob(rel="a.png", test=damaged.output, reference=str(scan / "in" / "a.png"), mask=damaged.mask))
    scores = run_recorded(EvaluationJob(rel="a.png", test=restored.output, reference=str(scan / "in" / "a.png"), mask=damaged.mask))
    assert scores[0].values["hole_psnr"] > baseline[0].values["hole_psnr"] + 10  # the holes were filled

    again = run_recorded(restore)
    assert [r.run for r in again] == ["skipped"] and again[0].values == restored.values  # read back from the sidecar
    with open(restored.output, "r+b") as fh:  # the output edited since: redone
        fh.seek(60)
        fh.write(b"\0\0\0")
    assert run_recorded(restore)[0].run == "changed"


def test_a_sidecar_from_an_older_version_is_redone_not_trusted(scan):
    out = scan / "restored"
    job = RestoreJob(
        rel="a.png", input=str(scan / "in" / "a.png"), output=str(out / "a.png"), settings=restore_settings("tv", {}), sidecar=str(sidecar_path(out, "a.png"))
    )
    run_recorded(job)
    body = json.loads(sidecar_path(out, "a.png").read_text())
    body["records"] = [{"path": "a.png", "status": "ok", "output": str(out / "a.png"), "method": "tv"}]  # the flat dicts of before
    sidecar_path(out, "a.png").write_text(json.dumps(body))
    [record] = run_recorded(job)
    assert record.run == "changed" and record.ok


def test_jobs_and_records_are_typed_and_travel_to_workers():
    settings = restore_settings("nlm", {"sigma": 10})
    job = RestoreJob(rel="x.png", input="/in/x.png", output="/out/x.png", settings=settings)
    assert pickle.loads(pickle.dumps(job)) == job  # a Dask worker gets the same job
    assert job.inputs() == {"input": "/in/x.png", "mask": None} and job.key_settings() == {"method": "nlm", "options": {"sigma": 10.0}}
    with pytest.raises(TypeError):
        RestoreJob(rel="x.png", input="/in/x.png", output="/out/x.png")  # no settings: refused when built, not when run
    with pytest.raises(TypeError):
        RestoreJob(rel="x.png", src="/in/x.png", output="/out/x.png", settings=settings)  # a misspelt field
    record = failed("x.png", "x.png: not an image", labels={"method": "nlm"})
    assert Record.from_json(json.loads(json.dumps(record.as_json()))) == record
    assert record.row() == {"path": "x.png", "method": "nlm", "status": "failed", "run": "new", "error": "x.png: not an image"}
    with pytest.raises((TypeError, ValueError)):
        Record.from_json({"path": "x.png", "status": "fine"})
    batch, records = Jobs([job, job]), Records([record])
    assert pickle.loads(pickle.dumps(batch)) == [job, job] and pickle.loads(pickle.dumps(records)) == records  # as Dask ships them
    assert list(records + [record]) == [record, record] and records[0] is record and isinstance(batch[:1], Jobs)
