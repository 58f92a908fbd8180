"""Typed units of per-file work, and the records they leave.

A :class:`Job` names one file's work by paths and settings only (so it can
travel to a worker thread or a Dask process); :func:`run_recorded` does it
or, when its provenance sidecar says it is done already, returns what was
recorded (:mod:`restoration.provenance`). Every step of the pipeline gives
:class:`Record` objects: what the flows count, report and return.

Plain library code: the Prefect tasks (:mod:`tasks`) only add retries of
transient I/O and per-file error capture around :func:`run_recorded`, and a
plain loop over the same jobs does the same work without Prefect.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeVar, overload

from restoration.pipeline import (
    DETECTION_METRICS_VERSION,
    METRICS_VERSION,
    RepairSettings,
    RestoreSettings,
    damage_file,
    detect_file,
    evaluate_file,
    repair_file,
    restore_file,
    score_detection_file,
)
from restoration.provenance import content_sha256, finished_records, job_key, write_sidecar

Status = Literal["ok", "failed", "left-out"]
#: Values of a record that name files the step wrote (checked by the provenance before a skip).
WRITTEN = ("output", "mask", "confidence", "synthesised")
Run = Literal["new", "changed", "skipped"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    """What became of one file (or one frame of it, for scores).

    ``status`` is ``ok``, ``failed`` or ``left-out`` (``error`` says why);
    ``run`` says whether the work was ``new``, redone because something
    ``changed``, or ``skipped`` as already done. ``labels`` say which group
    the file belongs to (damage kind, method); ``values`` are what the step
    measured or wrote (``output``, ``mask``, ``hole_ratio``, ``psnr`` ...).
    """

    path: str
    status: Status = "ok"
    run: Run = "new"
    error: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def output(self) -> str | None:
        """The file the step wrote, if any."""
        return self.values.get("output")

    @property
    def mask(self) -> str | None:
        """The mask the step wrote, if any."""
        return self.values.get("mask")

    def written(self) -> list[str]:
        """Every file the step wrote (its output, mask, confidence map, map of synthesised pixels)."""
        return [self.values[key] for key in WRITTEN if self.values.get(key)]

    def row(self) -> dict[str, Any]:
        """One flat table row: path, labels, values, status, run, error."""
        return {"path": self.path, **self.labels, **self.values, "status": self.status, "run": self.run, "error": self.error}

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON-able dict (:meth:`from_json` reads it back)."""
        # Built directly: dataclasses.asdict deep-copies field by field, a
        # tenth of the provenance cost per file on small images.
        return {"path": self.path, "status": self.status, "run": self.run, "error": self.error, "labels": dict(self.labels), "values": dict(self.values)}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Record:
        """A record written by :meth:`as_json`; ``TypeError``/``ValueError`` for anything else."""
        record = cls(**body)
        if record.status not in ("ok", "failed", "left-out") or not isinstance(record.values, dict) or not isinstance(record.labels, dict):
            raise ValueError(f"not a record: {body!r}")
        return record


T = TypeVar("T")


class ItemSequence(Sequence[T]):
    """An immutable sequence of jobs or records.

    A sequence of its own rather than a list on purpose: an orchestrator
    that looks through a task's arguments and return values for things to
    wait on (Prefect walks every list, dict and dataclass, field by field:
    about 0.2 ms per record, twice per task for its arguments) sees one
    object here, not thousands of jobs or records and their dicts.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items = tuple(items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Self: ...
    def __getitem__(self, index):
        return type(self)(self._items[index]) if isinstance(index, slice) else self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __add__(self, other: Iterable[T]) -> Self:
        return type(self)((*self._items, *other))

    def __radd__(self, other: Iterable[T]) -> Self:
        return type(self)((*other, *self._items))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self._items) == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so not hashable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._items)!r})"

    def __getstate__(self) -> tuple[T, ...]:
        return self._items

    def __setstate__(self, items: tuple[T, ...]) -> None:
        self._items = items


class Records(ItemSequence[Record]):
    """The records of a step or a run, in order (see :class:`ItemSequence`)."""

    __slots__ = ()


def failed(path: str, error: str, *, labels: dict[str, str] | None = None, run: Run = "new") -> Record:
    """The record of a file that could not be done, and why."""
    return Record(path=path, status="failed", error=error, labels=dict(labels or {}), run=run)


def left_out(path: str, reason: str) -> Record:
    """The record of an entry left out on purpose, and why."""
    return Record(path=path, status="left-out", error=reason)


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """One file's work: ``rel`` (its path in the archive), the labels its records get, and its sidecar.

    Subclasses name the files they read (:meth:`inputs`, whose content
    hashes enter the provenance key), what else decides their outputs
    (:meth:`key_settings`), and do the work (:meth:`run`). A job without a
    ``sidecar`` is always done and leaves no provenance.
    """

    step: ClassVar[str]
    rel: str
    labels: dict[str, str] = field(default_factory=dict)
    sidecar: str | None = None

    def inputs(self) -> dict[str, str | None]:
        """The files read, by role; their sha256 enters the job key."""
        raise NotImplementedError

    def key_settings(self) -> dict[str, Any]:
        """What besides the inputs decides the outputs; it enters the job key."""
        raise NotImplementedError

    def run(self) -> list[dict[str, Any]]:
        """Do the work; one dict of values per record (per file, or per frame for scores)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """A short name for logs and task runs."""
        return self.rel


@dataclass(frozen=True, kw_only=True, slots=True)
class DamageJob(Job):
    """Simulate damage ``kind`` on ``input`` into ``output``, its mask into ``mask_output``."""

    step: ClassVar[str] = "damage"
    input: str
    output: str
    mask_output: str
    kind: str
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    def inputs(self) -> dict[str, str | None]:
        return {"input": self.input}

    def key_settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "options": self.options}

    def run(self) -> list[dict[str, Any]]:
        return [damage_file(Path(self.input), Path(self.output), Path(self.mask_output), rel=self.rel, kind=self.kind, seed=self.seed, options=self.options)]

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.rel}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RestoreJob(Job):
    """Restore ``input`` (with its ``mask``, if any) into ``output``."""

    step: ClassVar[str] = "restore"
    input: str
    output: str
    mask: str | None = None
    settings: RestoreSettings

    def inputs(self) -> dict[str, str | None]:
        return {"input": self.input, "mask": self.mask}

    def key_settings(self) -> dict[str, Any]:
        return self.settings.key()

    def run(self) -> list[dict[str, Any]]:
        s = self.settings
        return [
            restore_file(
                Path(self.input), Path(self.output), rel=self.rel, method=s.method, mask_path=Path(self.mask) if self.mask else None,
                options=s.options, model_dir=s.model_dir, model_sha256=s.model_sha256,
            )
        ]  # fmt: skip

    @property
    def name(self) -> str:
        return f"{self.settings.method}-{self.rel}"


@dataclass(frozen=True, kw_only=True, slots=True)
class DetectJob(Job):
    """Find the damage in ``input``: its mask into ``output``, its confidence map into ``confidence``."""

    step: ClassVar[str] = "detect"
    input: str
    output: str
    confidence: str
    settings: RestoreSettings

    def inputs(self) -> dict[str, str | None]:
        return {"input": self.input}

    def key_settings(self) -> dict[str, Any]:
        return self.settings.key()

    def run(self) -> list[dict[str, Any]]:
        return [detect_file(Path(self.input), Path(self.output), Path(self.confidence), rel=self.rel, settings=self.settings)]

    @property
    def name(self) -> str:
        return f"{self.settings.method}-{self.rel}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RepairJob(Job):
    """Restore an unmarked file (``restore-archive``): its mask found, or read from ``mask`` when supplied.

    A supplied mask is one of the job's inputs: a curator who corrects it
    in a paint program and reruns has that file, and only that file, redone.
    """

    step: ClassVar[str] = "repair"
    input: str
    output: str
    mask_output: str
    synthesised: str
    mask: str | None = None
    settings: RepairSettings

    def inputs(self) -> dict[str, str | None]:
        return {"input": self.input, "mask": self.mask}

    def key_settings(self) -> dict[str, Any]:
        return self.settings.key()

    def run(self) -> list[dict[str, Any]]:
        return [
            repair_file(
                Path(self.input), Path(self.output), Path(self.mask_output), Path(self.synthesised), rel=self.rel,
                settings=self.settings, mask_path=Path(self.mask) if self.mask else None,
            )
        ]  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluationJob(Job):
    """Score ``test`` against ``reference``, whole and inside ``mask``: one record per frame.

    ``modcrop``: the reference is cropped at the bottom and right to a
    multiple of it first (an upscaler's output of an image downscaled by
    that factor; :func:`restoration.damage.simulate.modcrop`).
    """

    step: ClassVar[str] = "evaluate"
    test: str
    reference: str
    mask: str | None = None
    modcrop: int = 1

    def inputs(self) -> dict[str, str | None]:
        return {"test": self.test, "reference": self.reference, "mask": self.mask}

    def key_settings(self) -> dict[str, Any]:
        return {"metrics": METRICS_VERSION} | ({"modcrop": self.modcrop} if self.modcrop != 1 else {})

    def run(self) -> list[dict[str, Any]]:
        mask = Path(self.mask) if self.mask else None
        return evaluate_file(Path(self.test), Path(self.reference), rel=self.rel, mask_path=mask, modcrop=self.modcrop)


@dataclass(frozen=True, kw_only=True, slots=True)
class DetectionScoreJob(Job):
    """Score a detected mask ``predicted`` against the true mask ``truth`` (None: a clean image): one record per frame.

    ``clean`` and ``damaged``: the files the damage was simulated from and
    into; damage that changed nothing visibly is then left out of the scores.
    """

    step: ClassVar[str] = "score-detection"
    predicted: str
    truth: str | None = None
    clean: str | None = None
    damaged: str | None = None

    def inputs(self) -> dict[str, str | None]:
        return {"predicted": self.predicted, "truth": self.truth, "clean": self.clean, "damaged": self.damaged}

    def key_settings(self) -> dict[str, Any]:
        return {"metrics": DETECTION_METRICS_VERSION}

    def run(self) -> list[dict[str, Any]]:
        def path(value: str | None) -> Path | None:
            return Path(value) if value else None

        return score_detection_file(Path(self.predicted), path(self.truth), rel=self.rel, clean=path(self.clean), damaged=path(self.damaged))


class Jobs(ItemSequence[Job]):
    """A batch of jobs, in order (see :class:`ItemSequence`)."""

    __slots__ = ()


def run_recorded(job: Job) -> list[Record]:
    """The records of ``job``: read back from its sidecar when it is done already, else done now and recorded.

    The inputs are hashed here (on whichever worker runs the job), the key
    compared with the sidecar's (:func:`restoration.provenance.finished_records`),
    and after the work the sidecar is written beside the outputs. Errors
    propagate: the caller decides about retries and failed records.
    """
    inputs = job.inputs()
    hashes = {role: content_sha256(path) for role, path in inputs.items()}
    settings = job.key_settings()
    key = job_key(job.step, hashes, settings)
    state: Run = "new"
    if job.sidecar:
        state, done = finished_records(job.sidecar, key)
        if done is not None:
            try:
                return [replace(Record.from_json(body), run="skipped") for body in done]
            except (TypeError, ValueError):  # a sidecar of another version of this program: redo the file
                state = "changed"
    records = []
    for values in job.run():
        values = {k: v for k, v in values.items() if k != "path"}
        records.append(Record(path=job.rel, run=state, labels=job.labels, values=values))  # labels shared: records are values
    if job.sidecar:
        write_sidecar(
            job.sidecar, key=key, rel=job.rel, settings=settings, records=[r.as_json() for r in records],
            inputs={role: {"path": inputs[role], "sha256": sha} for role, sha in hashes.items()},
            outputs=[p for r in records for p in r.written()],
        )  # fmt: skip
    return records
