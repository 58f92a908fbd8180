"""Benchmark: ingest -> simulate damage -> detect it -> restore with N methods -> evaluate -> report.

Every method of a kind sees the very same damaged files and masks, so
classical and learned methods are compared on identical damage. Every
detector looks for the damage it is made to find, and at the clean
archive; its masks are scored against the simulated ones (precision,
recall, F1, IoU with a 1-pixel tolerance, and clean pixels flagged), and
the inpainter that ``restore-archive`` uses (or those named) also
restores from the default detector's masks (methods
``<inpainter>+<detector>``), scored on the true damage, beside the same
inpainter given the true masks. A pure
planner (:func:`plan_benchmark`) says what goes where; the flow runs the
stages, each stage's work side by side on the task runner (every method of
every damage kind at once, not one after another).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.detect import DEFAULT_DETECTOR, detect_jobs
from flows.ingest import ingest_flow
from flows.naming import run_name
from flows.restore_archive import DEFAULT_INPAINTER
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import (
    Progress,
    collect,
    evaluate_step,
    evaluation_jobs,
    failures,
    restore_jobs,
    run_counts,
    run_outcome,
    submit_batched,
    submit_damage,
    table_records,
)
from restoration import __version__
from restoration.archive import check_output_folder, claim_output_folder
from restoration.io import atomic_write
from restoration.jobs import DetectionScoreJob, Record
from restoration.pipeline import detect_settings, restore_settings
from restoration.provenance import SIDECAR_DIR
from restoration.registry import DETECT, REGISTRY, RESTORER_KINDS
from restoration.reports import BASELINE, detection_markdown, detection_summary, failure_table, summary_markdown
from tasks.detect import detect_batch
from tasks.evaluate import evaluate_batch
from tasks.report import write_contact_sheet, write_report, write_summary_page
from tasks.restore import restore_batch

DEFAULT_DAMAGE = ("holes", "scratches", "gaussian", "downscale")  # one of each kind of repair: every restorer runs
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


@dataclass(frozen=True)
class DamageGroup:
    """One damage kind simulated over the whole archive into ``output`` (masks in ``output/masks``)."""

    damage: str
    output: Path


@dataclass(frozen=True)
class DetectGroup:
    """One detector looking for one damage kind's damage (``damage`` ``clean``: in the clean archive), masks into ``output``."""

    damage: str
    detector: str
    output: Path


@dataclass(frozen=True)
class RestoreGroup:
    """One method restoring one damage kind's files from ``input`` into ``output``.

    ``detector``: the masks are that detector's (:class:`DetectGroup`), not the true ones.
    """

    damage: str
    method: str
    options: dict
    input: Path
    output: Path
    detector: str | None = None


@dataclass(frozen=True)
class ScoreGroup:
    """One set of files scored against the clean archive: a method's outputs, or the damaged baseline.

    ``in_hole``: also scored inside the damage masks (not for upscaling,
    whose masks are at the original size). ``modcrop``: the upscalers'
    factor; their outputs are scored against the reference cropped to a
    multiple of it (:func:`restoration.damage.simulate.modcrop`).
    """

    damage: str
    method: str
    test: Path
    in_hole: bool
    scores: Path
    modcrop: int = 1


@dataclass(frozen=True)
class BenchmarkPlan:
    """What a benchmark run does, decided before it reads a file."""

    damages: list[DamageGroup]
    restores: list[RestoreGroup]
    scores: list[ScoreGroup]
    detects: list[DetectGroup]


CLEAN = "clean"


def plan_benchmark(
    out: Path,
    *,
    damage: list[str] | None,
    methods: list[str] | None,
    detectors: list[str] | None = None,
    detect_inpaint: list[str] | None = None,
) -> BenchmarkPlan:
    """The stages of a benchmark into ``out``: which damage, which methods repair it, which detectors look for it, which outputs are scored.

    Pure: names are checked against the registry, nothing is read or
    written. ``methods`` and ``detectors`` default to every available
    restorer and detector, so a newly registered one is benchmarked with no
    other edit; ``detectors=[]`` leaves detection out. A detector looks at
    the clean archive and at the damage kinds it is made to find (its
    registry ``finds``; every inpainted kind when it names none). The
    inpainters in ``detect_inpaint`` (default: the one ``restore-archive``
    uses, when benchmarked) also restore from the masks of the default
    detector (the ``detect`` command's, when benchmarked; else the first
    listed).

    Raises
    ------
    restoration.registry.RegistryError
        For an unknown damage kind or method.
    """
    out = Path(out)
    kinds = list(damage or DEFAULT_DAMAGE)
    names = list(methods or REGISTRY.names(kind=RESTORER_KINDS, available_only=True))
    for name in kinds:
        REGISTRY.get(name, kind="damage")
    for name in names:
        REGISTRY.get(name, kind=RESTORER_KINDS)
    finders = list(REGISTRY.names(kind=DETECT, available_only=True) if detectors is None else detectors)
    for name in finders:
        REGISTRY.get(name, kind=DETECT)
    for name in detect_inpaint or []:
        REGISTRY.get(name, kind="inpaint")
    chosen = DEFAULT_DETECTOR if DEFAULT_DETECTOR in finders else (finders[0] if finders else None)
    from_detected = [DEFAULT_INPAINTER] if detect_inpaint is None else list(detect_inpaint)
    damages, restores, scores, detects = [], [], [], []
    detects += [DetectGroup(CLEAN, d, out / "detected" / CLEAN / d) for d in finders]
    for kind in kinds:
        group = DamageGroup(kind, out / "damaged" / kind)
        damages.append(group)
        score_root = out / SIDECAR_DIR / "scores" / kind
        in_hole = REGISTRY.get(kind).repaired_by != "upscale"
        if in_hole:  # a downscaled file is not scored against its original: only the upscalers' outputs are
            scores.append(ScoreGroup(kind, BASELINE, group.output, in_hole, score_root / BASELINE))
        for method in restorers_for(kind, names):
            restored, options = out / "restored" / kind / method, restore_options(kind, method)
            restores.append(RestoreGroup(kind, method, options, group.output, restored))
            scores.append(ScoreGroup(kind, method, restored, in_hole, score_root / method, modcrop=options.get("scale", 1)))
        if REGISTRY.get(kind).repaired_by != "inpaint":
            continue
        detects += [DetectGroup(kind, d, out / "detected" / kind / d) for d in finders if kind in (REGISTRY.get(d).finds or (kind,))]
        for method in [m for m in restorers_for(kind, names) if m in from_detected] if chosen else []:
            label = f"{method}+{chosen}"
            restored = out / "restored" / kind / label
            restores.append(RestoreGroup(kind, label, restore_options(kind, method), group.output, restored, detector=chosen))
            scores.append(ScoreGroup(kind, label, restored, in_hole, score_root / label))
    return BenchmarkPlan(damages, restores, scores, detects)


def seconds_per_image(restored: dict[tuple[str, str], list[Record]]) -> dict[str, float]:
    """Mean seconds a method took per file, over the files it restored in this run (those skipped as unchanged carry no time)."""
    times: dict[str, list[float]] = {}
    for (_, method), records in restored.items():
        times.setdefault(method, []).extend(float(r.values["seconds"]) for r in records if r.ok and r.values.get("seconds") is not None)
    return {method: sum(t) / len(t) for method, t in times.items() if t}


def failure_row(record: Record) -> dict:
    """A failed record as a per-image row: its damage kind, the method (or detector, or ``simulate`` for the damage step), file and reason."""
    labels = record.labels
    return {"damage": labels.get("damage", ""), "method": labels.get("method") or labels.get("detector") or "simulate", "path": record.path,
            "status": "failed", "error": record.error}  # fmt: skip


def _ok(records: list[Record]) -> list[str]:
    return sorted(r.path for r in records if r.ok)


@flow(name="benchmark", flow_run_name=run_name("benchmark-{input}"), task_runner=RunnerFromEnvironment())
def benchmark_flow(
    input: str,
    output: str,
    methods: list[str] | None = None,
    damage: list[str] | None = None,
    seed: int = 0,
    workers: int | None = None,
    detectors: list[str] | None = None,
    detect_inpaint: list[str] | None = None,
) -> dict:
    """Benchmark ``methods`` on ``damage`` simulated over the clean archive ``input``, and ``detectors`` on finding it; reports in ``output/report``.

    Returns the report paths, the quarantined inputs and the failed records.
    """
    logger = get_run_logger()
    workers = workers or default_workers()
    out = Path(output)
    plan = plan_benchmark(out, damage=damage, methods=methods, detectors=detectors, detect_inpaint=detect_inpaint)
    settings = {(g.damage, g.method): restore_settings(g.method.split("+")[0], g.options) for g in plan.restores}  # models chosen once
    finding = {name: detect_settings(name, {}) for name in {g.detector for g in plan.detects}}
    check_output_folder(input, output)
    claim_output_folder(output)

    # ingest
    ingested = ingest_flow(input, output, workers=workers)
    root = Path(ingested["root"])
    manifest = pd.DataFrame(ingested["rows"])
    quarantined = manifest[manifest["status"] == "quarantined"].to_dict(orient="records")
    left_out = manifest[manifest["status"] == "left-out"].to_dict(orient="records")
    rels = sorted(manifest.loc[manifest["status"] == "ok", "path"].unique())
    progress = Progress(len(rels) * (len(plan.damages) + len(plan.restores) + len(plan.scores) + 2 * len(plan.detects)), key="benchmark-progress")

    # damage: every kind side by side
    submitted = [(g, submit_damage(root, rels, g.output, kind=g.damage, seed=seed, options={}, workers=workers)) for g in plan.damages]
    damaged = {g.damage: collect(s, progress=progress) for g, s in submitted}
    records = [r for recs in damaged.values() for r in recs]
    masks = {kind: {r.path: r.mask for r in recs if r.ok} for kind, recs in damaged.items()}  # as written: no folder to list
    damaged_files = {kind: {r.path: r.output for r in recs if r.ok} for kind, recs in damaged.items()}

    # detect: every detector on every inpainting kind's damage, and on the clean archive
    submitted = []
    for g in plan.detects:
        source, done = (root, rels) if g.damage == CLEAN else (next(d.output for d in plan.damages if d.damage == g.damage), _ok(damaged[g.damage]))
        jobs = detect_jobs(source, done, g.output, settings=finding[g.detector], labels={"damage": g.damage, "detector": g.detector})
        submitted.append((g, submit_batched(detect_batch, jobs, workers=workers)))
    detected = {(g.damage, g.detector): collect(s, progress=progress) for g, s in submitted}
    records += [r for recs in detected.values() for r in recs]
    found_masks = {key: {r.path: r.output for r in recs if r.ok} for key, recs in detected.items()}

    # restore: every method of every kind side by side (from the true masks, and from the default detector's)
    submitted = []
    for g in plan.restores:
        given = masks[g.damage] if g.detector is None else found_masks[g.damage, g.detector]
        jobs = restore_jobs(g.input, sorted(given) if g.detector else _ok(damaged[g.damage]), g.output, settings=settings[g.damage, g.method],
                            masks=given, labels={"damage": g.damage, "method": g.method})  # fmt: skip
        submitted.append((g, submit_batched(restore_batch, jobs, workers=workers)))
    restored = {(g.damage, g.method): collect(s, progress=progress) for g, s in submitted}
    records += [r for recs in restored.values() for r in recs]

    # score the detectors' masks against the simulated ones (clean: against nothing); damage that changed nothing visibly is left out
    score_jobs = []
    for g in plan.detects:
        labels = {"damage": g.damage, "detector": g.detector}
        sidecars = out / SIDECAR_DIR / "detection" / g.damage / g.detector
        score_jobs += [
            DetectionScoreJob(rel=rel, predicted=mask, truth=None if g.damage == CLEAN else masks[g.damage][rel],
                              clean=None if g.damage == CLEAN else str(root / rel), damaged=None if g.damage == CLEAN else damaged_files[g.damage][rel],
                              labels=labels, sidecar=str(sidecars / f"{rel}.json"))
            for rel, mask in sorted(found_masks[g.damage, g.detector].items())
        ]  # fmt: skip
    detection_scores = collect(submit_batched(evaluate_batch, score_jobs, workers=workers), progress=progress)
    records += failures(detection_scores)

    # evaluate
    eval_jobs = []
    for g in plan.scores:
        done = _ok(damaged[g.damage] if g.method == BASELINE else restored[g.damage, g.method])
        labels = {"damage": g.damage, "method": g.method}
        eval_jobs += evaluation_jobs(g.test, root, done, masks[g.damage] if g.in_hole else None, labels, sidecars=g.scores, modcrop=g.modcrop)
    scores = evaluate_step(eval_jobs, workers=workers, progress=progress)
    records += failures(scores)
    failed = failures(records)
    rows = [r.row() for r in scores if r.ok]
    if not rows:
        raise RuntimeError(f"benchmark of {input}: nothing could be scored; see the failed records")
    rows += [failure_row(r) for r in failed]  # every failure is a row of per_image, with its reason, named in the summary

    # report
    report_dir = out / "report"
    paths = write_report(rows, str(report_dir), seed=seed)
    detection_md = ""
    if any(r.ok for r in detection_scores):
        found_summary = detection_summary([r.row() for r in detection_scores if r.ok])
        detection_md = detection_markdown(found_summary)
        paths["detection_csv"] = str(atomic_write(report_dir / "detection.csv", lambda tmp: found_summary.to_csv(tmp, index=False)))
        paths["detection_md"] = str(atomic_write(report_dir / "detection.md", lambda tmp: tmp.write_text(detection_md, encoding="utf-8")))
        create_table_artifact(
            key="benchmark-detection", table=table_records(found_summary), description="damage detection: pooled P/R/F1/IoU, clean pixels flagged"
        )
    sheet = contact_sheet_items(plan, root, sheet_files(manifest), damaged, restored)
    sheet_path = write_contact_sheet(sheet, str(report_dir / "contact_sheet.png")) if sheet else None
    if sheet_path:
        paths["contact_sheet"] = sheet_path
    facts = {
        "archive": str(input), "files": f"{len(rels)} scored, {len(quarantined)} quarantined, {len(left_out)} left out",
        "damage": ", ".join(g.damage for g in plan.damages), "methods": ", ".join(sorted({g.method for g in plan.restores})),
        "detectors": ", ".join(sorted({g.detector for g in plan.detects})) or "none", "seed": str(seed),
        "failed": str(len(failed)), "made": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by archive-restoration {__version__}",
    }  # fmt: skip
    paths["summary_html"] = write_summary_page(str(report_dir), f"Benchmark of {Path(input).name}", facts, sheet, seconds_per_image(restored))

    # The report task already tabulated and bootstrapped: read its files back.
    per_image = pd.read_parquet(paths["per_image_parquet"])
    summary = pd.read_parquet(paths["summary_parquet"])
    create_table_artifact(key="benchmark-summary", table=table_records(summary), description="mean and 95 % interval per group")
    create_table_artifact(key="benchmark-per-image", table=table_records(per_image, limit=1000), description="per-image scores (first 1000)")
    counts = run_counts(records)
    steps = f"Damage and restore steps: {counts['new']} files new, {counts['changed']} redone, {counts['skipped']} unchanged and skipped, {counts['failed']} failed."
    create_markdown_artifact(
        key="benchmark-report",
        markdown=summary_markdown(summary, title=f"Benchmark of {input}", failures=failure_table(per_image)) + "\n\n" + detection_md + "\n" + steps,
        description="benchmark report",
    )
    logger.info("benchmark done: %d rows scored, %d quarantined inputs; %s", len(rows), len(quarantined), steps)
    result = {"report": paths, "quarantined": quarantined, "left_out": left_out, "failed": failed, "output": str(out)}
    return run_outcome(result, records, f"benchmark of {input}")


def sheet_files(manifest: pd.DataFrame, count: int = CONTACT_SHEET_ITEMS) -> list[str]:
    """The files a contact sheet shows: one of each modality first (photos, scans, CT, MR ...), then the rest by path, ``count`` in all."""
    ok = manifest[manifest["status"] == "ok"].drop_duplicates("path").sort_values("path")
    firsts = list(ok.drop_duplicates("modality")["path"]) if "modality" in ok.columns else []
    rest = [p for p in ok["path"] if p not in firsts]
    return sorted((firsts + rest)[:count])


def contact_sheet_items(
    plan: BenchmarkPlan, root: Path, files: list[str], damaged: dict[str, list[Record]], restored: dict[tuple[str, str], list[Record]]
) -> list[dict]:
    """For each damage kind and each of ``files``: the reference, the damaged file, its mask (inpainting damage) and every method's restoration."""
    sheet = []
    for g in plan.damages:
        done = {r.path: r for r in damaged[g.damage] if r.ok}
        inpainted = REGISTRY.get(g.damage).repaired_by == "inpaint"
        for rel in [f for f in files if f in done]:
            outputs = {
                r.method: str(r.output / rel)
                for r in plan.restores
                if r.damage == g.damage and any(x.path == rel and x.ok for x in restored[g.damage, r.method])
            }
            sheet.append({"title": f"{rel} / {g.damage}", "reference": str(root / rel), "damaged": str(g.output / rel),
                          "mask": done[rel].mask if inpainted else None, "restored": outputs})  # fmt: skip
    return sheet
