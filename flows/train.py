"""Train: images of an archive (or of packages) -> a model directory, watched in the UI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.naming import run_name
from restoration.learned.training import TrainingSettings
from tasks.train import train_model_task


@flow(name="train", flow_run_name=run_name("train-{task}-{data}"))
def train_flow(
    data: list[str] | str,
    output: str,
    task: str = "denoise",
    steps: int = 2000,
    batch_size: int = 16,
    patch: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    scale: int = 2,
    device: str = "auto",
    self_supervised: bool = False,
    checkpoint_every: int = 500,
    validate_every: int = 500,
    masks: str | None = None,
    resume: bool = False,
    data_licence: str = "",
    command: str = "",
) -> dict:
    """Train ``task`` on ``data`` (one folder or several); the model, its card and its loss curve land in ``output``.

    The training settings are the flow's own parameters, one by one (the
    UI's form, ``prefect deployment run train/on-demand -p steps=5``), with
    the defaults of :class:`~restoration.learned.training.TrainingSettings`.
    """
    settings = TrainingSettings(
        task=task, steps=steps, batch_size=batch_size, patch=patch, lr=lr, seed=seed, scale=scale, device=device,
        self_supervised=self_supervised, checkpoint_every=checkpoint_every, validate_every=validate_every,
    )  # fmt: skip
    card = train_model_task(settings, data, output, masks, resume, command or f"train flow: {dataclasses.asdict(settings)}", data_licence)
    rows = [{"step": v["step"], **{k: round(x, 4) for k, x in v.items() if k != "step"}} for v in card["validation_history"]]
    if rows:
        create_table_artifact(rows, key=f"train-{settings.task}-validation", description=f"validation scores of {card['restorer']}")
    training = card["training"]
    lines = [
        f"# {card['restorer']} ({card['architecture']['name']}, {card['parameters']:,} parameters)",
        "",
        f"- model directory: `{Path(output).resolve()}`",
        f"- loss curve: `{(Path(output) / 'loss.png').resolve()}`",
        f"- steps: {training['steps_done']} on {training['device']}, {training['seconds']} s ({training['steps_per_second']} steps/s)",
        f"- data: {card['data']['files']} files, manifest sha256 `{card['data']['manifest_sha256'][:16]}`",
        f"- validation ({'held-out files' if card['data']['validation_held_out'] else 'training images'}): "
        + ", ".join(f"{k} {v:.3f}" for k, v in (card["validation"] or {}).items() if k != "step"),
        f"- settings: `{dataclasses.asdict(settings)}`",
    ]
    if settings.task == "vae":
        lines.append(f"- samples: `{(Path(output) / 'samples.png').resolve()}`")
    create_markdown_artifact("\n".join(lines), key=f"train-{settings.task}-report", description="training report")
    return card
