"""Ingestion tasks: stage the archive, describe its files, write the manifest."""

from __future__ import annotations

from prefect import task
from prefect.runtime import task_run

from restoration.archive import Listing, stage_input
from restoration.manifest import describe_file, write_manifest
from tasks.common import TASK_OPTIONS


@task(
    name="stage-archive",
    retries=TASK_OPTIONS["retries"],
    retry_delay_seconds=TASK_OPTIONS["retry_delay_seconds"],
    retry_condition_fn=TASK_OPTIONS["retry_condition_fn"],
)
def stage_archive(input: str, output: str, staging: str = "archive", exclude: list[str] | None = None) -> Listing:
    """The :class:`~restoration.archive.Listing` of the archive ``input``; a zip or tar is unpacked into ``output/<staging>``.

    A folder is read in place, leaving out ``output`` and ``exclude`` when
    they lie inside it; one image file is an archive of one. Refused and
    left-out entries are listed with their reasons.
    """
    return stage_input(input, output, staging=staging, exclude=exclude or [])


def _describe_run_name() -> str:
    files = task_run.parameters.get("files") or []
    return f"describe-{files[0][0]}" + (f"+{len(files) - 1}" if len(files) > 1 else "") if files else "describe"


@task(name="describe-files", task_run_name=_describe_run_name, **TASK_OPTIONS)
def describe_files(root: str, files: list[tuple[str, str | None]]) -> list[dict]:
    """Manifest rows for a batch of files (unreadable ones quarantined with a reason)."""
    rows: list[dict] = []
    for rel, problem in files:
        rows.extend(describe_file(root, rel, problem=problem))
    return rows


@task(name="write-manifest", **TASK_OPTIONS)
def write_manifest_task(rows: list[dict], output: str) -> list[str]:
    """Write ``manifest.parquet`` and ``manifest.csv`` under ``output``."""
    return [str(p) for p in write_manifest(rows, output)]
