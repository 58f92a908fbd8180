"""Ingestion tasks: stage the archive, describe its files, write the manifest."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from restoration.io import describe_file, extract_archive, is_archive_file, list_files, write_manifest


@task(name="stage-archive", retries=2, retry_delay_seconds=1)
def stage_archive(
    archive: str, out_dir: str, staging: str = "archive", exclude: list[str] | None = None
) -> tuple[str, list[tuple[str, str | None]]]:
    """Archive folder and its files; a zip or tar is unpacked into ``out_dir/<staging>``.

    Returns the folder and ``(relative path, problem)`` for every file,
    including archive members that were refused, with their reasons. A
    folder is read in place, leaving out ``out_dir`` and ``exclude`` when
    they lie inside it.
    """
    source = Path(archive)
    if not source.exists():
        raise FileNotFoundError(f"{archive}: no such archive")
    if is_archive_file(source):
        root = Path(out_dir) / staging
        refused = extract_archive(source, root)
        files = list_files(root) + [(name, reason) for name, reason in refused]
        return str(root), sorted(files)
    if not source.is_dir():
        raise ValueError(f"{archive}: not a folder, .zip, .tar or .tar.gz")
    return str(source), list_files(source, exclude=[out_dir, *(exclude or [])])


@task(name="describe-files", retries=2, retry_delay_seconds=1, task_run_name="describe-{label}")
def describe_files(root: str, files: list[tuple[str, str | None]], label: str = "") -> list[dict]:
    """Manifest rows for a batch of files (unreadable ones quarantined with a reason)."""
    rows: list[dict] = []
    for rel, problem in files:
        rows.extend(describe_file(root, rel, problem=problem))
    return rows


@task(name="write-manifest", retries=2, retry_delay_seconds=1)
def write_manifest_task(rows: list[dict], out_dir: str) -> list[str]:
    """Write ``manifest.parquet`` and ``manifest.csv`` under ``out_dir``."""
    return [str(p) for p in write_manifest(rows, out_dir)]
