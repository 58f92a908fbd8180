"""``archive-restore``: the command line over the flows.

Flows run against the server at PREFECT_API_URL when it is set, otherwise
on a temporary server this command starts and that stops with it
(:mod:`flows.temporary_server`). Options and output folders are checked
before any server starts: a usage error is one line on stderr and exit
status 2. Exit status is 1 when any file failed; each such file is named on
stderr, as is every entry left out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperGroup

from restoration.options import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV

if TYPE_CHECKING:  # the command line imports the pipeline only when a command runs
    from restoration.jobs import Record

# No network here: keep the local Prefect server from trying to send telemetry.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The library's own log records (logger "restoration") reach the Prefect UI too.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "restoration")


#: Resources of the command being run (a temporary server, settings), closed when it ends.
_RESOURCES: list[contextlib.ExitStack] = []


def _usage_error_code(exc: Exception) -> int | None:
    """Print a usage error (click's interface: ``exit_code``, ``format_message``) as one line; its exit status, or None."""
    kind = type(exc).__name__
    if kind == "NoArgsIsHelpError":
        exc.show()
        return exc.exit_code
    if kind == "Abort":
        typer.echo("Aborted.", err=True)
        return 1
    if hasattr(exc, "exit_code") and hasattr(exc, "format_message"):
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "archive-restore"
        typer.echo(f"{where}: {exc.format_message()}", err=True)
        return exc.exit_code
    return None


#: Options whose values are registry names: (command, parameter) -> the registry kinds they name.
#: Their ``--help`` lists the choices, read from the registry when a command is built.
REGISTRY_CHOICES: dict[tuple[str, str], str | tuple[str, ...]] = {
    ("restore", "method"): ("inpaint", "denoise", "upscale"),
    ("detect", "method"): "detect",
    ("damage", "kind"): "damage",
    ("restore-archive", "detect"): "detect",
    ("restore-archive", "inpaint"): "inpaint",
    ("restore-archive", "denoise"): "denoise",
    ("benchmark", "methods"): ("inpaint", "denoise", "upscale"),
    ("benchmark", "damage"): "damage",
    ("benchmark", "detectors"): "detect",
    ("benchmark", "detect_inpaint"): "inpaint",
}


def _flag_without_value(option):
    """``option`` shown in ``--help`` with no value placeholder (typer shows ``<bool>`` after a flag)."""
    if option is not None:
        option.display_type_rich = lambda ctx: None  # noqa: ARG005 - typer's hook, given the context
    return option


def _help_for_people(command):
    """``command`` with help a person can act on: no value placeholder after a flag (``--resume``, not ``--resume <bool>``), and the registry names an option takes listed in its help."""
    from restoration.registry import REGISTRY

    for param in command.params:
        if getattr(param, "is_flag", False):
            _flag_without_value(param)
        kinds = REGISTRY_CHOICES.get((command.name, param.name))
        if kinds is not None and "One of:" not in (param.help or ""):
            names = REGISTRY.names(kind=kinds, available_only=True)
            param.help = f"{param.help or ''} One of: {', '.join(names)}.".strip()
    return command


class OneLineErrors(TyperGroup):
    """Usage errors as one line on stderr with exit status 2, rather than a usage block in a box.

    Also owns what a command starts for its run (the temporary Prefect
    server), and closes it however the command ends, and words each
    command's help for people (:func:`_help_for_people`).
    """

    def get_command(self, ctx, cmd_name):  # noqa: D102
        command = super().get_command(ctx, cmd_name)
        if command is None:
            return None
        _flag_without_value(command.get_help_option(ctx))
        return _help_for_people(command)

    def get_help_option(self, ctx):  # noqa: D102
        return _flag_without_value(super().get_help_option(ctx))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: D102
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        with contextlib.ExitStack() as resources:
            _RESOURCES.append(resources)
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            except Exception as exc:  # usage errors only; anything else goes on up
                code = _usage_error_code(exc)
                if code is None:
                    raise
            finally:
                _RESOURCES.pop()
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=OneLineErrors, add_completion=False, no_args_is_help=True, help="Restore image archives and measure how well it worked.")

Workers = Annotated[Optional[int], typer.Option(help="Worker threads or local Dask processes (default: CPU cores).", min=1)]
TaskRunner = Annotated[Optional[str], typer.Option("--task-runner", help="threads (default), or dask: a LocalCluster unless --dask-address is given.")]
DaskAddress = Annotated[Optional[str], typer.Option("--dask-address", help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")]


def _runner(flow, workers: int | None, task_runner: str, dask_address: str | None):
    """``flow`` on the chosen task runner (a bad choice is a usage error), with a Prefect API to report to."""
    from flows.runner import with_runner

    if dask_address and task_runner is None:
        task_runner = "dask"  # an address can only mean a Dask cluster
    from flows.runner import check_runner_choice

    try:
        check_runner_choice(task_runner, dask_address)  # before a server starts for nothing
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--task-runner") from None
    _ensure_api()  # first: a local Dask cluster's workers are given its address
    try:
        return with_runner(flow, workers=workers, kind=task_runner, dask_address=dask_address)
    except (ValueError, ImportError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--task-runner") from None


def _ensure_api() -> None:
    """Without PREFECT_API_URL, start a temporary server that goes when this command goes (even on kill -9)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        return
    from flows import temporary_server

    resources = _RESOURCES[-1]
    proc, url = temporary_server.start()
    resources.callback(temporary_server.stop, proc)
    resources.enter_context(temporary_settings({PREFECT_API_URL: url}))


@app.callback()
def _settings(
    ctx: typer.Context,
    max_pixels: Annotated[
        Optional[int],
        typer.Option(
            "--max-pixels", min=1, help=f"Largest file decoded or produced, in pixels of all its frames (default {DEFAULT_MAX_PIXELS}; env {MAX_PIXELS_ENV})."
        ),
    ] = None,
) -> None:
    """Settings of every command.

    Flow runs from the command line send no heartbeats (set
    ARCHIVE_RESTORE_HEARTBEATS=1 for them): Prefect joins its heartbeat
    thread at the end of every flow run, which costs up to a second per
    run; heartbeats only serve zombie detection, which an in-process
    command-line run does not have. Served and worker-run deployments keep
    Prefect's default.
    """
    if max_pixels is not None:
        os.environ[MAX_PIXELS_ENV] = str(max_pixels)  # read by every worker, Dask's local ones included
    if os.environ.get("ARCHIVE_RESTORE_HEARTBEATS") != "1":
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        ctx.with_resource(temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))


def _check_output(input: Path, output: Path, *, masks: Path | None = None, hint: str = "OUTPUT") -> None:
    """An output folder that could touch an input is a usage error, before anything is read or written."""
    from restoration.archive import UnsafeOutputError, check_output_folder

    try:
        check_output_folder(input, output, other_inputs=[masks])
    except UnsafeOutputError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _checked_options(name: str, options: dict) -> dict:
    """``options`` checked by the registry (names and bounds): a bad one is a usage error."""
    from restoration.registry import REGISTRY

    try:
        return REGISTRY.get(name).check_options(options)
    except ValueError as exc:  # RegistryError: one plain line
        raise typer.BadParameter(str(exc)) from None


def _run_flow(flow, *args, **kwargs):
    """Run ``flow``; an input that cannot be opened at all ends the command with one line and exit status 1."""
    from flows.steps import flow_result
    from restoration.archive import ArchiveError, UnsafeOutputError
    from restoration.learned.catalog import ModelFileError

    try:
        return flow_result(
            flow(*args, return_state=True, **kwargs)
        )  # a run with failed files ends Failed or "Completed with failures": its records still come back
    except (ArchiveError, UnsafeOutputError, ModelFileError, FileNotFoundError) as exc:
        typer.echo(f"archive-restore {flow.name}: {exc}", err=True)
        raise typer.Exit(1) from None


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _report_failures(records: Sequence[Record], what: str) -> int:
    from flows.steps import run_counts

    counts = run_counts(records)
    ok = counts["new"] + counts["changed"] + counts["skipped"]
    typer.echo(
        f"{what}: {ok} ok ({counts['new']} new, {counts['changed']} changed, {counts['skipped']} skipped), "
        f"{counts['failed']} failed, {counts['left-out']} left out"
    )
    for record in records:
        if record.status == "failed":
            typer.echo(f"FAILED {record.path}: {record.error}", err=True)
        elif record.status == "left-out":
            typer.echo(f"LEFT OUT {record.path}: {record.error}", err=True)
    return 1 if counts["failed"] else 0


def _check(name: str, kind) -> None:
    from restoration.registry import REGISTRY, RegistryError

    try:
        REGISTRY.get(name, kind=kind)
    except RegistryError as exc:
        raise typer.BadParameter(str(exc)) from None


class RegistryOptions:
    """A command whose flags are the options of the registry's entries of some kinds, read when the command line is built.

    Each option of an entry (its function's keyword-only parameters) becomes
    one ``--flag`` with the help of :data:`restoration.options.OPTIONS` and
    the names of the entries that take it; the command gets them together
    as ``options``, which the registry checks. A restorer registered later
    appears in ``--help`` with its options, with no edit here.
    """

    def __init__(self, func, kinds: tuple[str, ...]):
        self.func, self.kinds = func, kinds
        self.__name__, self.__qualname__, self.__doc__, self.__module__ = func.__name__, func.__qualname__, func.__doc__, func.__module__

    def _option_parameters(self) -> list[inspect.Parameter]:
        from restoration.registry import REGISTRY

        params = []
        for name, (bound, takers) in REGISTRY.option_bounds(kind=self.kinds).items():
            flag = "--" + name.replace("_", "-")
            extra = {"exists": True, "file_okay": False} if bound.kind == "path" else {}
            info = typer.Option(flag, help=REGISTRY.option_help(name, kind=self.kinds), show_default=False, **extra)
            annotation = Annotated[Optional[bound.value_type], info]
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
        return params

    @property
    def __signature__(self) -> inspect.Signature:
        base = inspect.signature(self.func, eval_str=True)
        fixed = [p for p in base.parameters.values() if p.name != "options"]
        positional = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in fixed]
        return inspect.Signature([*positional, *self._option_parameters()])

    @property
    def __annotations__(self) -> dict:
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **kwargs):
        names = {p.name for p in self._option_parameters()}
        options = {name: kwargs.pop(name) for name in list(kwargs) if name in names}
        options = {k: str(Path(v).resolve()) if isinstance(v, Path) else v for k, v in options.items() if v is not None}
        return self.func(options=options, **kwargs)


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
    input: Annotated[Path, typer.Argument(exists=True, help="Folder, .zip or .tar(.gz).")],
    output: Annotated[Path, typer.Option("--output", "--out", help="Output folder for the manifest.")],
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Read an archive and write manifest.parquet and manifest.csv."""
    from flows.ingest import ingest_flow

    _check_output(input, output, hint="--output")
    result = _run_flow(_runner(ingest_flow, workers, task_runner, dask_address), str(input), str(output), workers=workers)
    rows = result["rows"]
    quarantined = [r for r in rows if r["status"] == "quarantined"]
    left_out = [r for r in rows if r["status"] == "left-out"]
    ok = sum(r["status"] == "ok" for r in rows)
    typer.echo(f"{ok} items ok, {len(quarantined)} files quarantined, {len(left_out)} entries left out; manifest: {result['manifest'][1]}")
    for r in quarantined:
        typer.echo(f"QUARANTINED {r['path']}: {r['reason']}", err=True)
    for r in left_out:
        typer.echo(f"LEFT OUT {r['path']}: {r['reason']}", err=True)
    raise typer.Exit(1 if quarantined else 0)


def damage(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder (or archive) of images.")],
    output: Annotated[Path, typer.Argument(help="Output folder.")],
    kind: Annotated[str, typer.Option("--kind", help="Damage kind (see `methods`).")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
    options: dict | None = None,
) -> None:
    """Simulate damage: writes OUTPUT/<rel> and OUTPUT/masks/<rel>.png."""
    _check(kind, "damage")
    options = _checked_options(kind, options or {})
    _check_output(input, output)
    from flows.simulate_damage import simulate_damage_flow

    flow = _runner(simulate_damage_flow, workers, task_runner, dask_address)
    records = _run_flow(flow, str(input), str(output), kind, seed=seed, options=options, workers=workers)
    raise typer.Exit(_report_failures(records, f"damage {kind}"))


app.command("damage")(RegistryOptions(damage, ("damage",)))


def restore(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder (or archive) of images.")],
    output: Annotated[Path, typer.Argument(help="Output folder: OUTPUT/<same relative path>.")],
    method: Annotated[str, typer.Option("--method", help="Restorer (see `methods`).")],
    masks: Annotated[Optional[Path], typer.Option(help="Mask folder: MASKS/<rel dir>/<stem>.*, nonzero = damaged.")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
    options: dict | None = None,
) -> None:
    """Restore every image, keeping format, bit depth and metadata.

    Files restored before with the same content, method, options and model
    are skipped; a run that was interrupted finishes the rest. Each method
    takes only its own options (see `methods`).
    """
    from restoration.registry import RESTORER_KINDS

    _check(method, RESTORER_KINDS)
    options = _checked_options(method, options or {})
    _check_output(input, output, masks=masks)
    from flows.restore import restore_flow

    flow = _runner(restore_flow, workers, task_runner, dask_address)
    records = _run_flow(flow, str(input), str(output), method, masks=str(masks) if masks else None, options=options, workers=workers)
    raise typer.Exit(_report_failures(records, f"restore {method}"))


app.command("restore")(RegistryOptions(restore, ("inpaint", "denoise", "upscale")))  # RESTORER_KINDS, without importing the registry at start-up


def detect(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder (or archive) of images.")],
    output: Annotated[Path, typer.Argument(help="Output folder: OUTPUT/<rel dir>/<stem>.png masks (what restore --masks reads), OUTPUT/confidence/.")],
    method: Annotated[Optional[str], typer.Option("--method", help="Detector (see `methods`; default: the best by the benchmark, detect-classical).")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
    options: dict | None = None,
) -> None:
    """Find the damage in every image: a mask (nonzero = damaged) and a confidence map per file.

    Correct a mask in any paint program and pass the folder to `restore
    --masks` or `restore-archive --masks`: only the files whose mask changed
    are redone.
    """
    from flows.detect import DEFAULT_DETECTOR

    method = method or DEFAULT_DETECTOR
    _check(method, "detect")
    options = _checked_options(method, options or {})
    _check_output(input, output)
    from flows.detect import detect_flow

    flow = _runner(detect_flow, workers, task_runner, dask_address)
    records = _run_flow(flow, str(input), str(output), method, options=options, workers=workers)
    raise typer.Exit(_report_failures(records, f"detect {method}"))


app.command("detect")(RegistryOptions(detect, ("detect",)))


@app.command("restore-archive")
def restore_archive(
    archive: Annotated[Path, typer.Argument(exists=True, help="Folder, .zip or .tar(.gz) of images nobody has marked.")],
    output: Annotated[Path, typer.Argument(help="Output folder: restored/, masks/, synthesised/, report/.")],
    detect: Annotated[Optional[str], typer.Option("--detect", help="Detector (default: detect-classical, the best by the benchmark).")] = None,
    inpaint: Annotated[Optional[str], typer.Option("--inpaint", help="Inpainter (default: telea).")] = None,
    denoise: Annotated[Optional[str], typer.Option("--denoise", help="Denoiser used when the estimated noise calls for it, or none (default: nlm).")] = None,
    masks: Annotated[Optional[Path], typer.Option(help="Supplied masks (e.g. from `detect`, corrected): used where present, detection elsewhere.")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Restore an unmarked archive: condition report, damage found (or supplied), inpainted, denoised where noisy, report and contact sheet."""
    from flows.restore_archive import DEFAULT_DENOISER, DEFAULT_DETECTOR, DEFAULT_INPAINTER

    detect, inpaint, denoise = detect or DEFAULT_DETECTOR, inpaint or DEFAULT_INPAINTER, denoise or DEFAULT_DENOISER
    _check(detect, "detect")
    _check(inpaint, "inpaint")
    if denoise != "none":
        _check(denoise, "denoise")
    for name in (detect, inpaint, denoise):
        if name != "none":
            _checked_options(name, {})  # a learned method without its model is refused here, before any work
    _check_output(archive, output, masks=masks)
    from flows.restore_archive import restore_archive_flow

    flow = _runner(restore_archive_flow, workers, task_runner, dask_address)
    records = _run_flow(flow, str(archive), str(output), detect=detect, inpaint=inpaint, denoise=denoise, masks=str(masks) if masks else None, workers=workers)
    code = _report_failures(records, "restore-archive")
    typer.echo(f"report: {output / 'report' / 'report.md'}")
    raise typer.Exit(code)


@app.command()
def evaluate(
    restored: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of restored images.")],
    reference: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder of clean references (same relative paths).")],
    table: Annotated[Path, typer.Option("--table", "--out", help="Table to write (CSV; a Parquet copy is written beside it).")],
    masks: Annotated[Optional[Path], typer.Option(help="Mask folder for in-hole scores.")] = None,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """PSNR and SSIM, whole image and inside the mask, per image."""
    from flows.evaluate import evaluate_flow

    if reference.resolve() in table.resolve().parents:
        raise typer.BadParameter(f"table {table} lies inside the reference folder {reference}: write it elsewhere", param_hint="--table")
    flow = _runner(evaluate_flow, workers, task_runner, dask_address)
    records = _run_flow(flow, str(restored), str(reference), str(table), masks=str(masks) if masks else None, workers=workers)
    code = _report_failures(records, "evaluate")
    typer.echo(f"table: {table}")
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
    task: Annotated[str, typer.Option("--task", help="One of: inpaint, denoise, sr, vae, detect.")],
    data: Annotated[list[Path], typer.Option("--data", exists=True, file_okay=False, help="Folder of training images (repeat for several).")],
    output: Annotated[Path, typer.Option("--output", "--out", help="Model directory to write.")],
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 2000,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUTPUT/checkpoint.pt.")] = False,
    device: Annotated[str, typer.Option(help="One of: auto, cpu, cuda.")] = "auto",
    self_supervised: Annotated[bool, typer.Option("--self-supervised", help="Learn from a damaged archive with no clean copies.")] = False,
    masks: Annotated[Optional[Path], typer.Option(help="Damage masks of the training images (self-supervised inpainting).")] = None,
    scale: Annotated[int, typer.Option(help="Super-resolution factor (2 or 4).")] = 2,
    data_licence: Annotated[str, typer.Option("--data-licence", help="Origin and licence of the training images, for the model card.")] = "",
    batch_size: Annotated[int, typer.Option(min=1, help="Crops per optimiser step.")] = 16,
    patch: Annotated[int, typer.Option(min=16, help="Crop size (multiple of 8).")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed of weights and batches.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints (what --resume continues from).")] = 500,
    validate_every: Annotated[int, typer.Option(min=1, help="Steps between scores on the held-out validation crops.")] = 500,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Train a learned restorer or detector; OUTPUT gets weights.pt, model.json, checkpoint.pt, loss.png."""
    from restoration.learned.catalog import ModelFileError
    from restoration.learned.training import TrainingSettings

    try:
        settings = TrainingSettings(
            task=task, steps=steps, batch_size=batch_size, patch=patch, lr=lr, seed=seed, device=device,
            self_supervised=self_supervised, scale=scale, checkpoint_every=checkpoint_every, validate_every=validate_every,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    from restoration.archive import UnsafeOutputError, check_output_folder

    try:
        for folder in data:
            check_output_folder(folder, output)
    except UnsafeOutputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--output") from None
    from flows.train import train_flow

    command = " ".join(["archive-restore", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("archive-restore") else f"archive-restore train {settings}"
    try:
        chosen = {k: v for k, v in dataclasses.asdict(settings).items() if k in inspect.signature(train_flow.fn).parameters}
        card = _runner(train_flow, 1, task_runner, dask_address)(
            [str(d) for d in data], str(output), **chosen, masks=str(masks) if masks else None, resume=resume, command=command, data_licence=data_licence
        )
    except (ModelFileError, ValueError) as exc:
        typer.echo(f"train: {exc}", err=True)
        raise typer.Exit(1) from None
    scores = ", ".join(f"{k} {v:.3f}" for k, v in (card["validation"] or {}).items() if k != "step")
    typer.echo(f"{card['restorer']}: {card['training']['steps_done']} steps, validation {scores}; model in {output}")


def _run_benchmark(
    input: Path,
    output: Path,
    methods: list[str] | None,
    damage: list[str] | None,
    seed: int,
    workers: int | None,
    flow,
    detectors: list[str] | None = None,
    detect_inpaint: list[str] | None = None,
) -> dict:
    result = _run_flow(
        flow, str(input), str(output), methods=methods, damage=damage, seed=seed, workers=workers, detectors=detectors, detect_inpaint=detect_inpaint
    )
    for key, path in result["report"].items():
        typer.echo(f"{key:18s} {path}")
    for r in result["quarantined"]:
        typer.echo(f"QUARANTINED {r['path']}: {r['reason']}", err=True)
    for r in result.get("left_out", []):
        typer.echo(f"LEFT OUT {r['path']}: {r['reason']}", err=True)
    for r in result["failed"]:
        typer.echo(f"FAILED {r.path} ({' '.join(r.labels.values())}): {r.error}", err=True)
    return result


@app.command()
def benchmark(
    input: Annotated[Path, typer.Argument(exists=True, help="Folder, .zip or .tar(.gz) of clean images.")],
    output: Annotated[Path, typer.Option("--output", "--out", help="Output folder.")],
    methods: Annotated[Optional[str], typer.Option(help="Comma-separated restorers (default: every available one).")] = None,
    damage: Annotated[
        Optional[str], typer.Option(help="Comma-separated damage kinds (default: holes,scratches,gaussian,downscale: every restorer runs).")
    ] = None,
    detectors: Annotated[Optional[str], typer.Option(help="Comma-separated detectors (default: every available one; 'none' for no detection).")] = None,
    detect_inpaint: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated inpainters that also restore from the default detector's masks (default: restore-archive's inpainter; 'none': none)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed for the damage.")] = 0,
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Ingest, damage, find the damage with every detector, restore with every method, evaluate and report."""
    from flows.benchmark import benchmark_flow

    for name in _split(methods) or []:
        _check(name, ("inpaint", "denoise", "upscale"))
    for name in _split(damage) or []:
        _check(name, "damage")
    finders = [] if detectors == "none" else _split(detectors)
    for name in finders or []:
        _check(name, "detect")
    from_detected = [] if detect_inpaint == "none" else _split(detect_inpaint)
    for name in from_detected or []:
        _check(name, "inpaint")
    _check_output(input, output, hint="--output")
    flow = _runner(benchmark_flow, workers, task_runner, dask_address)
    result = _run_benchmark(input, output, _split(methods), _split(damage), seed, workers, flow, detectors=finders, detect_inpaint=from_detected)
    raise typer.Exit(1 if result["quarantined"] or result["failed"] else 0)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "--out", help="Output folder.")] = Path("demo-out"),
    workers: Workers = None,
    task_runner: TaskRunner = None,
    dask_address: DaskAddress = None,
) -> None:
    """Build a demo archive from images inside installed packages and benchmark every method (classical and learned) on it."""
    from flows.benchmark import benchmark_flow
    from restoration.demo import EXPECTED_QUARANTINE, build_demo_archive

    flow = _runner(benchmark_flow, workers, task_runner, dask_address)
    archive = build_demo_archive(output)  # an archive file inside the output folder: read, never written
    typer.echo(f"demo archive: {archive}")
    result = _run_benchmark(archive, output, None, None, 0, workers, flow)
    quarantined = {r["path"] for r in result["quarantined"]}
    unexpected = quarantined ^ set(EXPECTED_QUARANTINE)
    if unexpected or result["failed"]:
        typer.echo(f"demo: unexpected problems with {sorted(unexpected)} and {len(result['failed'])} failures", err=True)
        raise typer.Exit(1)
    typer.echo(f"demo ok: {', '.join(sorted(quarantined))} quarantined as intended. Open {result['report']['summary_html']} in a browser (tables: summary.md)")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
