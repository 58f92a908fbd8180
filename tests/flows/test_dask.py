"""The benchmark flow on a 2-worker Dask LocalCluster gives the same report as on threads."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import write_png

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_benchmark_on_a_local_dask_cluster_equals_threads(tmp_path, camera, astronaut):
    from flows.benchmark import benchmark_flow
    from flows.runner import with_runner

    write_png(tmp_path / "archive" / "camera.png", camera)
    write_png(tmp_path / "archive" / "sub" / "astronaut.png", astronaut)
    args = {"methods": ["telea", "tv"], "damage": ["holes", "gaussian"], "seed": 5, "workers": 2}
    threads = with_runner(benchmark_flow, workers=2, kind="threads")(str(tmp_path / "archive"), str(tmp_path / "threads"), **args)
    dask = with_runner(benchmark_flow, workers=2, kind="dask")(str(tmp_path / "archive"), str(tmp_path / "dask"), **args)
    assert not threads["failed"] and not dask["failed"]
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
