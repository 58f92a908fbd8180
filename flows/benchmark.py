"""Benchmark: ingest -> simulate damage -> restore with N methods -> evaluate -> report.

Every method of a kind sees the very same damaged files and masks, so
classical (and later learned) methods are compared on identical damage.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.ingest import ingest_flow
from flows.runner import task_runner
from flows.steps import (
    Progress,
    damage_step,
    default_workers,
    evaluate_step,
    evaluation_jobs,
    failures,
    restore_step,
    run_counts,
    table_records,
)
from restoration.archive import check_output_folder, claim_output_folder
from restoration.provenance import SIDECAR_DIR
from restoration.registry import REGISTRY, RESTORER_KINDS
from restoration.reports import BASELINE, summary_markdown
from tasks.report import write_contact_sheet, write_report

DEFAULT_DAMAGE = ("holes", "scratches", "gaussian")
CONTACT_SHEET_ITEMS = 4


def restorers_for(damage: str, methods: list[str]) -> list[str]:
    """The methods among ``methods`` that repair ``damage``."""
    repaired_by = REGISTRY.get(damage, kind="damage").repaired_by
    return [m for m in methods if REGISTRY.get(m).kind == repaired_by]


def restore_options(damage: str, method: str) -> dict:
    """Options a method gets in the benchmark: the known scale for upscaling,
    the known sigma for Gaussian noise (non-blind, as in published tables);
    other noise is estimated."""
    kind = REGISTRY.get(method).kind
    simulator = REGISTRY.get(damage).func
    defaults = {k: p.default for k, p in inspect.signature(simulator).parameters.items()}
    if kind == "upscale":
        return {"scale": defaults["scale"]}
    if kind == "denoise" and damage == "gaussian":
        return {"sigma": defaults["sigma"]}
    return {}


@flow(name="benchmark", flow_run_name="benchmark-{archive}", task_runner=task_runner())
def benchmark_flow(
    archive: str,
    out_dir: str,
    methods: list[str] | None = None,
    damage: list[str] | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> dict:
    """Benchmark ``methods`` on ``damage`` simulated over ``archive``; reports in ``out_dir/report``.

    Returns the report paths, the quarantined inputs and the failed records.
    """
    logger = get_run_logger()
    workers = workers or default_workers()
    out = Path(out_dir)
    damage = list(damage or DEFAULT_DAMAGE)
    methods = list(methods or REGISTRY.names(kind=RESTORER_KINDS, available_only=True))
    for name in damage:
        REGISTRY.get(name, kind="damage")
    for name in methods:
        REGISTRY.get(name, kind=RESTORER_KINDS)
    check_output_folder(archive, out_dir)
    claim_output_folder(out_dir)

    ingested = ingest_flow(archive, out_dir, workers=workers)
    root = Path(ingested["root"])
    manifest = pd.DataFrame(ingested["rows"])
    quarantined = manifest[manifest["status"] == "quarantined"].to_dict(orient="records")
    left_out = manifest[manifest["status"] == "left-out"].to_dict(orient="records")
    rels = sorted(manifest.loc[manifest["status"] == "ok", "path"].unique())
    plan = {kind: restorers_for(kind, methods) for kind in damage}
    n_eval = sum(len(p) + (REGISTRY.get(k).repaired_by != "upscale") for k, p in plan.items())
    progress = Progress(len(rels) * (len(damage) + sum(map(len, plan.values())) + n_eval), key="benchmark-progress")

    records: list[dict] = []
    eval_jobs: list[dict] = []
    sheet: list[dict] = []
    for kind, kind_methods in plan.items():
        damaged_dir = out / "damaged" / kind
        masks_dir = damaged_dir / "masks"
        damaged = damage_step(root, rels, damaged_dir, kind=kind, seed=seed, options={}, workers=workers, progress=progress)
        records += damaged
        ok = sorted(r["path"] for r in damaged if r["status"] == "ok")
        scores = out / SIDECAR_DIR / "scores" / kind
        if REGISTRY.get(kind).repaired_by != "upscale":
            eval_jobs += evaluation_jobs(damaged_dir, root, ok, masks_dir, {"damage": kind, "method": BASELINE}, sidecar_root=scores / BASELINE)
        for method in kind_methods:
            restored_dir = out / "restored" / kind / method
            restored = restore_step(
                damaged_dir,
                ok,
                restored_dir,
                method=method,
                masks_dir=masks_dir,
                options=restore_options(kind, method),
                workers=workers,
                labels={"damage": kind, "method": method},
                progress=progress,
            )
            records += restored
            done = sorted(r["path"] for r in restored if r["status"] == "ok")
            eval_jobs += evaluation_jobs(restored_dir, root, done, masks_dir, {"damage": kind, "method": method}, sidecar_root=scores / method)
        if REGISTRY.get(kind).repaired_by == "inpaint":
            for rel in ok[:CONTACT_SHEET_ITEMS]:
                mask = next((r["mask"] for r in damaged if r["path"] == rel), None)
                sheet.append(
                    {
                        "title": f"{rel} / {kind}",
                        "damaged": str(damaged_dir / rel),
                        "mask": mask,
                        "restored": {m: str(out / "restored" / kind / m / rel) for m in kind_methods if (out / "restored" / kind / m / rel).exists()},
                    }
                )

    scores = evaluate_step(eval_jobs, workers=workers, progress=progress)
    records += failures(scores)
    rows = [r for r in scores if r["status"] == "ok"]
    if not rows:
        raise RuntimeError(f"benchmark of {archive}: nothing could be scored; see the failed records")
    report_dir = out / "report"
    paths = write_report(rows, str(report_dir), seed=seed)
    sheet_path = write_contact_sheet(sheet, str(report_dir / "contact_sheet.png")) if sheet else None
    if sheet_path:
        paths["contact_sheet"] = sheet_path

    # The report task already tabulated and bootstrapped: read its files back.
    per_image = pd.read_parquet(paths["per_image_parquet"])
    summary = pd.read_parquet(paths["summary_parquet"])
    create_table_artifact(key="benchmark-summary", table=table_records(summary), description="mean and 95 % interval per group")
    create_table_artifact(key="benchmark-per-image", table=table_records(per_image, limit=1000), description="per-image scores (first 1000)")
    failed = failures(records)
    counts = run_counts(records)
    steps = f"Damage and restore steps: {counts['new']} files new, {counts['changed']} redone, {counts['skipped']} unchanged and skipped, {counts['failed']} failed."
    create_markdown_artifact(
        key="benchmark-report", markdown=summary_markdown(summary, title=f"Benchmark of {archive}") + "\n\n" + steps, description="benchmark report"
    )
    logger.info("benchmark done: %d rows scored, %d quarantined inputs; %s", len(rows), len(quarantined), steps)
    return {"report": paths, "quarantined": quarantined, "left_out": left_out, "failed": failed, "out_dir": str(out)}
