"""The training loop every learned restorer shares.

AdamW with a cosine learning-rate schedule after a linear warm-up, an
exponential moving average (EMA) of the main network's weights, bf16
autocast on CUDA, a checkpoint written atomically every
``checkpoint_every`` steps, and validation scores every ``validate_every``
steps. Batches are drawn from generators seeded by ``(seed, step)`` and the
checkpoint holds every optimiser state, so a resumed run follows the
uninterrupted one step for step (same losses, same weights on the same
device).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from restoration.io import atomic_write
from restoration.learned.catalog import ModelFileError, learned_tasks, restorer_of_task
from restoration.learned.data import load_training_sources, manifest_sha256, split_validation
from restoration.learned.modelfiles import load_plain, save_torch, versions, write_model
from restoration.learned.networks import build_network, count_parameters
from restoration.learned.recipes import Recipe, recipe_for

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
#: The restorer each training task produces.
#: Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = {"steps", "checkpoint_every", "validate_every", "device"}


@dataclass
class TrainingSettings:
    """Everything that decides a training run (recorded in the model card)."""

    task: str
    steps: int = 2000
    batch_size: int = 16
    patch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    ema_decay: float = 0.999
    checkpoint_every: int = 500
    validate_every: int = 500
    seed: int = 0
    device: str = "auto"
    self_supervised: bool = False
    scale: int = 2
    architecture: dict = field(default_factory=dict)

    def __post_init__(self):
        tasks = learned_tasks()
        if self.task not in tasks:
            raise ValueError(f"unknown training task {self.task!r}; choose from: {', '.join(tasks)}")
        for name in ("steps", "batch_size", "patch", "checkpoint_every", "validate_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.patch < 16 or self.patch % 8:
            raise ValueError(f"patch must be a multiple of 8 and at least 16, got {self.patch}")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def learning_rate(settings: TrainingSettings, step: int) -> float:
    """Linear warm-up to ``lr``, then cosine decay to zero at ``steps``."""
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
    return settings.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def ema_model(net: torch.nn.Module, decay: float) -> AveragedModel:
    """EMA of ``net``'s parameters and float buffers (batch-norm statistics).

    The decay ramps up as ``min(decay, (1+n)/(10+n))`` so that short runs
    are not stuck near the initial weights; integer buffers are copied.
    """

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1.0 - d)
        for a, c in zip(averaged, current):
            if not a.is_floating_point():
                a.copy_(c)

    return AveragedModel(net, multi_avg_fn=update, use_buffers=True)


def _step_seed(seed: int, step: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{step}:torch".encode()).digest()[:8], "little") & (2**63 - 1)


def _settings_json(settings: TrainingSettings) -> str:
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def _check_resumable(saved: dict, settings: TrainingSettings, path: Path) -> None:
    now = dataclasses.asdict(settings)
    changed = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ModelFileError(f"{path}: cannot resume with different settings ({diffs})")


def plot_history(history: list[dict], validations: list[dict], path: Path) -> Path:
    """Loss curves (log scale) and validation PSNR as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [h["step"] for h in history]
    keys = [k for k in history[0] if k not in ("step", "lr")] if history else []
    for key in keys:
        values = np.array([h[key] for h in history], float)
        window = max(1, len(values) // 100)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        if np.all(smooth > 0):
            ax.plot(steps[window - 1 :], smooth, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (moving mean)")
    if validations and "psnr" in validations[0]:
        twin = ax.twinx()
        key = "hole_psnr" if "hole_psnr" in validations[0] else "psnr"
        twin.plot([v["step"] for v in validations], [v[key] for v in validations], "k.-", label=f"validation {key}")
        twin.set_ylabel(f"validation {key} (dB)")
        twin.legend(loc="upper right")
    ax.legend(loc="upper left" if validations else "best")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return path


def sample_grid(net: torch.nn.Module, path: Path, *, seed: int, count: int = 16, size: int = 64) -> Path:
    """Samples of a :class:`~restoration.learned.networks.ConvVAE` (z ~ N(0, I)) as a PNG grid."""
    import cv2

    device = next(net.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        z = torch.randn((count, net.latent, size // 8, size // 8), generator=generator, device=device)
        samples = net.decode(z).clamp(0, 1)[:, 0].float().cpu().numpy()
    cols = int(math.ceil(math.sqrt(count)))
    rows = int(math.ceil(count / cols))
    grid = np.ones((rows * (size + 2), cols * (size + 2)), np.float32)
    for k, sample in enumerate(samples):
        r, c = divmod(k, cols)
        grid[r * (size + 2) : r * (size + 2) + size, c * (size + 2) : c * (size + 2) + size] = sample
    png = cv2.imencode(".png", np.rint(grid * 255).astype(np.uint8))[1].tobytes()
    atomic_write(path, lambda tmp: tmp.write_bytes(png))
    return path


@dataclass
class TrainingState:
    """What a run carries from step to step (and into its checkpoint)."""

    step: int = 0
    history: list[dict] = field(default_factory=list)
    validations: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def train_model(
    settings: TrainingSettings,
    data_dir: os.PathLike | str | list[os.PathLike | str],
    out_dir: os.PathLike | str,
    *,
    masks_dir: os.PathLike | str | None = None,
    data_licence: str = "",
    resume: bool = False,
    command: str = "",
    progress: Callable[[TrainingState, TrainingSettings], None] | None = None,
    progress_every: int = 25,
) -> dict:
    """Train the model of ``settings.task`` on the images under ``data_dir``; write it to ``out_dir``.

    ``data_dir`` is one folder or a list of them (see
    :func:`restoration.learned.data.load_training_sources`);
    ``data_licence`` says where the images come from and on what terms, and
    goes into the model card.

    ``out_dir`` receives ``weights.pt`` (EMA weights) and ``model.json`` at
    every checkpoint, ``checkpoint.pt`` (everything needed to resume),
    ``loss.png`` and ``history.csv``; a VAE also writes ``samples.png``.
    A directory that already holds a checkpoint is refused unless
    ``resume`` is set. Returns the model card.
    """
    out_dir = Path(out_dir)
    checkpoint_path = out_dir / CHECKPOINT
    if checkpoint_path.exists() and not resume:
        raise ModelFileError(f"{out_dir} already holds a training checkpoint: pass --resume to continue it, or choose another --out")
    if resume and not checkpoint_path.exists():
        raise ModelFileError(f"{checkpoint_path}: nothing to resume")
    if settings.self_supervised and settings.task == "sr":
        raise ValueError("super-resolution has no self-supervised mode (it needs high-resolution images)")
    device = resolve_device(settings.device)
    roots = [Path(d) for d in ([data_dir] if isinstance(data_dir, (str, os.PathLike)) else data_dir)]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"{root}: no such folder of training images (`archive-restore package-images {root}` writes the package images there)")
    if settings.warmup >= settings.steps:
        logger.warning(
            "the learning-rate warm-up (%d steps) is at least as long as the run (%d steps): the rate never reaches its peak %.1e",
            settings.warmup,
            settings.steps,
            settings.lr,
        )
    images, manifest = load_training_sources(roots, masks_dir=masks_dir, min_size=settings.patch // 2, exclude=[out_dir])
    if not images:
        raise ValueError(f"{', '.join(map(str, roots))}: no readable image of at least {settings.patch // 2} pixels a side to train on")
    train_images, val_images, held_out = split_validation(images)
    recipe = recipe_for(settings.task, scale=settings.scale)

    torch.manual_seed(settings.seed)
    specs = recipe.networks(settings.architecture)
    nets = {name: build_network(arch, opts).to(device).train() for name, (arch, opts) in specs.items()}
    betas = (0.5, 0.999) if len(nets) > 1 else (0.9, 0.999)  # GANs train steadier with a low beta1
    optimizers = {
        name: torch.optim.AdamW(net.parameters(), lr=settings.lr * recipe.lr_scale.get(name, 1.0), betas=betas, weight_decay=settings.weight_decay)
        for name, net in nets.items()
    }
    ema = ema_model(nets[recipe.main], settings.ema_decay)
    state = TrainingState()
    if resume:
        state = _restore(checkpoint_path, settings, nets, optimizers, ema)
    val_items = recipe.validation_set(val_images, seed=settings.seed)
    autocast = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if device.type == "cuda" else contextlib.nullcontext

    def save(complete: bool) -> dict:
        card = _card(settings, recipe, specs, nets, state, manifest, train_images, val_images, held_out, roots, data_licence, command, device, complete)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "step": state.step,
            "settings": _settings_json(settings),
            "nets": {name: net.state_dict() for name, net in nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "ema": ema.state_dict(),
            "history": json.dumps(state.history),
            "validations": json.dumps(state.validations),
            "seconds": state.seconds,
        }
        save_torch(payload, checkpoint_path)
        card = write_model(out_dir, ema.module, card)
        plot_history(state.history, state.validations, out_dir / "loss.png")
        _write_history_csv(state.history, out_dir / "history.csv")
        if settings.task == "vae":
            sample_grid(ema.module, out_dir / "samples.png", seed=settings.seed)
        return card

    if state.step == 0:  # the untrained baseline opens the validation curve
        ema.module.eval()
        state.validations.append({"step": 0, **recipe.validate(ema.module, val_items, device)})
    card = None
    while state.step < settings.steps:
        step = state.step
        started = time.perf_counter()
        lr = learning_rate(settings, step)
        for name, opt in optimizers.items():
            for group in opt.param_groups:
                group["lr"] = lr * recipe.lr_scale.get(name, 1.0)
        arrays = recipe.batch(
            train_images, seed=settings.seed, step=step, batch_size=settings.batch_size, patch=settings.patch, self_supervised=settings.self_supervised
        )
        batch = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)).to(device) for k, v in arrays.items()}
        batch = {k: (v.unsqueeze(1) if v.ndim == 3 else v) for k, v in batch.items()}
        generator = torch.Generator(device=device).manual_seed(_step_seed(settings.seed, step))
        losses = recipe.step(nets, optimizers, batch, autocast=autocast, generator=generator)
        ema.update_parameters(nets[recipe.main])
        state.seconds += time.perf_counter() - started
        state.step = step + 1
        state.history.append({"step": state.step, "lr": lr, **losses})
        if state.step % settings.validate_every == 0 or state.step == settings.steps:
            ema.module.eval()
            state.validations.append({"step": state.step, **recipe.validate(ema.module, val_items, device)})
        if state.step % settings.checkpoint_every == 0 or state.step == settings.steps:
            card = save(complete=state.step == settings.steps)
        if progress is not None and (state.step % progress_every == 0 or state.step == settings.steps):
            progress(state, settings)
    if card is None:  # resumed a run that had already reached its steps
        card = save(complete=True)
    return card


def _restore(path: Path, settings: TrainingSettings, nets, optimizers, ema) -> TrainingState:
    saved = load_plain(path)
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ModelFileError(f"{path}: not a training checkpoint of this program (format {CHECKPOINT_FORMAT})")
    _check_resumable(json.loads(saved["settings"]), settings, path)
    try:
        for name, net in nets.items():
            net.load_state_dict(saved["nets"][name])
        for name, opt in optimizers.items():
            opt.load_state_dict(saved["optimizers"][name])
        ema.load_state_dict(saved["ema"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path}: checkpoint does not fit these networks ({exc})") from None
    return TrainingState(
        step=int(saved["step"]),
        history=json.loads(saved["history"]),
        validations=json.loads(saved["validations"]),
        seconds=float(saved.get("seconds", 0.0)),
    )


def _write_history_csv(history: list[dict], path: Path) -> None:
    import pandas as pd

    atomic_write(path, lambda tmp: pd.DataFrame(history).to_csv(tmp, index=False))


def _card(
    settings, recipe: Recipe, specs, nets, state: TrainingState, manifest, train_images, val_images, held_out, roots, data_licence, command, device, complete
) -> dict:
    arch, options = specs[recipe.main]
    return {
        "task": settings.task,
        "restorer": restorer_of_task(settings.task),
        "architecture": {"name": arch, "options": options},
        "parameters": count_parameters(nets[recipe.main]),
        "training": {
            "command": command,
            "settings": dataclasses.asdict(settings),
            "steps_done": state.step,
            "complete": complete,
            "device": str(device),
            "seconds": round(state.seconds, 1),
            "steps_per_second": round(state.step / state.seconds, 3) if state.seconds else None,
            "final_loss": state.history[-1] if state.history else None,
        },
        "data": {
            "root": str(roots[0]) if len(roots) == 1 else [str(r) for r in roots],
            "licence": data_licence or "not stated (pass --data-licence)",
            "manifest_sha256": manifest_sha256(manifest),
            "files": sum(1 for row in manifest if row["frames"]),
            "skipped": sum(1 for row in manifest if not row["frames"]),
            "train_frames": len(train_images),
            "validation_files": sorted({im.rel for im in val_images}),
            "validation_held_out": held_out,
        },
        "validation": state.validations[-1] if state.validations else None,
        # A detector's decision threshold: the one validation found best (its F1 is in "validation").
        **({"decision_threshold": state.validations[-1]["threshold"]} if state.validations and "threshold" in state.validations[-1] else {}),
        "validation_history": state.validations,
        "versions": versions(),
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
