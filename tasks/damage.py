"""Damage-simulation task over a batch of files."""

from __future__ import annotations

from prefect import task

from restoration.jobs import Jobs, Records
from tasks.common import TASK_OPTIONS, batch_run_name, run_jobs


@task(name="simulate-damage", task_run_name=batch_run_name("damage"), **TASK_OPTIONS)
def damage_batch(jobs: Jobs) -> Records:
    """Damage each job's ``input`` into ``output`` and write its mask to ``mask_output``."""
    return run_jobs(jobs)
