"""The deployments: a nightly ``restore`` of the archive folder, a nightly ``restore-archive`` of an unmarked one, a weekly ``benchmark``, an on-demand ``train``.

Everything about them comes from one TOML file (``deployments/schedule.toml``
by default, or the file named by ``ARCHIVE_RESTORE_SCHEDULE``), validated by
the pydantic models below; relative paths in it are read from the file's
own folder. :func:`deployment_specs` turns it into the deployments, which
are either served from this process (:mod:`deployments.serve`) or written
as ``prefect.yaml`` for a work pool (:mod:`deployments.prefect_yaml`).
Building them needs no server; serving them does.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "ARCHIVE_RESTORE_SCHEDULE"
DEFAULT_CONFIG = Path(__file__).with_name("schedule.toml")
#: Loggers whose records reach the Prefect UI besides Prefect's own.
EXTRA_LOGGERS = "restoration"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestoreSchedule(_Section):
    """The nightly restore over the archive folder (only new or changed files are processed)."""

    input: str = Field(validation_alias=AliasChoices("input", "archive"), description="Folder, .zip or .tar of the archive; it keeps growing.")
    output: str = Field(description="Output folder: restored files under their archive paths.")
    method: str = "nlm"
    masks: str | None = Field(None, description="Folder of supplied damage masks (needed for inpainting).")
    options: dict[str, Any] = Field(default_factory=dict, description="The method's options (see `archive-restore methods`).")
    cron: str = "0 2 * * *"

    @model_validator(mode="after")
    def _options_of_the_method(self):
        from restoration.registry import REGISTRY, RESTORER_KINDS

        self.options = REGISTRY.get(self.method, kind=RESTORER_KINDS).check_options(self.options)  # the one check, as for the CLI and UI
        return self


class RestoreArchiveSchedule(_Section):
    """The nightly ``restore-archive`` of an unmarked archive: damage found, inpainted, denoised where noisy, reported."""

    input: str = Field(validation_alias=AliasChoices("input", "archive"), description="Folder, .zip or .tar of the archive; it keeps growing.")
    output: str = Field(description="Output folder: restored/, masks/, synthesised/, report/.")
    detect: str = "detect-classical"
    inpaint: str = "telea"
    denoise: str = "nlm"
    masks: str | None = Field(None, description="Folder of supplied (e.g. corrected) masks, used where present.")
    cron: str = "0 3 * * *"

    @model_validator(mode="after")
    def _known_methods(self):
        from restoration.registry import DETECT, REGISTRY

        REGISTRY.get(self.detect, kind=DETECT)
        REGISTRY.get(self.inpaint, kind="inpaint")
        if self.denoise != "none":
            REGISTRY.get(self.denoise, kind="denoise")
        return self


class BenchmarkSchedule(_Section):
    """The weekly benchmark: every method on identical simulated damage."""

    input: str = Field(validation_alias=AliasChoices("input", "archive"), description="Folder, .zip or .tar of clean images.")
    output: str
    methods: list[str] | None = None
    damage: list[str] | None = None
    detectors: list[str] | None = None
    seed: int = 0
    cron: str = "0 4 * * 0"


class TrainDeployment(_Section):
    """Training on demand (no schedule): the settings of ``archive-restore train``."""

    data: str
    output: str
    task: Literal["denoise", "sr", "inpaint", "vae", "detect"] = "denoise"
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(16, ge=1)
    patch: int = Field(64, ge=16)


class ScheduleConfig(_Section):
    """Everything the deployments need: schedules, paths, and where tasks run."""

    timezone: str = "UTC"
    workers: int | None = Field(None, ge=1, description="Worker threads or local Dask processes per run (the task runner's, and the batch sizes).")
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None
    restore: RestoreSchedule
    benchmark: BenchmarkSchedule
    train: TrainDeployment
    restore_archive: RestoreArchiveSchedule | None = Field(None, validation_alias=AliasChoices("restore-archive", "restore_archive"))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)  # an unknown zone is an error here, not at 2 a.m.
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


def load_config(path: os.PathLike | str | None = None) -> ScheduleConfig:
    """The schedule file at ``path`` (default: ``$ARCHIVE_RESTORE_SCHEDULE`` or ``deployments/schedule.toml``).

    Relative paths become absolute against the file's folder.
    """
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the schedule: {exc}") from None
    base = path.resolve().parent
    for section, keys in {
        "restore": ("input", "archive", "output", "masks"),
        "benchmark": ("input", "archive", "output"),
        "train": ("data", "output"),
        "restore-archive": ("input", "archive", "output", "masks"),
    }.items():
        for key in keys:
            value = raw.get(section, {}).get(key)
            if value:
                raw[section][key] = str((base / value).resolve())
    try:
        return ScheduleConfig.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None


def runner_environment(config: ScheduleConfig) -> dict[str, str]:
    """Environment of the processes that run the flows: task runner, its workers, and the extra loggers.

    A flow's task runner is chosen from it when each run starts
    (:class:`flows.runner.RunnerFromEnvironment`), never when its module is
    imported.
    """
    from flows.runner import ADDRESS_ENV, RUNNER_ENV, WORKERS_ENV

    env = {RUNNER_ENV: config.task_runner, "PREFECT_LOGGING_EXTRA_LOGGERS": EXTRA_LOGGERS}
    if config.workers:
        env[WORKERS_ENV] = str(config.workers)
    if config.dask_address:
        env[ADDRESS_ENV] = config.dask_address
    return env


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment as the schedule file gives it: which flow, its parameters, its schedule."""

    name: str
    entrypoint: str  # path/to/module.py:flow_function, relative to the project root
    description: str
    parameters: dict[str, Any]
    cron: str | None = None


def deployment_specs(config: ScheduleConfig) -> list[DeploymentSpec]:
    """The deployments of ``config``; the flows' parameter names, once."""
    restore, bench, train = config.restore, config.benchmark, config.train
    unmarked = config.restore_archive
    specs = []
    if unmarked is not None:
        specs.append(
            DeploymentSpec(
                "nightly-repair",
                "flows/restore_archive.py:restore_archive_flow",
                f"Find and repair the damage in new and changed files of {unmarked.input} every night ({unmarked.detect}, {unmarked.inpaint}, {unmarked.denoise}).",
                {
                    "archive": unmarked.input,
                    "output": unmarked.output,
                    "detect": unmarked.detect,
                    "inpaint": unmarked.inpaint,
                    "denoise": unmarked.denoise,
                    "masks": unmarked.masks,
                    "workers": config.workers,
                },
                unmarked.cron,
            )
        )
    return specs + [
        DeploymentSpec(
            "nightly",
            "flows/restore.py:restore_flow",
            f"Restore new and changed files of {restore.input} with {restore.method} every night.",
            {
                "input": restore.input,
                "output": restore.output,
                "method": restore.method,
                "masks": restore.masks,
                "options": restore.options,
                "workers": config.workers,
            },
            restore.cron,
        ),
        DeploymentSpec(
            "weekly",
            "flows/benchmark.py:benchmark_flow",
            f"Benchmark every method on simulated damage over {bench.input}.",
            {
                "input": bench.input,
                "output": bench.output,
                "methods": bench.methods,
                "damage": bench.damage,
                "detectors": bench.detectors,
                "seed": bench.seed,
                "workers": config.workers,
            },
            bench.cron,
        ),
        DeploymentSpec(
            "on-demand",
            "flows/train.py:train_flow",
            "Train a learned restorer on a folder of clean images (run it by hand).",
            {
                "task": train.task,
                "steps": train.steps,
                "batch_size": train.batch_size,
                "patch": train.patch,
                "data": train.data,
                "output": train.output,
                "resume": False,
            },
        ),
    ]


def load_flow(entrypoint: str):
    """The flow object an entrypoint names (``flows/restore.py:restore_flow``)."""
    import importlib

    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def build_deployments(config: ScheduleConfig) -> list:
    """The ``RunnerDeployment`` objects of :func:`deployment_specs` (built offline; :func:`prefect.serve` runs them).

    One run at a time per deployment: two runs never write the same output folder.
    """
    from prefect.schedules import Cron

    return [
        load_flow(spec.entrypoint).to_deployment(
            name=spec.name,
            description=spec.description,
            schedules=[Cron(spec.cron, timezone=config.timezone)] if spec.cron else [],
            parameters=spec.parameters,
            concurrency_limit=1,
            tags=["archive-restoration", spec.name],
        )
        for spec in deployment_specs(config)
    ]
