"""Report task: tables, Markdown/HTML and the contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task

from restoration.io import read_image_file, read_mask_file
from restoration.report_page import before_after, summary_page
from restoration.reports import contact_sheet, display_window, failure_table, mask_overlay, per_image_table, summarise, write_tables


@task(name="write-report", retries=2, retry_delay_seconds=1)
def write_report(rows: list[dict], output: str, seed: int = 0) -> dict[str, str]:
    """Write per-image and summary tables under ``output``; return their paths."""
    per_image = per_image_table(rows)
    summary = summarise(per_image, seed=seed)
    return {key: str(path) for key, path in write_tables(per_image, summary, output).items()}


@task(name="contact-sheet", retries=2, retry_delay_seconds=1)
def write_contact_sheet(sheet_rows: list[dict], path: str) -> str | None:
    """Contact sheet PNG. Each row: ``title``, ``damaged``, ``mask``, ``restored`` ({method: path}), optionally ``reference``.

    With a ``reference`` (the clean file) it is shown first, and every panel
    is viewed between the reference's grey levels
    (:func:`restoration.reports.display_window`), so damage written far
    outside them stays visible as damage. A row with ``overlay`` set shows
    the mask tinted over the damaged image instead of alone. Only the first
    frame of each file is shown. Rows whose files cannot be read are left out.
    """
    rows = []
    for spec in sheet_rows:
        try:
            damaged = read_image_file(spec["damaged"])
            panels = []
            window = None
            if spec.get("reference"):
                reference = read_image_file(spec["reference"]).frames[0]
                window = display_window(reference)
                panels.append(("reference", reference, window))
            panels.append(("damaged", damaged.frames[0], window))
            if spec.get("mask"):
                mask = read_mask_file(spec["mask"], damaged)[0]
                shown = mask_overlay(damaged.frames[0], mask, window=window) if spec.get("overlay") else mask.astype(np.float64)
                panels.append(("damage found" if spec.get("overlay") else "mask", shown, (0.0, 1.0)))
            for method, restored in spec["restored"].items():
                panels.append((method, read_image_file(restored).frames[0], window))
        except (OSError, ValueError):
            continue
        rows.append((spec["title"], panels))
    if not rows:
        return None
    return str(contact_sheet(rows, Path(path)))


@task(name="summary-page", retries=2, retry_delay_seconds=1)
def write_summary_page(report_dir: str, title: str, facts: dict[str, str], sheet_rows: list[dict], seconds: dict[str, float]) -> str:
    """Rewrite ``report_dir/summary.html`` as the whole page: what ran, failures, plots, scores, before/after crops, contact sheet.

    Reads the tables :func:`write_report` wrote and the contact sheet beside
    them; the crops come from the first file of each damage kind in
    ``sheet_rows`` (the contact sheet's rows), one per method. A file that
    cannot be read leaves its crops out.
    """
    import pandas as pd

    from restoration.io import atomic_write

    report = Path(report_dir)
    per_image = pd.read_parquet(report / "per_image.parquet")
    summary = pd.read_parquet(report / "summary.parquet")
    crops, seen = [], set()
    for spec in sheet_rows:
        kind = spec["title"].rsplit(" / ", 1)[-1]
        if kind in seen or not spec.get("reference"):
            continue
        seen.add(kind)
        try:
            reference = read_image_file(spec["reference"]).frames[0]
            damaged_file = read_image_file(spec["damaged"])
            mask = read_mask_file(spec["mask"], damaged_file)[0] if spec.get("mask") else None
            for method, path in spec["restored"].items():
                crops.append((f"{spec['title']} / {method}", before_after(reference, damaged_file.frames[0], read_image_file(path).frames[0], mask)))
        except (OSError, ValueError):
            continue
    sheet = report / "contact_sheet.png"
    page = summary_page(
        summary, failure_table(per_image), title=title, facts=facts, seconds=seconds,
        contact_sheet=sheet.read_bytes() if sheet.is_file() else None, crops=crops,
    )  # fmt: skip
    return str(atomic_write(report / "summary.html", lambda tmp: tmp.write_text(page, encoding="utf-8")))
