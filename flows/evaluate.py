"""Evaluate: restored folder vs reference folder (+ masks) -> a metrics table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.naming import run_name
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import Progress, evaluate_step, evaluation_jobs, failures, run_outcome, table_records
from restoration.archive import UnsafeOutputError, list_archive
from restoration.io import MaskIndex, atomic_write, format_of
from restoration.jobs import Records, failed


@flow(name="evaluate", flow_run_name=run_name("evaluate-{restored}"), task_runner=RunnerFromEnvironment())
def evaluate_flow(restored: str, reference: str, table: str, masks: str | None = None, workers: int | None = None) -> Records:
    """Score every file of the folder ``restored`` that has a namesake in the folder ``reference``.

    Writes ``table`` (CSV) and a Parquet copy beside it; returns all
    records (one per frame), failed ones included. The table may not be
    written inside the reference folder (the originals).
    """
    workers = workers or default_workers()
    restored_root, reference_root = Path(restored), Path(reference)
    out_path = Path(table).resolve()
    if reference_root.resolve() in out_path.parents:
        raise UnsafeOutputError(f"table {table} lies inside the reference folder {reference}: write it elsewhere")
    listing = list_archive(restored_root, exclude=[masks] if masks else [])
    rels = [rel for rel in listing.files if format_of(rel)]  # the table and other non-images are not scored
    missing = [failed(r, f"{reference_root / r}: no reference file") for r in rels if not (reference_root / r).is_file()]
    missing += [failed(rel, f"{restored_root / rel}: {reason}") for rel, reason in listing.refused]
    rels = [r for r in rels if (reference_root / r).is_file()]
    progress = Progress(len(rels), key="evaluate-progress")
    records = evaluate_step(evaluation_jobs(restored_root, reference_root, rels, MaskIndex(masks) if masks else None, {}), workers=workers, progress=progress)
    rows = [r for r in records if r.ok]
    frame = pd.DataFrame(
        [r.row() for r in rows], columns=["path", "index", "modality", "data_range", "psnr", "ssim", "hole_ratio", "hole_psnr", "hole_ssim", "ratio_bin"]
    )
    atomic_write(out_path, lambda tmp: frame.to_csv(tmp, index=False))
    atomic_write(out_path.with_suffix(".parquet"), lambda tmp: frame.to_parquet(tmp, index=False))
    create_table_artifact(key="evaluate-table", table=table_records(frame, limit=1000), description=f"metrics of {restored}")
    everything = missing + failures(records) + rows
    return run_outcome(Records(everything), everything, "evaluate")
