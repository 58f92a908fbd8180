"""Train: images of an archive (or of packages) -> a model directory, watched in the UI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from restoration.learned.training import TrainingSettings
from tasks.train import train_model_task


def _run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    data = params["data"] if isinstance(params["data"], list) else [params["data"]]
    return f"train-{params['settings'].task}-" + "+".join(Path(d).name for d in data)


@flow(name="train", flow_run_name=_run_name)
def train_flow(
    settings: TrainingSettings, data: list[str] | str, output: str, masks: str | None = None, resume: bool = False, command: str = "", data_licence: str = ""
) -> dict:
    """Train ``settings.task`` on ``data`` (one folder or several); the model, its card and its loss curve land in ``output``."""
    card = train_model_task(settings, data, output, masks, resume, command, data_licence)
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
