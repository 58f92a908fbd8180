"""Evaluation task over a batch of (test, reference, mask) files."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from restoration.pipeline import evaluate_file
from tasks.common import TASK_OPTIONS, run_jobs


@task(name="evaluate", task_run_name="evaluate-{label}", **TASK_OPTIONS)
def evaluate_batch(jobs: list[dict], label: str = "") -> list[dict]:
    """Per-frame PSNR/SSIM rows for each job (labels such as method and damage are copied in)."""
    return run_jobs(
        jobs,
        lambda job: evaluate_file(
            Path(job["test"]),
            Path(job["reference"]),
            rel=job["rel"],
            mask_path=Path(job["mask"]) if job.get("mask") else None,
        ),
    )
