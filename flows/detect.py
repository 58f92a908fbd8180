"""Detect: a folder of images -> damage masks in the supplied-mask layout, and confidence maps.

For input ``a/b/x.tif`` the mask goes to ``OUTPUT/a/b/x.png`` (a multi-page
TIFF for a multi-frame file), which ``restore --masks OUTPUT`` reads as is,
and the confidence to ``OUTPUT/confidence/a/b/x.png``. Incremental like
every step: an unchanged file with the same detector, options and model is
skipped.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows import parameters
from flows.naming import run_name
from flows.restore import run_report
from flows.runner import RunnerFromEnvironment, default_workers
from flows.steps import Progress, collect, listing_records, mask_path_for, prepare_output, run_counts, run_outcome, submit_batched
from restoration.archive import check_output_folder, claim_output_folder
from restoration.jobs import DetectJob, Records
from restoration.pipeline import RestoreSettings, detect_settings
from restoration.provenance import sidecar_path
from tasks.detect import detect_batch
from tasks.ingest import stage_archive

#: Folder of the confidence maps under a detect run's output.
CONFIDENCE_DIR = "confidence"
#: The detector used when none is named: the best one by the benchmark (BENCHMARKS.md, "Damage detection").
DEFAULT_DETECTOR = "detect-classical"


def detect_jobs(input: Path, rels: list[str], output: Path, *, settings: RestoreSettings, labels: dict | None = None) -> list[DetectJob]:
    """Jobs finding the damage in ``input/<rel>``: masks in ``output/<rel dir>/<stem>.png``, confidence under ``output/confidence``."""
    prepare_output(output)
    labels = labels or {}
    return [
        DetectJob(
            rel=r, input=str(input / r), output=str(mask_path_for(output, r)), confidence=str(mask_path_for(output / CONFIDENCE_DIR, r)),
            settings=settings, labels=labels, sidecar=str(sidecar_path(output, r)),
        )
        for r in rels
    ]  # fmt: skip


@flow(name="detect", flow_run_name=run_name("detect-{method}-{input}"), task_runner=RunnerFromEnvironment())
def detect_flow(
    input: str,
    output: str,
    method: str = DEFAULT_DETECTOR,
    options: parameters.DetectOptions | None = None,
    workers: int | None = None,
) -> Records:
    """Write a damage mask and a confidence map for each file of ``input``; one record per file."""
    workers = workers or default_workers()
    given = options.given() if isinstance(options, parameters.OptionsForm) else dict(options or {})
    settings = detect_settings(method, given)  # bad options fail the run before anything is read or written
    check_output_folder(input, output)
    claim_output_folder(output)
    listing = stage_archive(input, output, staging=".staging")
    jobs = detect_jobs(listing.root, listing.files, Path(output), settings=settings)
    records = listing_records(listing) + collect(submit_batched(detect_batch, jobs, workers=workers), progress=Progress(len(jobs), key="detect-progress"))
    counts = run_counts(records)
    get_run_logger().info("detect %s of %s: %s", method, input, ", ".join(f"{n} {k}" for k, n in counts.items()))
    create_markdown_artifact(run_report(f"Damage found in `{input}` by `{method}`", records), key="detect-report", description="files new, skipped, failed")
    return run_outcome(Records(records), records, f"detect {method}")
