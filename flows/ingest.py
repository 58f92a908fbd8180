"""Ingest: archive -> staged files -> manifest (quarantining what cannot be read)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.naming import run_name
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import make_batches
from restoration.archive import check_output_folder, claim_output_folder
from restoration.manifest import describe_file
from tasks.ingest import describe_files, stage_archive, write_manifest_task


@flow(name="ingest", flow_run_name=run_name("ingest-{input}"), task_runner=RunnerFromEnvironment())
def ingest_flow(input: str, output: str, workers: int | None = None) -> dict:
    """Read an archive ``input`` (folder, zip, tar, one image file) and write ``manifest.parquet``/``.csv`` in ``output``.

    Every entry gets a row: ``ok`` (one per frame), ``quarantined`` (with the
    reason) or ``left-out`` (hidden files, the output folder inside the
    input...). Returns the archive folder, the manifest rows and the
    manifest paths.
    """
    workers = workers or default_workers()
    check_output_folder(input, output)
    claim_output_folder(output)
    listing = stage_archive(input, output)
    root = str(listing.root)
    entries = sorted([(rel, None) for rel in listing.files] + list(listing.refused))  # (rel, why it was refused)
    futures = [describe_files.submit(root, batch) for batch in make_batches(entries, workers)]
    rows = [row for future in futures for row in future.result()]
    rows += [row for rel, reason in listing.left_out for row in describe_file(root, rel, problem=reason, status="left-out")]
    paths = write_manifest_task(rows, output)
    quarantined = [r for r in rows if r["status"] == "quarantined"]
    left_out = [r for r in rows if r["status"] == "left-out"]
    lines = [
        f"# Ingest of `{input}`",
        "",
        f"{len({r['path'] for r in rows if r['status'] != 'left-out'})} files, {sum(r['status'] == 'ok' for r in rows)} items ok, "
        f"{len(quarantined)} files quarantined, {len(left_out)} entries left out. Manifest: `{paths[0]}`.",
    ]
    for chosen, heading in ((quarantined, "quarantined file"), (left_out, "left-out entry")):
        if chosen:
            lines += ["", f"| {heading} | reason |", "|---|---|"]
            lines += [f"| {r['path']} | {r['reason']} |" for r in chosen]
    create_markdown_artifact(key="ingest-report", markdown="\n".join(lines), description="ingest summary")
    return {"root": root, "rows": rows, "manifest": paths, "output": str(Path(output))}
