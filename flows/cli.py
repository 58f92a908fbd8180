"""``archive-restore``: the command line over the flows.

Flows run on the local Prefect by default (an ephemeral API starts by
itself) or against a server when PREFECT_API_URL is set. Exit status is 1
when any file failed; each such file is named on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

# No network here: keep the local Prefect server from trying to send telemetry.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The library's own log records (logger "restoration") reach the Prefect UI too.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "restoration")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Restore image archives and measure how well it worked.")

Workers = Annotated[Optional[int], typer.Option(help="Worker threads or local Dask processes (default: CPU cores).", min=1)]
TaskRunner = Annotated[
    Optional[str], typer.Option("--task-runner", help="threads (default), or dask: a LocalCluster unless --dask-address is given.")
]
DaskAddress = Annotated[Optional[str], typer.Option("--dask-address", help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")]


def _runner(flow, workers: int | None, task_runner: str, dask_address: str | None):
    """``flow`` on the chosen task runner (a bad choice is a usage error)."""
    from flows.runner import with_runner

    if dask_address and task_runner is None:
        task_runner = "dask"  # an address can only mean a Dask cluster
    try:
        return with_runner(flow, workers=workers, kind=task_runner, dask_address=dask_address)
    except (ValueError, ImportError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--task-runner") from None


@app.callback()
def _settings(ctx: typer.Context) -> None:
    """Flow runs from the command line send no heartbeats (set ARCHIVE_RESTORE_HEARTBEATS=1 for them).

    Prefect joins its heartbeat thread at the end of every flow run, which
    costs up to a second per run; heartbeats only serve zombie detection,
    which an in-process command-line run does not have. Served and
    worker-run deployments keep Prefect's default.
    """
    if os.environ.get("ARCHIVE_RESTORE_HEARTBEATS") != "1":
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        ctx.with_resource(temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))


def _parse_ratio(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, _, high = text.partition("-")
        return (float(low), float(high or low))
    except ValueError:
        raise typer.BadParameter(f"ratio must look like 0.2-0.3, got {text!r}") from None


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _report_failures(records: list[dict], what: str) -> int:
    from flows.steps import run_counts

    failed = [r for r in records if r.get("status") != "ok"]
    counts = run_counts(records)
    ok = len(records) - len(failed)
    typer.echo(f"{what}: {ok} ok ({counts['new']} new, {counts['changed']} changed, {counts['skipped']} skipped), {len(failed)} failed")
    for record in failed:
        typer.echo(f"FAILED {record['path']}: {record.get('error', '')}", err=True)
    return 1 if failed else 0


def _check(name: str, kind) -> None:
    from restoration.registry import REGISTRY

    try:
        REGISTRY.get(name, kind=kind)
    except KeyError as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from None


@app.command()
def methods() -> None:
    """List every restorer, damage kind and metric with its options."""
    from restoration.registry import REGISTRY

    for entry in REGISTRY.entries():
        state = "" if entry.available else f"  (needs extra [{entry.requires}])"
        options = ", ".join(entry.options) or "-"
        typer.echo(f"{entry.kind:8s} {entry.name:14s} options: {options:26s} {entry.summary}{state}")


@app.command()
def ingest(
    archive: Annotated[Path, typer.Argument(exists=True, help="Folder, .zip or .tar(.gz).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the manifest.")],
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Read an archive and write manifest.parquet and manifest.csv."""
    from flows.ingest import ingest_flow

    result = _runner(ingest_flow, workers, task_runner, dask_address)(str(archive), str(out), workers=workers)
    rows = result["rows"]
    quarantined = [r for r in rows if r["status"] != "ok"]
    typer.echo(f"{len(rows) - len(quarantined)} items ok, {len(quarantined)} files quarantined; manifest: {result['manifest'][1]}")
    for r in quarantined:
        typer.echo(f"QUARANTINED {r['path']}: {r['reason']}", err=True)
    raise typer.Exit(1 if quarantined else 0)


@app.command()
def damage(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder (or archive) of images.")],
    output: Annotated[Path, typer.Argument(help="Output folder.")],
    kind: Annotated[str, typer.Option("--kind", help="Damage kind (see `methods`).")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    ratio: Annotated[Optional[str], typer.Option(help="Damaged fraction range, e.g. 0.2-0.3.")] = None,
    sigma: Annotated[Optional[float], typer.Option(help="Noise sigma on the 0-255 scale (blur: pixels).")] = None,
    quality: Annotated[Optional[int], typer.Option(help="JPEG quality for --kind jpeg.")] = None,
    scale: Annotated[Optional[int], typer.Option(help="Factor for --kind downscale.")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Simulate damage: writes OUTPUT/<rel> and OUTPUT/masks/<rel>.png."""
    from restoration.registry import REGISTRY

    _check(kind, "damage")
    options = {"ratio": _parse_ratio(ratio), "sigma": sigma, "quality": quality, "scale": scale}
    try:
        options = REGISTRY.get(kind).check_options(options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from flows.simulate_damage import simulate_damage_flow

    flow = _runner(simulate_damage_flow, workers, task_runner, dask_address)
    records = flow(str(input), str(output), kind, seed=seed, options=options, workers=workers)
    raise typer.Exit(_report_failures(records, f"damage {kind}"))


@app.command()
def restore(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder (or archive) of images.")],
    output: Annotated[Path, typer.Argument(help="Output folder: OUTPUT/<same relative path>.")],
    method: Annotated[str, typer.Option("--method", help="Restorer (see `methods`).")],
    masks: Annotated[Optional[Path], typer.Option(help="Mask folder: MASKS/<rel dir>/<stem>.*, nonzero = damaged.")] = None,
    sigma: Annotated[Optional[float], typer.Option(help="Noise sigma on the 0-255 scale (estimated if absent).")] = None,
    radius: Annotated[Optional[float], typer.Option(help="Inpainting radius in pixels (telea, navier-stokes; default 5).")] = None,
    scale: Annotated[Optional[int], typer.Option(help="Upscaling factor (bicubic, lanczos, cnn-sr; default 2).")] = None,
    model: Annotated[Optional[Path], typer.Option(exists=True, file_okay=False, help="Model directory for a learned method (default: the shipped model).")] = None,
    tile: Annotated[Optional[int], typer.Option(min=64, help="Tile size for learned methods (bounded memory; default 256).")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Restore every image, keeping format, bit depth and metadata.

    Files restored before with the same content, method, options and model
    are skipped; a run that was interrupted finishes the rest.
    """
    from restoration.registry import REGISTRY

    _check(method, ("inpaint", "denoise", "upscale"))
    try:
        options = REGISTRY.get(method).check_options(
            {"sigma": sigma, "radius": radius, "scale": scale, "model": str(model.resolve()) if model else None, "tile": tile}
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from flows.restore import restore_flow

    flow = _runner(restore_flow, workers, task_runner, dask_address)
    records = flow(str(input), str(output), method, masks_dir=str(masks) if masks else None, options=options, workers=workers)
    raise typer.Exit(_report_failures(records, f"restore {method}"))


@app.command()
def evaluate(
    restored: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of restored images.")],
    reference: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of clean references (same relative paths).")],
    out: Annotated[Path, typer.Option("--out", help="Table to write (CSV; a Parquet copy is written beside it).")],
    masks: Annotated[Optional[Path], typer.Option(help="Mask folder for in-hole scores.")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """PSNR and SSIM, whole image and inside the mask, per image."""
    from flows.evaluate import evaluate_flow

    records = _runner(evaluate_flow, workers, task_runner, dask_address)(str(restored), str(reference), str(out), masks_dir=str(masks) if masks else None, workers=workers)
    code = _report_failures(records, "evaluate")
    typer.echo(f"table: {out}")
    raise typer.Exit(code)


@app.command("package-images")
def package_images(
    out: Annotated[Path, typer.Argument(help="Folder to write the images to.")],
    which: Annotated[str, typer.Option("--set", help="training (for models) or held-out (for scoring them).")] = "training",
) -> None:
    """Write training or held-out images that ship inside installed packages (nothing is downloaded)."""
    from restoration.learned.package_images import write_package_images

    try:
        paths = write_package_images(out, which=which)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"{len(paths)} images in {out}")


@app.command()
def train(
    task: Annotated[str, typer.Option("--task", help="inpaint, denoise, sr or vae.")],
    data: Annotated[Path, typer.Option("--data", exists=True, file_okay=False, help="Folder of training images.")],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 2000,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/checkpoint.pt.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    self_supervised: Annotated[bool, typer.Option("--self-supervised", help="Learn from a damaged archive with no clean copies.")] = False,
    masks: Annotated[Optional[Path], typer.Option(help="Damage masks of the training images (self-supervised inpainting).")] = None,
    scale: Annotated[int, typer.Option(help="Super-resolution factor (2 or 4).")] = 2,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    patch: Annotated[int, typer.Option(min=16, help="Crop size (multiple of 8).")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of weights and batches.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 500,
    validate_every: Annotated[int, typer.Option(min=1)] = 500,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Train a learned restorer; OUT gets weights.pt, model.json, checkpoint.pt, loss.png."""
    from restoration.learned.modelfiles import ModelFileError
    from restoration.learned.training import TrainingSettings

    try:
        settings = TrainingSettings(
            task=task, steps=steps, batch_size=batch_size, patch=patch, lr=lr, seed=seed, device=device,
            self_supervised=self_supervised, scale=scale, checkpoint_every=checkpoint_every, validate_every=validate_every,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from flows.train import train_flow

    command = " ".join(["archive-restore", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("archive-restore") else f"archive-restore train {settings}"
    try:
        card = _runner(train_flow, 1, task_runner, dask_address)(settings, str(data), str(out), masks_dir=str(masks) if masks else None, resume=resume, command=command)
    except (ModelFileError, ValueError) as exc:
        typer.echo(f"train: {exc}", err=True)
        raise typer.Exit(1) from None
    scores = ", ".join(f"{k} {v:.3f}" for k, v in (card["validation"] or {}).items() if k != "step")
    typer.echo(f"{card['restorer']}: {card['training']['steps_done']} steps, validation {scores}; model in {out}")


def _run_benchmark(archive: Path, out: Path, methods: list[str] | None, damage: list[str] | None, seed: int, workers: int | None, flow) -> dict:
    result = flow(str(archive), str(out), methods=methods, damage=damage, seed=seed, workers=workers)
    for key, path in result["report"].items():
        typer.echo(f"{key:18s} {path}")
    for r in result["quarantined"]:
        typer.echo(f"QUARANTINED {r['path']}: {r['reason']}", err=True)
    for r in result["failed"]:
        typer.echo(f"FAILED {r['path']} ({r.get('damage', '')} {r.get('method', '')}): {r.get('error', '')}", err=True)
    return result


@app.command()
def benchmark(
    archive: Annotated[Path, typer.Argument(exists=True, help="Folder, .zip or .tar(.gz) of clean images.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    methods: Annotated[Optional[str], typer.Option(help="Comma-separated restorers (default: every available one).")] = None,
    damage: Annotated[Optional[str], typer.Option(help="Comma-separated damage kinds (default: holes,scratches,gaussian).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for the damage.")] = 0,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Ingest, damage, restore with every method, evaluate and report."""
    from flows.benchmark import benchmark_flow

    for name in _split(methods) or []:
        _check(name, ("inpaint", "denoise", "upscale"))
    for name in _split(damage) or []:
        _check(name, "damage")
    flow = _runner(benchmark_flow, workers, task_runner, dask_address)
    result = _run_benchmark(archive, out, _split(methods), _split(damage), seed, workers, flow)
    raise typer.Exit(1 if result["quarantined"] or result["failed"] else 0)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("demo-out"),
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Build a demo archive from images inside installed packages and benchmark every method (classical and learned) on it."""
    from flows.benchmark import benchmark_flow
    from restoration.demo import EXPECTED_QUARANTINE, build_demo_archive

    flow = _runner(benchmark_flow, workers, task_runner, dask_address)
    archive = build_demo_archive(out)
    typer.echo(f"demo archive: {archive}")
    result = _run_benchmark(archive, out, None, None, 0, workers, flow)
    quarantined = {r["path"] for r in result["quarantined"]}
    unexpected = quarantined ^ set(EXPECTED_QUARANTINE)
    if unexpected or result["failed"]:
        typer.echo(f"demo: unexpected problems with {sorted(unexpected)} and {len(result['failed'])} failures", err=True)
        raise typer.Exit(1)
    typer.echo(f"demo ok: {', '.join(sorted(quarantined))} quarantined as intended. Open {result['report']['summary_md']}")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
