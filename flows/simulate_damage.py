"""Simulate damage: a folder of images -> damaged copies and masks."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.runner import task_runner
from flows.steps import Progress, damage_step, default_workers, listing_records
from restoration.archive import check_output_folder, claim_output_folder
from restoration.registry import REGISTRY
from tasks.ingest import stage_archive


@flow(name="simulate-damage", flow_run_name="damage-{kind}-{input_path}", task_runner=task_runner())
def simulate_damage_flow(
    input_path: str, output_dir: str, kind: str, seed: int = 0, options: dict | None = None, workers: int | None = None
) -> list[dict]:
    """Write ``output_dir/<rel>`` damaged by ``kind`` and ``output_dir/masks/<rel stem>.png``."""
    workers = workers or default_workers()
    options = REGISTRY.get(kind, kind="damage").check_options(options or {})
    check_output_folder(input_path, output_dir)
    claim_output_folder(output_dir)
    listing = stage_archive(input_path, output_dir, staging=".staging")
    progress = Progress(len(listing.files), key="damage-progress")
    steps = damage_step(listing.root, listing.files, Path(output_dir), kind=kind, seed=seed, options=options, workers=workers, progress=progress)
    return listing_records(listing) + steps
