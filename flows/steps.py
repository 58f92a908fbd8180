"""Pipeline steps used inside flows: build per-file jobs, batch them, run them.

Each step turns a folder of files into jobs (paths and settings only),
submits them in batches to the flow's bounded task runner, reports
progress, and returns one record per file (or per frame, for evaluation).
Hashing inputs and deciding what to skip happen inside the tasks, spread
over the workers.
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

from restoration.archive import Listing
from restoration.io import ARCHIVE_SUFFIXES, MaskIndex, stem_of
from restoration.pipeline import METRICS_VERSION
from restoration.provenance import remove_partial_files, sidecar_path
from restoration.registry import REGISTRY
from tasks.common import error_text, failed_record
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


Submitted = list[tuple[Any, list[dict]]]


def submit_batched(task, jobs: list[dict], *, workers: int, **params: Any) -> Submitted:
    """Submit ``task`` over batches of ``jobs`` without waiting: several steps' batches can run side by side."""
    return [(task.submit(batch, label=batch_label(batch), **params), batch) for batch in make_batches(jobs, workers)]


def collect(submitted: Submitted, *, progress: Progress | None = None) -> list[dict]:
    """Records of submitted batches, in the order they finish.

    Each task decides per job, by the job's sidecar, whether to skip it
    (``run="skipped"``) or do it (``"new"``, ``"changed"``); see
    :mod:`tasks.common`. A batch whose task still fails after its retries
    gives a failed record per file, naming the error, and the run goes on.
    """
    logger = get_run_logger()
    records: list[dict] = []
    batches = {future: batch for future, batch in submitted}
    for future in as_completed(list(batches)):
        batch = batches[future]
        try:
            result = future.result()
        except Exception as exc:  # the task's own error, after its retries
            logger.error("batch %s failed: %s", batch_label(batch), exc)
            result = [failed_record(j, error_text(exc)) for j in batch]
        records.extend(result)
        if progress:
            progress.advance(len(batch))
    return records


def run_batched(task, jobs: list[dict], *, workers: int, progress: Progress | None = None, **params: Any) -> list[dict]:
    """Submit ``task`` over batches of ``jobs`` and collect their records (:func:`collect`)."""
    return collect(submit_batched(task, jobs, workers=workers, **params), progress=progress)


def run_counts(records: list[dict]) -> dict[str, int]:
    """Files by outcome: ``new``, ``changed`` (redone), ``skipped`` (unchanged), ``failed``, ``left-out``.

    A record's ``status`` is ``ok``, ``failed`` (``error`` says why) or
    ``left-out`` (left out on purpose; ``error`` says why).
    """
    counts = {"new": 0, "changed": 0, "skipped": 0, "failed": 0, "left-out": 0}
    for record in records:
        status = record.get("status")
        counts[record.get("run", "new") if status == "ok" else ("left-out" if status == "left-out" else "failed")] += 1
    return counts


def prepare_output(out: Path) -> None:
    """Remove temp files that a killed run left in ``out`` before writing there again."""
    removed = remove_partial_files(out)
    if removed:
        get_run_logger().warning("removed %d partial files left by an interrupted run in %s", len(removed), out)


def listing_records(listing: Listing) -> list[dict]:
    """Records for what an input listing did not take: refused entries fail, left-out ones are named.

    A refused member of an archive file is named with the archive (it was
    never unpacked, so it has no path of its own); ``.`` is the input itself.
    """
    archive = listing.source if listing.source.lower().endswith(ARCHIVE_SUFFIXES) else None

    def where(rel: str) -> str:
        if rel == ".":
            return ""
        return f"{archive}: member {rel}: " if archive else f"{listing.root / rel}: "

    failed = [{"path": listing.source if rel == "." else rel, "status": "failed", "error": where(rel) + reason} for rel, reason in listing.refused]
    left = [{"path": rel, "status": "left-out", "error": reason} for rel, reason in listing.left_out]
    return failed + left


def mask_of(masks: MaskIndex | dict | None, rel: str) -> str | None:
    """The mask of ``rel``: from a mask folder's index, or from the ``{rel: mask}`` a damage step returned."""
    if masks is None:
        return None
    mask = masks.get(rel) if isinstance(masks, dict) else masks.find(rel)
    return str(mask) if mask else None


def mask_path_for(root: Path, rel: str) -> Path:
    """Where the mask of ``rel`` is written under a masks folder ``root`` (suffix set by the writer)."""
    return root / Path(rel).parent / (stem_of(rel) + ".png")


def damage_jobs(root: Path, rels: list[str], out: Path, *, kind: str, seed: int, options: dict) -> list[dict]:
    """Jobs damaging ``root/<rel>`` into ``out/<rel>`` with masks in ``out/masks/``; ``out`` is readied for writing."""
    settings = {"kind": kind, "seed": seed, "options": options}
    prepare_output(out)
    return [
        {
            "rel": r, "src": str(root / r), "dst": str(out / r), "mask_dst": str(mask_path_for(out / "masks", r)),
            "labels": {"damage": kind}, "step": "damage", "settings": settings, "sidecar": str(sidecar_path(out, r)),
        }
        for r in rels
    ]  # fmt: skip


def damage_step(
    root: Path, rels: list[str], out: Path, *, kind: str, seed: int, options: dict, workers: int, progress: Progress | None = None
) -> list[dict]:
    """Damage files into ``out/<rel>`` with masks in ``out/masks/``."""
    options = REGISTRY.get(kind, kind="damage").check_options(options)
    return collect(submit_damage(root, rels, out, kind=kind, seed=seed, options=options, workers=workers), progress=progress)


def submit_damage(root: Path, rels: list[str], out: Path, *, kind: str, seed: int, options: dict, workers: int) -> Submitted:
    """Submit damage batches of ``rels`` (options already checked) without waiting."""
    jobs = damage_jobs(root, rels, out, kind=kind, seed=seed, options=options)
    return submit_batched(damage_batch, jobs, workers=workers, kind=kind, seed=seed, options=options)


def restore_jobs(root: Path, rels: list[str], out: Path, *, settings: dict, masks: MaskIndex | dict | None, labels: dict | None = None) -> list[dict]:
    """Jobs restoring ``root/<rel>`` into ``out/<rel>``, each with its supplied mask; ``out`` is readied for writing.

    ``settings`` is :func:`restoration.pipeline.restore_settings`'s (the
    model chosen once for the run); ``masks`` is the mask folder, indexed
    once, or the masks by path that a damage step just wrote.
    """
    prepare_output(out)
    return [
        {
            "rel": r, "src": str(root / r), "dst": str(out / r), "mask": mask_of(masks, r),
            "labels": labels or {}, "step": "restore", "settings": settings, "sidecar": str(sidecar_path(out, r)),
        }
        for r in rels
    ]  # fmt: skip


def submit_restore(jobs: list[dict], *, settings: dict, workers: int) -> Submitted:
    """Submit restore batches of ``jobs`` (from :func:`restore_jobs`) without waiting."""
    return submit_batched(restore_batch, jobs, workers=workers, method=settings["method"], options=settings["options"])


def restore_step(
    root: Path,
    rels: list[str],
    out: Path,
    *,
    settings: dict,
    masks_dir: Path | None,
    workers: int,
    labels: dict | None = None,
    progress: Progress | None = None,
) -> list[dict]:
    """Restore files into ``out/<rel>``, each with its supplied mask when there is one; ``settings`` from :func:`restoration.pipeline.restore_settings`."""
    jobs = restore_jobs(root, rels, out, settings=settings, masks=MaskIndex(masks_dir) if masks_dir else None, labels=labels)
    return collect(submit_restore(jobs, settings=settings, workers=workers), progress=progress)


def evaluate_step(jobs: list[dict], *, workers: int, progress: Progress | None = None) -> list[dict]:
    """Score jobs of ``{rel, test, reference, mask, labels}``; one row per frame.

    A job with a ``sidecar`` (the benchmark's) keeps its scores there, keyed
    on the content of the three files, and a rerun reads them back.
    """
    jobs = [{**job, "step": "evaluate", "settings": {"metrics": METRICS_VERSION}} for job in jobs]
    return run_batched(evaluate_batch, jobs, workers=workers, progress=progress)


def evaluation_jobs(
    test_root: Path, reference_root: Path, rels: list[str], masks: MaskIndex | dict | None, labels: dict, *, sidecar_root: Path | None = None
) -> list[dict]:
    """Jobs pairing ``test_root/<rel>`` with ``reference_root/<rel>`` and the mask of ``rel`` (see :func:`mask_of`)."""
    jobs = []
    for r in rels:
        job = {"rel": r, "test": str(test_root / r), "reference": str(reference_root / r), "mask": mask_of(masks, r), "labels": labels}
        if sidecar_root is not None:
            job["sidecar"] = str(Path(sidecar_root) / f"{r}.json")  # a folder of score records of its own
        jobs.append(job)
    return jobs


def failures(records: list[dict]) -> list[dict]:
    """The failed records (left-out entries are not failures)."""
    return [r for r in records if r.get("status") == "failed"]


def table_records(frame, *, limit: int | None = None) -> list[dict]:
    """DataFrame rows for a Prefect table artifact: JSON-safe (NaN and inf become None)."""
    import numpy as np

    shown = frame if limit is None else frame.head(limit)
    shown = shown.replace([np.inf, -np.inf], np.nan).astype(object)
    return shown.where(shown.notna(), None).to_dict(orient="records")
