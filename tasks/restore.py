"""Restoration task over a batch of files."""

from __future__ import annotations

from prefect import task

from restoration.jobs import Jobs, Records
from tasks.common import TASK_OPTIONS, batch_run_name, run_jobs


@task(name="restore", task_run_name=batch_run_name("restore"), **TASK_OPTIONS)
def restore_batch(jobs: Jobs) -> Records:
    """Restore each job's ``input`` (with its ``mask``, if any) into ``output``."""
    return run_jobs(jobs)
