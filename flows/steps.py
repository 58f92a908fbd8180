"""Pipeline steps used inside flows: build per-file jobs, batch them, run them.

Each step turns a folder of files into jobs (paths and settings only),
submits them in batches to the flow's bounded task runner, reports
progress, and returns one record per file (or per frame, for evaluation).
Hashing inputs and deciding what to skip happen inside the tasks, spread
over the workers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed

from restoration.archive import Listing
from restoration.io import ARCHIVE_SUFFIXES, MaskIndex, stem_of
from restoration.jobs import DamageJob, EvaluationJob, Job, Jobs, Record, RestoreJob, failed, left_out
from restoration.pipeline import RestoreSettings
from restoration.provenance import remove_partial_files, sidecar_path
from restoration.registry import REGISTRY
from tasks.common import error_text
from tasks.damage import damage_batch
from tasks.evaluate import evaluate_batch
from tasks.restore import restore_batch

MAX_BATCH = 64
#: Least seconds between two updates of a progress artifact.
PROGRESS_SECONDS = 1.0
J = TypeVar("J")


def make_batches(jobs: list[J], workers: int) -> list[list[J]]:
    """Split jobs into batches: about four per worker, at most :data:`MAX_BATCH` jobs each.

    An archive of thousands of files becomes hundreds of tasks, not thousands.
    """
    if not jobs:
        return []
    size = max(1, min(MAX_BATCH, math.ceil(len(jobs) / (4 * workers))))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


@dataclass
class Progress:
    """A Prefect progress artifact that moves as units of work finish.

    The artifact is updated at most every :data:`PROGRESS_SECONDS` (and when
    the last unit finishes): each update is a call to the API, and an
    archive of thousands of files finishes a batch every few milliseconds.
    """

    total: int
    key: str
    done: int = 0
    artifact_id: UUID | None = field(default=None, repr=False)
    shown_at: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.artifact_id = create_progress_artifact(progress=0.0, key=self.key, description=f"{self.key}: files finished")
        self.shown_at = time.monotonic()

    def advance(self, units: int) -> None:
        self.done += units
        now = time.monotonic()
        if self.artifact_id is not None and (self.done >= self.total or now - self.shown_at >= PROGRESS_SECONDS):
            update_progress_artifact(self.artifact_id, progress=100.0 * min(self.done, self.total) / max(self.total, 1))
            self.shown_at = now


Submitted = list[tuple[Any, list[Job]]]


def submit_batched(task, jobs: list[Job], *, workers: int) -> Submitted:
    """Submit ``task`` over batches of ``jobs`` without waiting: several steps' batches can run side by side.

    Each batch goes as one :class:`~restoration.jobs.Jobs` object, which
    Prefect does not walk field by field (``prefect.utilities.annotations.quote``
    would do the same on threads, but Dask unpacks it as a plain tuple).
    """
    return [(task.submit(Jobs(batch)), batch) for batch in make_batches(jobs, workers)]


def collect(submitted: Submitted, *, progress: Progress | None = None) -> list[Record]:
    """Records of submitted batches, in the order they finish.

    Each task decides per job, by the job's sidecar, whether to skip it
    (``run="skipped"``) or do it (``"new"``, ``"changed"``); see
    :func:`restoration.jobs.run_recorded`. A batch whose task still fails
    after its retries gives a failed record per file, naming the error, and
    the run goes on.
    """
    logger = get_run_logger()
    records: list[Record] = []
    batches = {future: batch for future, batch in submitted}
    for future in as_completed(list(batches)):
        batch = batches[future]
        try:
            result = future.result()
        except Exception as exc:  # the task's own error, after its retries
            logger.error("batch from %s (%d files) failed: %s", batch[0].rel, len(batch), exc)
            result = [failed(j.rel, error_text(exc), labels=j.labels) for j in batch]
        records.extend(result)
        if progress:
            progress.advance(len(batch))
    return records


def run_batched(task, jobs: list[Job], *, workers: int, progress: Progress | None = None) -> list[Record]:
    """Submit ``task`` over batches of ``jobs`` and collect their records (:func:`collect`)."""
    return collect(submit_batched(task, jobs, workers=workers), progress=progress)


def run_counts(records: Iterable[Record]) -> dict[str, int]:
    """Files by outcome: ``new``, ``changed`` (redone), ``skipped`` (unchanged), ``failed``, ``left-out``."""
    counts = {"new": 0, "changed": 0, "skipped": 0, "failed": 0, "left-out": 0}
    for record in records:
        counts[record.run if record.status == "ok" else record.status] += 1
    return counts


#: The name of a run's final state when some of its files failed (a Completed state: the rest is done and kept).
COMPLETED_WITH_FAILURES = "Completed with failures"
#: Failed files named in the state's message.
NAMED_IN_STATE = 3


class EveryFileFailed(RuntimeError):
    """A run in which every file failed; ``result`` is what the flow would have returned (its records)."""

    def __init__(self, message: str, result: Any):
        super().__init__(message)
        self.result = result


def run_outcome(result: Any, records: Iterable[Record], what: str):
    """What a flow returns, so that the runs list tells a run with failed files apart.

    ``result`` itself when no file failed (a plain Completed state); a
    Completed state named :data:`COMPLETED_WITH_FAILURES` carrying
    ``result`` when some did; a Failed state when every file did (a run with
    no file at all is not a failure): calling the flow then raises
    :class:`EveryFileFailed`, which carries ``result``. The message gives the
    counts and the first failed files; :func:`flow_result` gets ``result``
    back from any of them.
    """
    from prefect.states import Completed, Failed

    records = list(records)
    counts = run_counts(records)
    done = counts["new"] + counts["changed"] + counts["skipped"]
    if not counts["failed"]:
        return result
    names = [r.path for r in records if r.status == "failed"]
    message = f"{what}: {counts['failed']} of {counts['failed'] + done} files failed ({', '.join(names[:NAMED_IN_STATE])}{', ...' if len(names) > NAMED_IN_STATE else ''})"
    if not done:
        return Failed(data=EveryFileFailed(message, result), message=message)
    return Completed(data=result, name=COMPLETED_WITH_FAILURES, message=message)


def flow_result(state):
    """The value a flow run returned, whether it ended Completed, :data:`COMPLETED_WITH_FAILURES` or Failed by :func:`run_outcome`.

    A run that failed by raising anything else re-raises it here; a value
    that is not a state is returned as it is.
    """
    from prefect.states import State

    if not isinstance(state, State):
        return state
    value = state.result(raise_on_failure=False)
    if isinstance(value, EveryFileFailed):
        return value.result
    if isinstance(value, BaseException):
        raise value
    return value


def prepare_output(output: Path) -> None:
    """Remove temp files that a killed run left in ``output`` before writing there again."""
    removed = remove_partial_files(output)
    if removed:
        get_run_logger().warning("removed %d partial files left by an interrupted run in %s", len(removed), output)


def listing_records(listing: Listing) -> list[Record]:
    """Records for what an input listing did not take: refused entries fail, left-out ones are named.

    A refused member of an archive file is named with the archive (it was
    never unpacked, so it has no path of its own); ``.`` is the input itself.
    """
    archive = listing.source if listing.source.lower().endswith(ARCHIVE_SUFFIXES) else None

    def where(rel: str) -> str:
        if rel == ".":
            return ""
        return f"{archive}: member {rel}: " if archive else f"{listing.root / rel}: "

    refused = [failed(listing.source if rel == "." else rel, where(rel) + reason) for rel, reason in listing.refused]
    return refused + [left_out(rel, reason) for rel, reason in listing.left_out]


def mask_of(masks: MaskIndex | dict | None, rel: str) -> str | None:
    """The mask of ``rel``: from a mask folder's index, or from the ``{rel: mask}`` a damage step returned."""
    if masks is None:
        return None
    mask = masks.get(rel) if isinstance(masks, dict) else masks.find(rel)
    return str(mask) if mask else None


def mask_path_for(root: Path, rel: str) -> Path:
    """Where the mask of ``rel`` is written under a masks folder ``root`` (suffix set by the writer)."""
    return root / Path(rel).parent / (stem_of(rel) + ".png")


def damage_jobs(input: Path, rels: list[str], output: Path, *, kind: str, seed: int, options: dict) -> list[DamageJob]:
    """Jobs damaging ``input/<rel>`` into ``output/<rel>`` with masks in ``output/masks/``; ``output`` is readied for writing."""
    prepare_output(output)
    labels = {"damage": kind}  # one dict for all the jobs (and their records)
    return [
        DamageJob(
            rel=r, input=str(input / r), output=str(output / r), mask_output=str(mask_path_for(output / "masks", r)),
            kind=kind, seed=seed, options=options, labels=labels, sidecar=str(sidecar_path(output, r)),
        )
        for r in rels
    ]  # fmt: skip


def damage_step(
    input: Path, rels: list[str], output: Path, *, kind: str, seed: int, options: dict, workers: int, progress: Progress | None = None
) -> list[Record]:
    """Damage files into ``output/<rel>`` with masks in ``output/masks/``."""
    options = REGISTRY.get(kind, kind="damage").check_options(options)
    return collect(submit_damage(input, rels, output, kind=kind, seed=seed, options=options, workers=workers), progress=progress)


def submit_damage(input: Path, rels: list[str], output: Path, *, kind: str, seed: int, options: dict, workers: int) -> Submitted:
    """Submit damage batches of ``rels`` (options already checked) without waiting."""
    return submit_batched(damage_batch, damage_jobs(input, rels, output, kind=kind, seed=seed, options=options), workers=workers)


def restore_jobs(
    input: Path, rels: list[str], output: Path, *, settings: RestoreSettings, masks: MaskIndex | dict | None, labels: dict | None = None
) -> list[RestoreJob]:
    """Jobs restoring ``input/<rel>`` into ``output/<rel>``, each with its supplied mask; ``output`` is readied for writing.

    ``settings`` is :func:`restoration.pipeline.restore_settings`'s (the
    model chosen once for the run); ``masks`` is the mask folder, indexed
    once, or the masks by path that a damage step just wrote.
    """
    prepare_output(output)
    labels = labels or {}  # one dict for all the jobs (and their records)
    return [
        RestoreJob(
            rel=r, input=str(input / r), output=str(output / r), mask=mask_of(masks, r), settings=settings,
            labels=labels, sidecar=str(sidecar_path(output, r)),
        )
        for r in rels
    ]  # fmt: skip


def restore_step(
    input: Path,
    rels: list[str],
    output: Path,
    *,
    settings: RestoreSettings,
    masks: Path | None,
    workers: int,
    labels: dict | None = None,
    progress: Progress | None = None,
) -> list[Record]:
    """Restore files into ``output/<rel>``, each with its mask from the folder ``masks`` when there is one."""
    jobs = restore_jobs(input, rels, output, settings=settings, masks=MaskIndex(masks) if masks else None, labels=labels)
    return collect(submit_batched(restore_batch, jobs, workers=workers), progress=progress)


def evaluate_step(jobs: list[EvaluationJob], *, workers: int, progress: Progress | None = None) -> list[Record]:
    """Score jobs; one record per frame.

    A job with a ``sidecar`` (the benchmark's) keeps its scores there, keyed
    on the content of the three files, and a rerun reads them back.
    """
    return run_batched(evaluate_batch, jobs, workers=workers, progress=progress)


def evaluation_jobs(
    test: Path, reference: Path, rels: list[str], masks: MaskIndex | dict | None, labels: dict, *, sidecars: Path | None = None, modcrop: int = 1
) -> list[EvaluationJob]:
    """Jobs pairing ``test/<rel>`` with ``reference/<rel>`` and the mask of ``rel`` (see :func:`mask_of`).

    With ``sidecars``, each job keeps its scores in ``sidecars/<rel>.json``;
    ``modcrop`` as in :class:`~restoration.jobs.EvaluationJob`.
    """
    return [
        EvaluationJob(
            rel=r, test=str(test / r), reference=str(reference / r), mask=mask_of(masks, r), labels=labels, modcrop=modcrop,
            sidecar=str(Path(sidecars) / f"{r}.json") if sidecars is not None else None,
        )
        for r in rels
    ]  # fmt: skip


def failures(records: Iterable[Record]) -> list[Record]:
    """The failed records (left-out entries are not failures)."""
    return [r for r in records if r.status == "failed"]


def table_records(frame, *, limit: int | None = None) -> list[dict]:
    """DataFrame rows for a Prefect table artifact: JSON-safe (NaN and inf become None), figures rounded for people (dB to 2 decimals, others to 3)."""
    import numpy as np
    import pandas as pd

    from restoration.reports import digits_of

    shown = frame if limit is None else frame.head(limit)
    shown = shown.replace([np.inf, -np.inf], np.nan)
    shown = shown.round({c: digits_of(c) for c in shown.columns if pd.api.types.is_float_dtype(shown[c])}).astype(object)
    return shown.where(shown.notna(), None).to_dict(orient="records")
