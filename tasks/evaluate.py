"""Evaluation task over a batch of (test, reference, mask) files."""

from __future__ import annotations

from prefect import task

from restoration.jobs import Jobs, Records
from tasks.common import TASK_OPTIONS, batch_run_name, run_jobs


@task(name="evaluate", task_run_name=batch_run_name("evaluate"), **TASK_OPTIONS)
def evaluate_batch(jobs: Jobs) -> Records:
    """Per-frame PSNR/SSIM records of each job (its labels, such as method and damage, copied in)."""
    return run_jobs(jobs)
