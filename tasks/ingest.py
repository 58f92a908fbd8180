"""Ingestion tasks: stage the archive, describe its files, write the manifest."""

from __future__ import annotations

from prefect import task

from restoration.archive import Listing, describe_file, stage_input, write_manifest
from tasks.common import TASK_OPTIONS


@task(name="stage-archive", retries=TASK_OPTIONS["retries"], retry_delay_seconds=TASK_OPTIONS["retry_delay_seconds"], retry_condition_fn=TASK_OPTIONS["retry_condition_fn"])
def stage_archive(archive: str, out_dir: str, staging: str = "archive", exclude: list[str] | None = None) -> Listing:
    """The archive's :class:`~restoration.archive.Listing`; a zip or tar is unpacked into ``out_dir/<staging>``.

    A folder is read in place, leaving out ``out_dir`` and ``exclude`` when
    they lie inside it; one image file is an archive of one. Refused and
    left-out entries are listed with their reasons.
    """
    return stage_input(archive, out_dir, staging=staging, exclude=exclude or [])


@task(name="describe-files", task_run_name="describe-{label}", **TASK_OPTIONS)
def describe_files(root: str, files: list[tuple[str, str | None]], label: str = "") -> list[dict]:
    """Manifest rows for a batch of files (unreadable ones quarantined with a reason)."""
    rows: list[dict] = []
    for rel, problem in files:
        rows.extend(describe_file(root, rel, problem=problem))
    return rows


@task(name="write-manifest", **TASK_OPTIONS)
def write_manifest_task(rows: list[dict], out_dir: str) -> list[str]:
    """Write ``manifest.parquet`` and ``manifest.csv`` under ``out_dir``."""
    return [str(p) for p in write_manifest(rows, out_dir)]
