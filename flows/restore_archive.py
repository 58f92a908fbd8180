"""Restore an archive that nobody has marked: ingest -> condition -> detect (or supplied masks) -> inpaint -> denoise -> report.

Each file's work is one job (:class:`restoration.jobs.RepairJob`), so a
rerun redoes only the files whose content, supplied mask or settings
changed. Under ``OUT``:

- ``restored/<rel>``: the restored file, in its own format and bit depth;
- ``masks/<rel dir>/<stem>.png``: the damage mask used (found or supplied);
- ``synthesised/<rel dir>/<stem>.png``: what changed: 255 where pixels
  were invented by inpainting, 96 where denoising only adjusted them, 0
  where they are the original's, so a curator or a clinician sees what is
  original;
- ``report/``: ``condition.csv`` and ``.parquet`` (per file: damage by
  kind, noise sigma, sharpness, clipped fraction, methods, status,
  runtime), ``report.md`` and a contact sheet with the found damage
  overlaid; ``manifest.csv`` of the ingest beside them.
"""

from __future__ import annotations

import heapq
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.detect import DEFAULT_DETECTOR
from flows.ingest import ingest_flow
from flows.naming import run_name
from flows.restore import TABLE_ROWS, run_report
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import Progress, collect, mask_of, mask_path_for, prepare_output, run_counts, run_outcome, submit_batched, table_records
from restoration.archive import check_output_folder, claim_output_folder
from restoration.io import MaskIndex, atomic_write
from restoration.jobs import Record, Records, RepairJob, failed, left_out
from restoration.pipeline import RepairSettings, detect_settings, method_settings
from restoration.provenance import sidecar_path
from tasks.repair import repair_batch
from tasks.report import write_contact_sheet

DEFAULT_INPAINTER = "telea"
DEFAULT_DENOISER = "nlm"
#: Files shown in the contact sheet (the most damaged first).
CONTACT_SHEET_FILES = 6
#: Columns of the condition table, in order (those present).
CONDITION_COLUMNS = (
    "path", "status", "run", "detect", "inpaint", "denoise", "damaged", "damage_holes", "damage_scratches", "damage_spots",
    "damage_stains", "damage_dead-pixels", "noise_sigma", "sharpness", "clipped", "seconds", "frames", "error",
)  # fmt: skip


def repair_settings(detect: str | None, inpaint: str, denoise: str | None, *, noise_threshold: float = 4.0) -> RepairSettings:
    """The :class:`~restoration.pipeline.RepairSettings` of a run (names checked, models chosen once).

    ``detect`` None: supplied masks only; ``denoise`` None (or ``none``): never denoise.
    """
    return RepairSettings(
        detector=detect_settings(detect, {}) if detect else None,
        inpainter=method_settings(inpaint, {}, kinds="inpaint"),
        denoiser=method_settings(denoise, {}, kinds="denoise") if denoise and denoise != "none" else None,
        noise_threshold=noise_threshold,
    )


def condition_table(records: list[Record]) -> pd.DataFrame:
    """One row per file: its condition, what was done, status and runtime (sorted by path)."""
    rows = [{**r.values, "path": r.path, "status": r.status, "run": r.run, "error": r.error} for r in records]
    table = pd.DataFrame(rows)
    columns = [c for c in CONDITION_COLUMNS if c in table.columns]
    return table[columns].sort_values("path", kind="stable").reset_index(drop=True) if len(table) else table


def condition_markdown(title: str, table: pd.DataFrame, records: list[Record]) -> str:
    """The report: counts, the archive's condition in brief, and the most damaged files."""
    lines = [run_report(title, records), ""]
    ok = table[table["status"] == "ok"] if "status" in table.columns else table
    if len(ok):
        denoised = int((ok["denoise"] != "").sum()) if "denoise" in ok.columns else 0
        lines += [
            f"{len(ok)} files restored: {ok['damaged'].mean():.2%} of pixels damaged on average (most {ok['damaged'].max():.2%}); "
            f"{denoised} denoised (estimated noise above the threshold); median noise sigma {ok['noise_sigma'].median():.1f} (0-255 scale).",
            "",
            "| file | damaged | holes | scratches | spots | dead pixels | noise sigma | sharpness | clipped | methods | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for _, row in ok.sort_values("damaged", ascending=False).head(50).iterrows():
            methods = ", ".join(m for m in (row.get("detect", ""), row.get("inpaint", ""), row.get("denoise", "")) if m)
            lines.append(
                f"| {row['path']} | {row['damaged']:.2%} | {row.get('damage_holes', 0):.2%} | {row.get('damage_scratches', 0):.2%} | "
                f"{row.get('damage_spots', 0):.2%} | {row.get('damage_dead-pixels', 0):.2%} | {row['noise_sigma']:.1f} | {row['sharpness']:.1f} | "
                f"{row['clipped']:.2%} | {methods} | {row['seconds']:.2f} |"
            )
    return "\n".join(lines)


@flow(name="restore-archive", flow_run_name=run_name("restore-archive-{archive}"), task_runner=RunnerFromEnvironment())
def restore_archive_flow(
    archive: str,
    output: str,
    detect: str = DEFAULT_DETECTOR,
    inpaint: str = DEFAULT_INPAINTER,
    denoise: str = DEFAULT_DENOISER,
    masks: str | None = None,
    workers: int | None = None,
) -> Records:
    """Restore every file of ``archive`` into ``output``: found or supplied damage inpainted, noise removed where there is any.

    ``masks``: a folder of supplied masks (the layout ``detect`` writes);
    a file with a mask there uses it, the others get ``detect``'s.
    ``denoise`` ``none`` never denoises. One record per file.
    """
    logger = get_run_logger()
    workers = workers or default_workers()
    settings = repair_settings(detect, inpaint, denoise)  # unknown names fail before anything is read or written
    check_output_folder(archive, output, other_inputs=[masks])
    claim_output_folder(output)
    out = Path(output)

    ingested = ingest_flow(archive, output, workers=workers)
    root = Path(ingested["root"])
    manifest = pd.DataFrame(ingested["rows"])
    rels = sorted(manifest.loc[manifest["status"] == "ok", "path"].unique()) if len(manifest) else []
    records: list[Record] = [
        failed(row["path"], row["reason"]) if row["status"] == "quarantined" else left_out(row["path"], row["reason"])
        for row in manifest.drop_duplicates("path").to_dict(orient="records")
        if row["status"] in ("quarantined", "left-out")
    ]

    supplied = MaskIndex(masks) if masks else None
    prepare_output(out / "restored")
    jobs = [
        RepairJob(
            rel=r, input=str(root / r), output=str(out / "restored" / r), mask_output=str(mask_path_for(out / "masks", r)),
            synthesised=str(mask_path_for(out / "synthesised", r)), mask=mask_of(supplied, r), settings=settings,
            sidecar=str(sidecar_path(out / "restored", r)),
        )
        for r in rels
    ]  # fmt: skip
    records += collect(submit_batched(repair_batch, jobs, workers=workers), progress=Progress(len(jobs), key="restore-archive-progress"))

    report = out / "report"
    table = condition_table(records)
    atomic_write(report / "condition.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(report / "condition.parquet", lambda tmp: table.to_parquet(tmp, index=False))
    markdown = condition_markdown(f"Restoration of `{archive}`", table, records)
    atomic_write(report / "report.md", lambda tmp: tmp.write_text(markdown + "\n"))
    worst = heapq.nlargest(CONTACT_SHEET_FILES, (r for r in records if r.ok), key=lambda r: (r.values.get("damaged", 0), r.path))
    sheet = [
        {"title": r.path, "damaged": str(root / r.path), "mask": r.mask, "overlay": True, "restored": {"restored": r.output}}
        for r in sorted(worst, key=lambda r: r.path)
    ]
    if sheet:
        write_contact_sheet(sheet, str(report / "contact_sheet.png"))
    create_table_artifact(table_records(table, limit=TABLE_ROWS), key="restore-archive-condition", description=f"condition per file (first {TABLE_ROWS})")
    create_markdown_artifact(markdown, key="restore-archive-report", description="condition and restoration of the archive")
    counts = run_counts(records)
    logger.info("restore-archive of %s: %s; report in %s", archive, ", ".join(f"{n} {k}" for k, n in counts.items()), report)
    return run_outcome(Records(records), records, "restore-archive")
