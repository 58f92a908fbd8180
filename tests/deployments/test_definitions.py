"""The deployments build offline with the expected schedules and parameters; prefect.yaml says the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PATH_PARAMETERS = {"input_path", "output_dir", "masks_dir", "archive", "out_dir", "data_dir"}


@pytest.fixture(scope="module")
def built():
    from deployments.definitions import build_deployments, load_config

    return {d.name: d for d in build_deployments(load_config())}


def test_default_schedule_builds_three_deployments(built):
    from deployments.definitions import load_config

    config = load_config()
    assert {(d.flow_name, n) for n, d in built.items()} == {("restore", "nightly"), ("benchmark", "weekly"), ("train", "on-demand")}
    nightly, weekly = built["nightly"].schedules[0].schedule, built["weekly"].schedules[0].schedule
    assert (nightly.cron, nightly.timezone) == ("0 2 * * *", "Europe/Berlin")
    assert (weekly.cron, weekly.timezone) == ("0 4 * * 0", "Europe/Berlin")
    assert built["on-demand"].schedules == []
    assert all(d.concurrency_limit == 1 for d in built.values())  # no two runs write one output folder
    assert built["nightly"].parameters["input_path"] == str(ROOT / "demo-out" / "archive") == config.restore.archive
    # The UI draws a form from the schema: restore options are a pydantic model with descriptions.
    schema = built["nightly"]._parameter_openapi_schema.model_dump()
    assert "Noise sigma" in schema["definitions"]["RestoreOptions"]["properties"]["sigma"]["description"]


def test_deployment_parameters_are_valid_for_their_flows(built):
    from flows.benchmark import benchmark_flow
    from flows.restore import restore_flow
    from flows.train import train_flow

    flows = {"restore": restore_flow, "benchmark": benchmark_flow, "train": train_flow}
    for deployment in built.values():
        flows[deployment.flow_name].validate_parameters(deployment.parameters)  # raises on a wrong name or type


def test_prefect_yaml_matches_the_definitions(built):
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} == set(built)
    for entry in spec["deployments"]:
        ours = built[entry["name"]]
        assert entry["entrypoint"] == ours.entrypoint
        assert entry["concurrency_limit"] == ours.concurrency_limit
        assert entry["work_pool"]["name"] == "archive-restoration"
        assert entry["work_pool"]["job_variables"]["env"]["PREFECT_LOGGING_EXTRA_LOGGERS"] == "restoration"
        assert [(s["cron"], s["timezone"]) for s in entry["schedules"]] == [(s.schedule.cron, s.schedule.timezone) for s in ours.schedules]
        resolved = {k: str(ROOT / v) if k in PATH_PARAMETERS and v else v for k, v in entry["parameters"].items()}
        assert resolved == ours.parameters


def test_bad_schedule_files_are_refused_by_name(tmp_path):
    from deployments.definitions import load_config

    text = (ROOT / "deployments" / "schedule.toml").read_text()
    bad_zone = tmp_path / "zone.toml"
    bad_zone.write_text(text.replace('"Europe/Berlin"', '"Mars/Olympus"'))
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load_config(bad_zone)
    typo = tmp_path / "typo.toml"
    typo.write_text(text.replace('method = "nlm"', 'methd = "nlm"'))
    with pytest.raises(ValueError, match="methd"):
        load_config(typo)
    with pytest.raises(ValueError, match="nope.toml"):
        load_config(tmp_path / "nope.toml")


def test_environment_sends_served_flows_to_dask():
    code = "from flows.restore import restore_flow; r = restore_flow.task_runner; print(type(r).__name__, getattr(r, 'address', None))"
    env = {**os.environ, "ARCHIVE_RESTORE_TASK_RUNNER": "dask", "ARCHIVE_RESTORE_DASK_ADDRESS": "tcp://10.1.2.3:8786"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["DaskTaskRunner", "tcp://10.1.2.3:8786"]
