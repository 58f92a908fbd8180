"""Damage-simulation task over a batch of files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from restoration.pipeline import damage_file
from tasks.common import TASK_OPTIONS, run_jobs


@task(name="simulate-damage", task_run_name="damage-{kind}-{label}", **TASK_OPTIONS)
def damage_batch(jobs: list[dict], kind: str, seed: int, options: dict[str, Any], label: str = "") -> list[dict]:
    """Damage each job's ``src`` into ``dst`` and write its mask to ``mask_dst``."""
    return run_jobs(
        jobs,
        lambda job: damage_file(
            Path(job["src"]), Path(job["dst"]), Path(job["mask_dst"]), rel=job["rel"], kind=kind, seed=seed, options=options
        ),
    )
