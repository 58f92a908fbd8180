"""Pipeline steps used inside flows: build per-file jobs, batch them, run them.

Each step turns a folder of files into jobs (paths only), submits them in
batches to the flow's bounded task runner, reports progress, and returns one
record per file (or per frame, for evaluation).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed

from restoration.io import find_mask, stem_of
from restoration.registry import REGISTRY
from tasks.damage import damage_batch
from tasks.evaluate import evaluate_batch
from tasks.restore import restore_batch

MAX_BATCH = 32


def default_workers() -> int:
    """Worker threads for the task runner: the machine's cores."""
    return max(1, os.cpu_count() or 1)


def make_batches(jobs: list[dict], workers: int) -> list[list[dict]]:
    """Split jobs into batches: about four per worker, at most :data:`MAX_BATCH` jobs each.

    An archive of thousands of files becomes hundreds of tasks, not thousands.
    """
    if not jobs:
        return []
    size = max(1, min(MAX_BATCH, math.ceil(len(jobs) / (4 * workers))))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def batch_label(batch: list[dict]) -> str:
    """Task-run label: the batch's first file and how many follow."""
    first = batch[0]["rel"]
    return first if len(batch) == 1 else f"{first}+{len(batch) - 1}"


@dataclass
class Progress:
    """A Prefect progress artifact that moves as units of work finish."""

    total: int
    key: str
    done: int = 0
    artifact_id: UUID | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.artifact_id = create_progress_artifact(progress=0.0, key=self.key, description=f"{self.key}: files finished")

    def advance(self, units: int) -> None:
        self.done += units
        if self.artifact_id is not None:
            update_progress_artifact(self.artifact_id, progress=100.0 * min(self.done, self.total) / max(self.total, 1))


def run_batched(task, jobs: list[dict], *, workers: int, progress: Progress | None = None, **params: Any) -> list[dict]:
    """Submit ``task`` over batches of ``jobs`` and collect its records.

    A batch whose task fails after its retries gives a failed record per
    file, naming the error, so the rest of the run goes on. A batch served
    from the cache whose output files have since disappeared is run again.
    """
    logger = get_run_logger()
    batches = make_batches(jobs, workers)
    futures = {task.submit(batch, label=batch_label(batch), **params): batch for batch in batches}
    records: list[dict] = []
    rerun: list[list[dict]] = []
    for future in as_completed(list(futures)):
        batch = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the task's own error, after its retries
            logger.error("batch %s failed: %s", batch_label(batch), exc)
            result = [{"path": j["rel"], "status": "failed", "error": f"{type(exc).__name__}: {exc}", **j.get("labels", {})} for j in batch]
        if any(r.get("status") == "ok" and "output" in r and not Path(r["output"]).exists() for r in result):
            rerun.append(batch)
            continue
        records.extend(result)
        if progress:
            progress.advance(len(batch))
    for batch in rerun:
        logger.info("outputs of cached batch %s are missing: running it again", batch_label(batch))
        result = task.with_options(refresh_cache=True)(batch, label=batch_label(batch), **params)
        records.extend(result)
        if progress:
            progress.advance(len(batch))
    return records


def split_files(root: str | Path, files: list[tuple[str, str | None]]) -> tuple[list[str], list[dict]]:
    """Relative paths to process, and failed records for entries refused while staging."""
    rels, failed = [], []
    for rel, problem in files:
        if problem:
            failed.append({"path": rel, "status": "failed", "error": f"{Path(root) / rel}: {problem}"})
        else:
            rels.append(rel)
    return rels, failed


def mask_path_for(root: Path, rel: str) -> Path:
    """Where the mask of ``rel`` is written under a masks folder ``root`` (suffix set by the writer)."""
    return root / Path(rel).parent / (stem_of(rel) + ".png")


def damage_step(
    root: Path, rels: list[str], out: Path, *, kind: str, seed: int, options: dict, workers: int, progress: Progress | None = None
) -> list[dict]:
    """Damage files into ``out/<rel>`` with masks in ``out/masks/``."""
    REGISTRY.get(kind, kind="damage").check_options(options)
    jobs = [
        {"rel": r, "src": str(root / r), "dst": str(out / r), "mask_dst": str(mask_path_for(out / "masks", r)), "labels": {"damage": kind}}
        for r in rels
    ]
    return run_batched(damage_batch, jobs, workers=workers, progress=progress, kind=kind, seed=seed, options=options)


def restore_step(
    root: Path,
    rels: list[str],
    out: Path,
    *,
    method: str,
    masks_dir: Path | None,
    options: dict,
    workers: int,
    labels: dict | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Restore files into ``out/<rel>``, each with its supplied mask when there is one."""
    REGISTRY.get(method, kind=("inpaint", "denoise", "upscale")).check_options(options)
    jobs = []
    for r in rels:
        mask = find_mask(masks_dir, r) if masks_dir else None
        jobs.append({"rel": r, "src": str(root / r), "dst": str(out / r), "mask": str(mask) if mask else None, "labels": labels or {}})
    return run_batched(restore_batch, jobs, workers=workers, progress=progress, method=method, options=options)


def evaluate_step(jobs: list[dict], *, workers: int, progress: Progress | None = None) -> list[dict]:
    """Score jobs of ``{rel, test, reference, mask, labels}``; one row per frame."""
    return run_batched(evaluate_batch, jobs, workers=workers, progress=progress)


def evaluation_jobs(test_root: Path, reference_root: Path, rels: list[str], masks_dir: Path | None, labels: dict) -> list[dict]:
    """Jobs pairing ``test_root/<rel>`` with ``reference_root/<rel>`` and the mask of ``rel``."""
    jobs = []
    for r in rels:
        mask = find_mask(masks_dir, r) if masks_dir else None
        jobs.append(
            {"rel": r, "test": str(test_root / r), "reference": str(reference_root / r), "mask": str(mask) if mask else None, "labels": labels}
        )
    return jobs


def failures(records: list[dict]) -> list[dict]:
    """The failed records."""
    return [r for r in records if r.get("status") != "ok"]


def table_records(frame, *, limit: int | None = None) -> list[dict]:
    """DataFrame rows for a Prefect table artifact: JSON-safe (NaN and inf become None)."""
    import numpy as np

    shown = frame if limit is None else frame.head(limit)
    shown = shown.replace([np.inf, -np.inf], np.nan).astype(object)
    return shown.where(shown.notna(), None).to_dict(orient="records")
