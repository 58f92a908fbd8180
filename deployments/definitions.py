"""The deployments: a nightly ``restore`` of the archive folder, a weekly ``benchmark``, an on-demand ``train``.

What they run on comes from a TOML file (``deployments/schedule.toml`` by
default, or the file named by ``ARCHIVE_RESTORE_SCHEDULE``), validated by
the pydantic models below. Relative paths in it are read from the file's
own folder. Building the deployments needs no server; serving them does
(:mod:`deployments.serve`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "ARCHIVE_RESTORE_SCHEDULE"
DEFAULT_CONFIG = Path(__file__).with_name("schedule.toml")
#: Loggers whose records reach the Prefect UI besides Prefect's own.
EXTRA_LOGGERS = "restoration"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestoreSchedule(_Section):
    """The nightly restore over the archive folder (only new or changed files are processed)."""

    archive: str = Field(description="Folder, .zip or .tar of the archive; it keeps growing.")
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


class BenchmarkSchedule(_Section):
    """The weekly benchmark: every method on identical simulated damage."""

    archive: str
    output: str
    methods: list[str] | None = None
    damage: list[str] | None = None
    seed: int = 0
    cron: str = "0 4 * * 0"


class TrainDeployment(_Section):
    """Training on demand (no schedule): the settings of ``archive-restore train``."""

    data: str
    output: str
    task: Literal["denoise", "sr", "inpaint", "vae"] = "denoise"
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(16, ge=1)
    patch: int = Field(64, ge=16)


class ScheduleConfig(_Section):
    """Everything the deployments need: schedules, paths, and where tasks run."""

    timezone: str = "UTC"
    workers: int | None = Field(None, ge=1, description="Worker threads or local Dask processes per run.")
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None
    restore: RestoreSchedule
    benchmark: BenchmarkSchedule
    train: TrainDeployment

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
    for section, keys in {"restore": ("archive", "output", "masks"), "benchmark": ("archive", "output"), "train": ("data", "output")}.items():
        for key in keys:
            value = raw.get(section, {}).get(key)
            if value:
                raw[section][key] = str((base / value).resolve())
    try:
        return ScheduleConfig.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None


def runner_environment(config: ScheduleConfig) -> dict[str, str]:
    """Environment for the processes that run the flows: task runner and extra loggers."""
    from flows.runner import ADDRESS_ENV, RUNNER_ENV

    env = {RUNNER_ENV: config.task_runner, "PREFECT_LOGGING_EXTRA_LOGGERS": EXTRA_LOGGERS}
    if config.dask_address:
        env[ADDRESS_ENV] = config.dask_address
    return env


def build_deployments(config: ScheduleConfig) -> list:
    """The three ``RunnerDeployment`` objects (built offline; :func:`prefect.serve` runs them)."""
    from prefect.schedules import Cron

    from flows.benchmark import benchmark_flow
    from flows.restore import restore_flow
    from flows.train import train_flow

    restore, bench, train = config.restore, config.benchmark, config.train

    def deployment(flow, name: str, description: str, parameters: dict, cron: str | None = None):
        # One run at a time per deployment: two runs never write the same output folder.
        schedules = [Cron(cron, timezone=config.timezone)] if cron else []
        return flow.to_deployment(
            name=name, description=description, schedules=schedules, parameters=parameters, concurrency_limit=1, tags=["archive-restoration", name]
        )

    return [
        deployment(
            restore_flow,
            "nightly",
            f"Restore new and changed files of {restore.archive} with {restore.method} every night.",
            {
                "input_path": restore.archive,
                "output_dir": restore.output,
                "method": restore.method,
                "masks_dir": restore.masks,
                "options": restore.options,
                "workers": config.workers,
            },
            restore.cron,
        ),
        deployment(
            benchmark_flow,
            "weekly",
            f"Benchmark every method on simulated damage over {bench.archive}.",
            {"archive": bench.archive, "out_dir": bench.output, "methods": bench.methods, "damage": bench.damage, "seed": bench.seed, "workers": config.workers},
            bench.cron,
        ),
        deployment(
            train_flow,
            "on-demand",
            "Train a learned restorer on a folder of clean images (run it by hand).",
            {
                "settings": {"task": train.task, "steps": train.steps, "batch_size": train.batch_size, "patch": train.patch},
                "data_dir": train.data,
                "out_dir": train.output,
                "resume": False,
            },
        ),
    ]
