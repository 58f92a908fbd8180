"""Ingest: archive -> staged files -> manifest (quarantining what cannot be read)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.runner import task_runner
from flows.steps import batch_label, default_workers, make_batches
from restoration.archive import check_output_folder, claim_output_folder, describe_file
from tasks.ingest import describe_files, stage_archive, write_manifest_task


@flow(name="ingest", flow_run_name="ingest-{archive}", task_runner=task_runner())
def ingest_flow(archive: str, out_dir: str, workers: int | None = None) -> dict:
    """Read an archive (folder, zip, tar, one image file) and write ``manifest.parquet``/``.csv`` in ``out_dir``.

    Every entry gets a row: ``ok`` (one per frame), ``quarantined`` (with the
    reason) or ``left-out`` (hidden files, the output folder inside the
    input...). Returns the archive folder, the manifest rows and the
    manifest paths.
    """
    workers = workers or default_workers()
    check_output_folder(archive, out_dir)
    claim_output_folder(out_dir)
    listing = stage_archive(archive, out_dir)
    root = str(listing.root)
    entries = [{"rel": rel, "problem": None} for rel in listing.files] + [{"rel": rel, "problem": reason} for rel, reason in listing.refused]
    batches = make_batches(sorted(entries, key=lambda e: e["rel"]), workers)
    futures = [
        describe_files.submit(root, [(j["rel"], j["problem"]) for j in batch], label=batch_label(batch))
        for batch in batches
    ]
    rows = [row for future in futures for row in future.result()]
    rows += [row for rel, reason in listing.left_out for row in describe_file(root, rel, problem=reason, status="left-out")]
    paths = write_manifest_task(rows, out_dir)
    quarantined = [r for r in rows if r["status"] == "quarantined"]
    left_out = [r for r in rows if r["status"] == "left-out"]
    lines = [
        f"# Ingest of `{archive}`",
        "",
        f"{len({r['path'] for r in rows if r['status'] != 'left-out'})} files, {sum(r['status'] == 'ok' for r in rows)} items ok, "
        f"{len(quarantined)} files quarantined, {len(left_out)} entries left out. Manifest: `{paths[0]}`.",
    ]
    for chosen, heading in ((quarantined, "quarantined file"), (left_out, "left-out entry")):
        if chosen:
            lines += ["", f"| {heading} | reason |", "|---|---|"]
            lines += [f"| {r['path']} | {r['reason']} |" for r in chosen]
    create_markdown_artifact(key="ingest-report", markdown="\n".join(lines), description="ingest summary")
    return {"root": root, "rows": rows, "manifest": paths, "out_dir": str(Path(out_dir))}
