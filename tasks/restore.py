"""Restoration task over a batch of files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from restoration.pipeline import restore_file
from tasks.common import TASK_OPTIONS, run_jobs


@task(name="restore", task_run_name="restore-{method}-{label}", **TASK_OPTIONS)
def restore_batch(jobs: list[dict], method: str, options: dict[str, Any], label: str = "") -> list[dict]:
    """Restore each job's ``src`` (with its ``mask``, if any) into ``dst``."""
    return run_jobs(
        jobs,
        lambda job: restore_file(
            Path(job["src"]),
            Path(job["dst"]),
            rel=job["rel"],
            method=method,
            mask_path=Path(job["mask"]) if job.get("mask") else None,
            options=options,
            model_dir=job.get("settings", {}).get("model_dir"),
            model_sha256=job.get("settings", {}).get("model_sha256"),
        ),
    )
