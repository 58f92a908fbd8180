"""Restore: a folder of images (+ supplied masks) -> restored images in the same formats."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.runner import task_runner
from flows.steps import Progress, default_workers, restore_step, split_files
from tasks.ingest import stage_archive


@flow(name="restore", flow_run_name="restore-{method}-{input_path}", task_runner=task_runner())
def restore_flow(
    input_path: str,
    output_dir: str,
    method: str,
    masks_dir: str | None = None,
    options: dict | None = None,
    workers: int | None = None,
) -> list[dict]:
    """Write ``output_dir/<rel>`` restored with ``method``, one record per file."""
    workers = workers or default_workers()
    root, files = stage_archive(input_path, output_dir, staging=".staging", exclude=[masks_dir] if masks_dir else [])
    rels, failed = split_files(root, files)
    progress = Progress(len(rels), key="restore-progress")
    records = restore_step(
        Path(root),
        rels,
        Path(output_dir),
        method=method,
        masks_dir=Path(masks_dir) if masks_dir else None,
        options=options or {},
        workers=workers,
        progress=progress,
    )
    return failed + records
