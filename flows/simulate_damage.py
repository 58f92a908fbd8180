"""Simulate damage: a folder of images -> damaged copies and masks."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.runner import task_runner
from flows.steps import Progress, damage_step, default_workers, split_files
from tasks.ingest import stage_archive


@flow(name="simulate-damage", flow_run_name="damage-{kind}-{input_path}", task_runner=task_runner())
def simulate_damage_flow(
    input_path: str, output_dir: str, kind: str, seed: int = 0, options: dict | None = None, workers: int | None = None
) -> list[dict]:
    """Write ``output_dir/<rel>`` damaged by ``kind`` and ``output_dir/masks/<rel stem>.png``."""
    workers = workers or default_workers()
    root, files = stage_archive(input_path, output_dir, staging=".staging")
    rels, failed = split_files(root, files)
    progress = Progress(len(rels), key="damage-progress")
    return failed + damage_step(Path(root), rels, Path(output_dir), kind=kind, seed=seed, options=options or {}, workers=workers, progress=progress)
