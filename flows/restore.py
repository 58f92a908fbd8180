"""Restore: a folder of images (+ supplied masks) -> restored images in the same formats.

Incremental: a file already restored with the same content, method,
options and model is skipped (see :mod:`restoration.provenance`); the
report counts new, changed, skipped and failed files.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows import parameters
from flows.naming import run_name
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import Progress, listing_records, restore_step, run_counts, run_outcome
from restoration.archive import check_output_folder, claim_output_folder
from restoration.jobs import Record, Records
from restoration.pipeline import restore_settings
from tasks.ingest import stage_archive

REPORT_FAILURES = 200
TABLE_ROWS = 1000


def run_report(title: str, records: Sequence[Record]) -> str:
    """Markdown: counts of new, changed, skipped, failed and left-out entries, and each failure and omission with its reason."""
    counts = run_counts(records)
    lines = [
        f"# {title}",
        "",
        "| new | changed (redone) | skipped (unchanged) | failed | left out |",
        "|---:|---:|---:|---:|---:|",
        f"| {counts['new']} | {counts['changed']} | {counts['skipped']} | {counts['failed']} | {counts['left-out']} |",
    ]
    for status, heading in (("failed", "failed entry"), ("left-out", "left-out entry")):
        chosen = [r for r in records if r.status == status]
        if chosen:
            lines += ["", f"| {heading} | reason |", "|---|---|"]
            lines += [f"| {r.path} | {r.error.replace('|', '/')} |" for r in chosen[:REPORT_FAILURES]]
            if len(chosen) > REPORT_FAILURES:
                lines.append(f"| ... | {len(chosen) - REPORT_FAILURES} more |")
    return "\n".join(lines)


@flow(name="restore", flow_run_name=run_name("restore-{method}-{input}"), task_runner=RunnerFromEnvironment())
def restore_flow(
    input: str,
    output: str,
    method: str,
    masks: str | None = None,
    options: parameters.RestoreOptions | None = None,
    workers: int | None = None,
) -> Records:
    """Write ``output/<rel>`` for each file of ``input`` restored with ``method``; one record per file.

    ``masks`` is a folder of supplied damage masks. Each
    :class:`~restoration.jobs.Record` has ``status`` (``ok``, ``failed`` or
    ``left-out``, with ``error`` saying why) and ``run`` (``new``,
    ``changed``, ``skipped``). The output folder is refused when it could
    touch an input.
    """
    workers = workers or default_workers()
    given = options.given() if isinstance(options, parameters.OptionsForm) else dict(options or {})  # a dict when validation is off
    settings = restore_settings(method, given)  # bad options fail the run before anything is read or written; the model is chosen once
    check_output_folder(input, output, other_inputs=[masks])
    claim_output_folder(output)
    listing = stage_archive(input, output, staging=".staging", exclude=[masks] if masks else [])
    progress = Progress(len(listing.files), key="restore-progress")
    records = listing_records(listing) + restore_step(
        listing.root,
        listing.files,
        Path(output),
        settings=settings,
        masks=Path(masks) if masks else None,
        workers=workers,
        progress=progress,
    )
    counts = run_counts(records)
    get_run_logger().info("restore %s of %s: %s", method, input, ", ".join(f"{n} {k}" for k, n in counts.items()))
    create_markdown_artifact(
        run_report(f"Restore of `{input}` with `{method}`", records), key="restore-report", description="files new, skipped, failed, left out"
    )
    shown = heapq.nsmallest(TABLE_ROWS, records, key=lambda r: (r.ok, r.status == "left-out", r.run == "skipped", r.path))
    rows = [{"path": r.path, "run": r.run, "status": r.status, "output": r.output or "", "error": r.error} for r in shown]
    create_table_artifact(rows, key="restore-files", description=f"files of this run, failed and redone first (first {TABLE_ROWS})")
    return run_outcome(Records(records), records, f"restore {method}")
