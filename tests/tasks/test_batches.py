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
    import time

    deadline = time.monotonic() + 30  # task runs reach the server as events, a moment after the flow returns
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
        names = sorted(r.name for r in runs if r.name.startswith("restore-"))
        if len(names) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert names == ["restore-tv-scan0.png+1", "restore-tv-scan2.png+1", "restore-tv-scan4.png"]  # 5 files, 1 worker: batches of 2


def test_a_training_progress_line_says_which_step_its_validation_is_from():
    from restoration.learned.training import TrainingSettings, TrainingState
    from tasks.train import progress_line

    settings = TrainingSettings(task="denoise", steps=50)
    state = TrainingState(step=25, history=[{"step": 25, "lr": 1e-3, "loss": 0.0123}], validations=[{"step": 0, "psnr": 20.123}])
    assert progress_line(state, settings) == "step 25/50 loss 0.01230 lr 1.00e-03; validation at step 0: psnr 20.123"
    state.validations.append({"step": 50, "psnr": 28.5})
    state.step = 50
    assert progress_line(state, settings).endswith("validation at step 50: psnr 28.500")
    assert (
        progress_line(TrainingState(step=1, history=[{"step": 1, "lr": 1e-4, "loss": 1.0}], validations=[]), settings) == "step 1/50 loss 1.00000 lr 1.00e-04"
    )
