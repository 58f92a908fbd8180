"""Tiny training sets and untrained-but-not-identity model directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from restoration.learned.modelfiles import write_model
from restoration.learned.networks import build_network
from tests.conftest import write_png

ARCHS = {
    "denoise": ("Denoiser", {"width": 16, "depth": 5}),
    "sr": ("SuperResolver", {"scale": 2, "width": 16, "blocks": 2}),
    "inpaint": ("InpaintGenerator", {"width": 8}),
    "vae": ("ConvVAE", {"width": 8, "latent": 4}),
    "detect": ("DamageSegmenter", {"width": 8, "levels": 2}),
}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory, camera, astronaut) -> Path:
    """Three small real images (gray and RGB)."""
    import skimage.data

    root = tmp_path_factory.mktemp("tiny-data")
    write_png(root / "camera.png", camera)
    write_png(root / "astronaut.png", astronaut)
    write_png(root / "sub" / "coins.png", skimage.data.coins()[:96, :96])
    return root


def random_model_dir(directory: Path, task: str, *, seed: int = 0) -> Path:
    """A model directory with random weights whose output layer is not zero (so the net is not the identity)."""
    name, options = ARCHS[task]
    torch.manual_seed(seed)
    net = build_network(name, options)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d) and not module.weight.abs().sum():
                module.weight.normal_(0, 0.02)
    write_model(directory, net, {"task": task, "architecture": {"name": name, "options": options}})
    return directory


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {task: random_model_dir(root / task, task) for task in ARCHS}


@pytest.fixture()
def noisy_camera(camera) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    noisy = np.clip(camera + rng.normal(0, 25, camera.shape), 0, 255).astype(np.uint8)
    return camera, noisy
