"""Evaluate: restored folder vs reference folder (+ masks) -> a metrics table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.runner import task_runner
from flows.steps import Progress, default_workers, evaluate_step, evaluation_jobs, failures, table_records
from restoration.archive import UnsafeOutputError, list_archive
from restoration.io import MaskIndex, atomic_write, format_of


@flow(name="evaluate", flow_run_name="evaluate-{restored_dir}", task_runner=task_runner())
def evaluate_flow(
    restored_dir: str, reference_dir: str, out_table: str, masks_dir: str | None = None, workers: int | None = None
) -> list[dict]:
    """Score every file of ``restored_dir`` that has a namesake in ``reference_dir``.

    Writes ``out_table`` (CSV) and a Parquet copy beside it; returns all
    records, failed ones included. The table may not be written inside the
    reference folder (the originals).
    """
    workers = workers or default_workers()
    restored, reference = Path(restored_dir), Path(reference_dir)
    out_path = Path(out_table).resolve()
    if reference.resolve() in out_path.parents:
        raise UnsafeOutputError(f"table {out_table} lies inside the reference folder {reference_dir}: write it elsewhere")
    exclude = [masks_dir] if masks_dir else []
    listing = list_archive(restored, exclude=exclude)
    rels = [rel for rel in listing.files if format_of(rel)]  # the table and other non-images are not scored
    missing = [{"path": r, "status": "failed", "error": f"{reference / r}: no reference file"} for r in rels if not (reference / r).is_file()]
    missing += [{"path": rel, "status": "failed", "error": f"{restored / rel}: {reason}"} for rel, reason in listing.refused]
    rels = [r for r in rels if (reference / r).is_file()]
    progress = Progress(len(rels), key="evaluate-progress")
    records = evaluate_step(
        evaluation_jobs(restored, reference, rels, MaskIndex(masks_dir) if masks_dir else None, {}), workers=workers, progress=progress
    )
    rows = [r for r in records if r["status"] == "ok"]
    table = pd.DataFrame(rows, columns=["path", "index", "modality", "data_range", "psnr", "ssim", "hole_ratio", "hole_psnr", "hole_ssim", "ratio_bin"])
    atomic_write(out_path, lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out_path.with_suffix(".parquet"), lambda tmp: table.to_parquet(tmp, index=False))
    create_table_artifact(key="evaluate-table", table=table_records(table, limit=1000), description=f"metrics of {restored_dir}")
    return missing + failures(records) + rows
