"""Training task: one model, with a progress artifact that moves as steps finish."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import task_run

from restoration.learned.training import CHECKPOINT, TrainingSettings, TrainingState, train_model


def _retry_unless_refused(task, task_run, state) -> bool:
    """Retry crashes and I/O errors; a refusal (bad data, checkpoint rules) would only fail again."""
    return not isinstance(state.result(raise_on_failure=False), ValueError)


def progress_line(state: TrainingState, settings: TrainingSettings) -> str:
    """What a training run logs as it goes: step, loss, learning rate, and the last validation scores with the step they are from.

    Validation runs every ``validate_every`` steps, so between two the last
    scores are older than the step: the line says which step they are from.
    """
    last = state.history[-1]
    line = f"step {state.step}/{settings.steps} loss {last['loss']:.5f} lr {last['lr']:.2e}"
    if state.validations:
        val = state.validations[-1]
        line += f"; validation at step {val['step']}: " + " ".join(f"{k} {v:.3f}" for k, v in val.items() if k != "step")
    return line


@task(name="train-model", task_run_name="train-{settings.task}", retries=1, retry_delay_seconds=5, retry_condition_fn=_retry_unless_refused)
def train_model_task(
    settings: TrainingSettings, data: list[str] | str, output: str, masks: str | None, resume: bool, command: str, data_licence: str = ""
) -> dict:
    """Train and write the model directory; a retry resumes from the last checkpoint."""
    logger = get_run_logger()
    if task_run.run_count > 1 and (Path(output) / CHECKPOINT).exists():
        logger.warning("retrying: resuming from %s", Path(output) / CHECKPOINT)
        resume = True
    artifact = create_progress_artifact(progress=0.0, key=f"train-{settings.task}-progress", description=f"train {settings.task}: steps done")

    def progress(state: TrainingState, s: TrainingSettings) -> None:
        update_progress_artifact(artifact, progress=100.0 * state.step / s.steps)
        logger.info(progress_line(state, s))

    return train_model(settings, data, output, masks_dir=masks, data_licence=data_licence, resume=resume, command=command, progress=progress)
