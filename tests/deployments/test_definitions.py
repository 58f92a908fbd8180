"""The deployments build offline with the expected schedules and parameters; prefect.yaml says the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PATH_PARAMETERS = {"input", "output", "masks", "data", "archive"}


@pytest.fixture(scope="module")
def built():
    from deployments.definitions import build_deployments, load_config

    return {d.name: d for d in build_deployments(load_config())}


def test_default_schedule_builds_four_deployments(built):
    from deployments.definitions import load_config

    config = load_config()
    assert {(d.flow_name, n) for n, d in built.items()} == {
        ("restore", "nightly"), ("restore-archive", "nightly-repair"), ("benchmark", "weekly"), ("train", "on-demand")
    }  # fmt: skip
    repair = built["nightly-repair"]
    assert (repair.schedules[0].schedule.cron, repair.parameters["detect"], repair.parameters["denoise"]) == ("0 3 * * *", "detect-classical", "nlm")
    assert repair.parameters["archive"] == str(ROOT / "demo-out" / "archive") == config.restore_archive.input
    nightly, weekly = built["nightly"].schedules[0].schedule, built["weekly"].schedules[0].schedule
    assert (nightly.cron, nightly.timezone) == ("0 2 * * *", "Europe/Berlin")
    assert (weekly.cron, weekly.timezone) == ("0 4 * * 0", "Europe/Berlin")
    assert built["on-demand"].schedules == []
    assert all(d.concurrency_limit == 1 for d in built.values())  # no two runs write one output folder
    assert built["nightly"].parameters["input"] == str(ROOT / "demo-out" / "archive") == config.restore.input
    # The UI draws a form from the schema: restore options are a pydantic model with descriptions.
    schema = built["nightly"]._parameter_openapi_schema.model_dump()
    assert "Noise sigma" in schema["definitions"]["RestoreOptions"]["properties"]["sigma"]["description"]


def test_deployment_parameters_are_valid_for_their_flows(built):
    from flows.benchmark import benchmark_flow
    from flows.restore import restore_flow
    from flows.restore_archive import restore_archive_flow
    from flows.train import train_flow

    flows = {"restore": restore_flow, "benchmark": benchmark_flow, "train": train_flow, "restore-archive": restore_archive_flow}
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
    # A checkout elsewhere (CI, a colleague's clone) reads the same file: no path of this checkout is in it.
    assert str(ROOT) not in (ROOT / "prefect.yaml").read_text()


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


def test_prefect_yaml_is_generated_from_the_schedule_file(tmp_path):
    from deployments.prefect_yaml import main

    assert main(["--check"]) == 0  # the committed file is what the schedule file gives
    stale = tmp_path / "prefect.yaml"
    stale.write_text((ROOT / "prefect.yaml").read_text().replace("cron: 0 2 * * *", "cron: 0 3 * * *"))
    assert main(["--check", "--out", str(stale)]) == 1
    changed = tmp_path / "schedule.toml"
    changed.write_text((ROOT / "deployments" / "schedule.toml").read_text().replace("workers = 2", "workers = 5"))
    assert main(["--schedule", str(changed), "--out", str(stale)]) == 0
    spec = yaml.safe_load(stale.read_text())
    assert {d["name"]: d["work_pool"]["job_variables"]["env"]["ARCHIVE_RESTORE_WORKERS"] for d in spec["deployments"]} == dict.fromkeys(
        ["nightly-repair", "nightly", "weekly", "on-demand"], "5"
    )
    assert spec["deployments"][0]["parameters"]["workers"] == 5


def test_flow_modules_read_no_environment_at_import_and_runs_follow_the_schedule(tmp_path):
    # Importing a flow under a Dask environment still gives the deferred runner; the environment decides when a run starts.
    code = "from flows.restore import restore_flow; r = restore_flow.task_runner; print(type(r).__name__)"
    env = {**os.environ, "ARCHIVE_RESTORE_TASK_RUNNER": "dask", "ARCHIVE_RESTORE_DASK_ADDRESS": "tcp://10.1.2.3:8786"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["RunnerFromEnvironment"]

    from deployments.definitions import load_config, runner_environment
    from flows.restore import restore_flow

    schedule = tmp_path / "schedule.toml"
    schedule.write_text((ROOT / "deployments" / "schedule.toml").read_text().replace("workers = 2", "workers = 3"))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in runner_environment(load_config(schedule)).items():
            mp.setenv(name, value)
        runner = restore_flow.task_runner.duplicate()  # what Prefect enters when a run starts
        assert type(runner).__name__ == "ThreadPoolTaskRunner" and runner._max_workers == 3
        mp.setenv("ARCHIVE_RESTORE_TASK_RUNNER", "dask")
        mp.setenv("ARCHIVE_RESTORE_DASK_ADDRESS", "tcp://10.1.2.3:8786")
        runner = restore_flow.task_runner.duplicate()
        assert type(runner).__name__ == "DaskTaskRunner" and runner.address == "tcp://10.1.2.3:8786"
        mp.setenv("ARCHIVE_RESTORE_WORKERS", "zero")
        with pytest.raises(ValueError, match="ARCHIVE_RESTORE_WORKERS"):
            restore_flow.task_runner.duplicate()


def test_old_schedule_key_archive_still_reads(tmp_path):
    from deployments.definitions import load_config

    old = tmp_path / "schedule.toml"
    old.write_text((ROOT / "deployments" / "schedule.toml").read_text().replace('input = "../demo-out/archive"', 'archive = "../demo-out/archive"'))
    assert load_config(old).restore.input == str((tmp_path / "../demo-out/archive").resolve())


def test_a_scheduled_run_gets_its_meaningful_name_before_it_starts(tmp_path, prefect_harness):
    """Prefect schedules runs under random names; the served deployments' runs are renamed as they will run, paths by base name."""
    from prefect.client.orchestration import get_client

    from deployments.definitions import build_deployments, deployment_specs, load_config
    from deployments.run_names import name_scheduled_runs, name_templates

    config = load_config()
    templates = name_templates(deployment_specs(config))
    assert templates["restore/nightly"] == "restore-{method}-{input}" and templates["train/on-demand"] == "train-{task}-{data}"
    nightly = next(d for d in build_deployments(config) if d.name == "nightly")
    deployment_id = nightly.apply()
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(deployment_id)
        assert run.name != "restore-nlm-archive"  # a random name, as the scheduler gives
        assert name_scheduled_runs(client, templates) >= 1
        assert client.read_flow_run(run.id).name == "restore-nlm-archive"  # ../demo-out/archive, by its base name
        assert name_scheduled_runs(client, templates) == 0  # named once
        client.delete_flow_run(run.id)
