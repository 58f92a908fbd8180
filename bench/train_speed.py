"""Training speed: our training loop against a bare PyTorch loop of the same model and batch.

The bare loop trains the same network on one pre-built batch with AdamW and
the same loss: no data pipeline, no EMA, no schedule, no checkpoint. Ours is
``train_model`` (crops and damage drawn on the fly, EMA, cosine schedule);
its steps per second count the loop only (``seconds`` in the model card),
and its wall time with start-up, validation and the final checkpoint is
reported beside. Runs alternate (bare, ours, bare, ours, ...) and the
medians are compared.

    python bench/train_speed.py [--steps 150] [--repeats 3] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restoration.learned.data import load_training_images
from restoration.learned.networks import build_network
from restoration.learned.package_images import write_package_images
from restoration.learned.recipes import recipe_for
from restoration.learned.training import TrainingSettings, resolve_device, train_model

CASES = {
    "denoise": dict(batch_size=16, patch=64),
    "sr": dict(batch_size=16, patch=96, scale=2),
}


def bare_loop(task: str, images, steps: int, device: torch.device, bf16: bool) -> float:
    """Steps per second of the plainest loop over the same network and batch."""
    settings = TrainingSettings(task=task, **CASES[task])
    recipe = recipe_for(task, scale=settings.scale)
    arch, options = recipe.networks({})["net"]
    torch.manual_seed(0)
    net = build_network(arch, options).to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=1e-4)
    arrays = recipe.batch(images, seed=0, step=0, batch_size=settings.batch_size, patch=settings.patch, self_supervised=False)
    batch = {k: torch.from_numpy(np.asarray(v, np.float32)).to(device) for k, v in arrays.items()}
    batch = {k: v.unsqueeze(1) if v.ndim == 3 else v for k, v in batch.items()}

    def step():
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=bf16):
            out = net(batch["input"], batch["sigma"]) if task == "denoise" else net(batch["input"])
        loss = F.mse_loss(out.float(), batch["target"]) if task == "denoise" else F.l1_loss(out.float(), batch["target"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def ours(task: str, data: Path, steps: int, device: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        settings = TrainingSettings(task=task, steps=steps, validate_every=10**9, checkpoint_every=10**9, device=device, **CASES[task])
        start = time.perf_counter()
        card = train_model(settings, data, Path(out) / "model", command="bench/train_speed.py")
        wall = time.perf_counter() - start
    return card["training"]["steps_per_second"], steps / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tasks", default="denoise,sr")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} steps x {args.repeats} repeats")
    with tempfile.TemporaryDirectory() as tmp:
        write_package_images(tmp, which="training")
        images = load_training_images(tmp)[0]
        lines = [
            "| task | precision | bare loop steps/s | ours steps/s (loop) | ratio | ours steps/s (wall, with start-up and checkpoint) |",
            "|---|---|---|---|---|---|",
        ]
        for task in args.tasks.split(","):
            bare, loop, wall = [], [], []
            for _ in range(args.repeats):
                bare.append(bare_loop(task, images, args.steps, device, bf16=device.type == "cuda"))
                a, b = ours(task, Path(tmp), args.steps, args.device)
                loop.append(a)
                wall.append(b)
            b, o, w = statistics.median(bare), statistics.median(loop), statistics.median(wall)
            precision = "bf16 autocast" if device.type == "cuda" else "fp32"
            lines.append(f"| {task} | {precision} | {b:.2f} | {o:.2f} | {o / b:.2f} | {w:.2f} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
