"""Report task: tables, Markdown/HTML and the contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from prefect import task

from restoration.io import read_image_file, read_mask_file
from restoration.reports import contact_sheet, display_window, mask_overlay, per_image_table, summarise, write_tables


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
