"""The ``restore-archive`` task over a batch of files: condition, detect (or supplied mask), inpaint, denoise."""

from __future__ import annotations

from prefect import task

from restoration.jobs import Jobs, Records
from tasks.common import TASK_OPTIONS, batch_run_name, run_jobs


@task(name="repair", task_run_name=batch_run_name("repair"), **TASK_OPTIONS)
def repair_batch(jobs: Jobs) -> Records:
    """Restore each job's unmarked ``input``; write its output, mask and map of synthesised pixels."""
    return run_jobs(jobs)
