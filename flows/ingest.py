"""Ingest: archive -> staged files -> manifest (quarantining what cannot be read)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.runner import task_runner
from flows.steps import batch_label, default_workers, make_batches
from tasks.ingest import describe_files, stage_archive, write_manifest_task


@flow(name="ingest", flow_run_name="ingest-{archive}", task_runner=task_runner())
def ingest_flow(archive: str, out_dir: str, workers: int | None = None) -> dict:
    """Read an archive (folder, zip, tar) and write ``manifest.parquet``/``.csv`` in ``out_dir``.

    Returns the archive folder, the manifest rows and the manifest paths.
    """
    workers = workers or default_workers()
    root, files = stage_archive(archive, out_dir)
    batches = make_batches([{"rel": rel, "problem": problem} for rel, problem in files], workers)
    futures = [
        describe_files.submit(root, [(j["rel"], j["problem"]) for j in batch], label=batch_label(batch))
        for batch in batches
    ]
    rows = [row for future in futures for row in future.result()]
    paths = write_manifest_task(rows, out_dir)
    quarantined = [r for r in rows if r["status"] != "ok"]
    lines = [
        f"# Ingest of `{archive}`",
        "",
        f"{len({r['path'] for r in rows})} files, {sum(r['status'] == 'ok' for r in rows)} items ok, "
        f"{len(quarantined)} files quarantined. Manifest: `{paths[0]}`.",
    ]
    if quarantined:
        lines += ["", "| quarantined file | reason |", "|---|---|"]
        lines += [f"| {r['path']} | {r['reason']} |" for r in quarantined]
    create_markdown_artifact(key="ingest-report", markdown="\n".join(lines), description="ingest summary")
    return {"root": root, "rows": rows, "manifest": paths, "out_dir": str(Path(out_dir))}
