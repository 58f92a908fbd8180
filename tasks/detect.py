"""Damage-detection task over a batch of files."""

from __future__ import annotations

from prefect import task

from restoration.jobs import Jobs, Records
from tasks.common import TASK_OPTIONS, batch_run_name, run_jobs


@task(name="detect", task_run_name=batch_run_name("detect"), **TASK_OPTIONS)
def detect_batch(jobs: Jobs) -> Records:
    """Find the damage in each job's ``input``: mask into ``output``, confidence map into ``confidence``."""
    return run_jobs(jobs)
