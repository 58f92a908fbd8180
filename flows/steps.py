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
from restoration.pipeline import restore_settings
from restoration.provenance import content_sha256, finished_records, job_key, remove_partial_files, sidecar_path
from restoration.registry import REGISTRY
from tasks.common import INPUT_KEYS
from tasks.damage import damage_batch
from tasks.evaluate import evaluate_batch
from tasks.restore import restore_batch

MAX_BATCH = 64


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


def failed_record(job: dict, error: str) -> dict:
    """The record of a job that could not be done."""
    return {"path": job["rel"], "status": "failed", "error": error, "run": job.get("run", "new"), **job.get("labels", {})}


def key_jobs(jobs: list[dict], *, step: str, settings: dict, out_root: Path | None) -> tuple[list[dict], list[dict]]:
    """Give each job its input content hashes, its key and (with ``out_root``) its sidecar path.

    Returns the keyed jobs, and failed records for jobs whose inputs cannot
    be read. See :mod:`restoration.provenance`.
    """
    keyed, failed = [], []
    for job in jobs:
        try:
            hashes = {name: content_sha256(job.get(name)) for name in INPUT_KEYS if name in job}
        except OSError as exc:
            failed.append(failed_record(job, f"{exc.filename or job['rel']}: cannot read: {exc.strerror or exc}"))
            continue
        job = {**job, "sha256": hashes, "settings": settings, "key": job_key(step, hashes, settings)}
        if out_root is not None:
            job["sidecar"] = str(sidecar_path(out_root, job["rel"]))
        keyed.append(job)
    return keyed, failed


def run_batched(task, jobs: list[dict], *, workers: int, progress: Progress | None = None, **params: Any) -> list[dict]:
    """Submit ``task`` over batches of the ``jobs`` not yet done and collect its records.

    A job whose sidecar shows it finished with the same key is not run: its
    recorded records come back with ``run="skipped"``; the others carry
    ``run="new"`` or ``"changed"``. A batch whose task fails after its
    retries gives a failed record per file, naming the error, so the rest of
    the run goes on. A batch served from Prefect's cache whose output files
    have since disappeared is run again.
    """
    logger = get_run_logger()
    todo: list[dict] = []
    records: list[dict] = []
    for job in jobs:
        state, done = finished_records(job["sidecar"], job["key"]) if job.get("sidecar") else ("new", None)
        if done is None:
            todo.append({**job, "run": state})
        else:
            records.extend({**r, "run": "skipped"} for r in done)
    if progress and len(todo) < len(jobs):
        progress.advance(len(jobs) - len(todo))
    batches = make_batches(todo, workers)
    futures = {task.submit(batch, label=batch_label(batch), **params): batch for batch in batches}
    rerun: list[list[dict]] = []
    for future in as_completed(list(futures)):
        batch = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the task's own error, after its retries
            logger.error("batch %s failed: %s", batch_label(batch), exc)
            result = [failed_record(j, f"{type(exc).__name__}: {exc}") for j in batch]
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


def run_counts(records: list[dict]) -> dict[str, int]:
    """Files by outcome: ``new``, ``changed`` (redone), ``skipped`` (unchanged), ``failed``."""
    counts = {"new": 0, "changed": 0, "skipped": 0, "failed": 0}
    for record in records:
        counts["failed" if record.get("status") != "ok" else record.get("run", "new")] += 1
    return counts


def prepare_output(out: Path) -> None:
    """Remove temp files that a killed run left in ``out`` before writing there again."""
    removed = remove_partial_files(out)
    if removed:
        get_run_logger().warning("removed %d partial files left by an interrupted run in %s", len(removed), out)


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
    options = REGISTRY.get(kind, kind="damage").check_options(options)
    jobs = [
        {"rel": r, "src": str(root / r), "dst": str(out / r), "mask_dst": str(mask_path_for(out / "masks", r)), "labels": {"damage": kind}}
        for r in rels
    ]
    prepare_output(out)
    jobs, failed = key_jobs(jobs, step="damage", settings={"kind": kind, "seed": seed, "options": options}, out_root=out)
    return failed + run_batched(damage_batch, jobs, workers=workers, progress=progress, kind=kind, seed=seed, options=options)


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
    settings = restore_settings(method, options)
    jobs = []
    for r in rels:
        mask = find_mask(masks_dir, r) if masks_dir else None
        jobs.append({"rel": r, "src": str(root / r), "dst": str(out / r), "mask": str(mask) if mask else None, "labels": labels or {}})
    prepare_output(out)
    jobs, failed = key_jobs(jobs, step="restore", settings=settings, out_root=out)
    return failed + run_batched(restore_batch, jobs, workers=workers, progress=progress, method=method, options=settings["options"])


def evaluate_step(jobs: list[dict], *, workers: int, progress: Progress | None = None) -> list[dict]:
    """Score jobs of ``{rel, test, reference, mask, labels}``; one row per frame.

    Scores have no output file of their own, so no sidecar skips them;
    Prefect's cache, keyed on the files' content, reuses them.
    """
    jobs, failed = key_jobs(jobs, step="evaluate", settings={}, out_root=None)
    return failed + run_batched(evaluate_batch, jobs, workers=workers, progress=progress)


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
