"""Simulate damage: a folder of images -> damaged copies and masks."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.naming import run_name
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import Progress, damage_step, listing_records, run_outcome
from restoration.archive import check_output_folder, claim_output_folder
from restoration.jobs import Records
from restoration.registry import REGISTRY
from tasks.ingest import stage_archive


@flow(name="simulate-damage", flow_run_name=run_name("damage-{kind}-{input}"), task_runner=RunnerFromEnvironment())
def simulate_damage_flow(input: str, output: str, kind: str, seed: int = 0, options: dict | None = None, workers: int | None = None) -> Records:
    """Write ``output/<rel>`` damaged by ``kind`` and ``output/masks/<rel stem>.png`` for each file of ``input``."""
    workers = workers or default_workers()
    options = REGISTRY.get(kind, kind="damage").check_options(options or {})
    check_output_folder(input, output)
    claim_output_folder(output)
    listing = stage_archive(input, output, staging=".staging")
    progress = Progress(len(listing.files), key="damage-progress")
    steps = damage_step(listing.root, listing.files, Path(output), kind=kind, seed=seed, options=options, workers=workers, progress=progress)
    records = listing_records(listing) + steps
    return run_outcome(Records(records), records, f"damage {kind}")
