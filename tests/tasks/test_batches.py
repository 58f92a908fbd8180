"""Batch tasks: each task run is named after what it restores, and gets its jobs whole."""

from __future__ import annotations

import pytest

from tests.conftest import crops, write_png

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def test_task_runs_are_named_after_their_first_file_and_how_many_follow(tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.restore import restore_flow

    for k, image in enumerate(crops(5, 48)):
        write_png(tmp_path / "in" / f"scan{k}.png", image)
    state = restore_flow(str(tmp_path / "in"), str(tmp_path / "out"), "tv", workers=1, return_state=True)
    records = state.result()
    assert sorted(r.path for r in records if r.ok) == [f"scan{k}.png" for k in range(5)]
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    names = sorted(r.name for r in runs if r.name.startswith("restore-"))
    assert names == ["restore-tv-scan0.png+1", "restore-tv-scan2.png+1", "restore-tv-scan4.png"]  # 5 files, 1 worker: batches of 2
