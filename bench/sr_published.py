"""Super-resolution on Set5 and Set14, x2 and x4, beside the published tables.

Protocol of the SR literature: the ground truth cropped to a multiple of
the scale, downscaled with antialiased bicubic (the damage module's
``downscale``, Pillow's MATLAB-like kernel) and stored as 8 bits; PSNR/SSIM
on the luma Y of ITU-R BT.601 (MATLAB ``rgb2ycbcr``, 16-235) with ``scale``
border pixels cropped. ``bicubic`` and ``cnn-sr`` upscale the same inputs
in the same run.

    python bench/sr_published.py [--model-x2 DIR] [--model-x4 DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from restoration.damage.simulate import simulate_downscale
from restoration.learned.restorers import upscale_cnn
from restoration.methods.upscale import upscale_bicubic
from restoration.metrics import psnr, ssim

BENCHMARKS = Path(os.environ.get("BENCHMARKS_DIR", Path(__file__).resolve().parents[2] / "shared" / "benchmarks"))
OUT = Path(__file__).parent / "out"
PUBLISHED = {  # ../shared/benchmarks/README.md: PSNR / SSIM
    "bicubic": {("Set5", 2): "33.64 / .9292", ("Set5", 4): "28.42 / .8101", ("Set14", 2): "30.22 / .8683", ("Set14", 4): "25.99 / .7023"},
    "SRCNN": {("Set5", 2): "36.66 / .9542", ("Set5", 4): "30.49 / .8628", ("Set14", 2): "32.45 / .9067", ("Set14", 4): "27.49 / .7513"},
    "ESPCN": {("Set5", 4): "30.90", ("Set14", 4): "27.73"},
}


def luma(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr's Y (16-235) of an 8-bit image, as float."""
    if rgb.ndim == 2:
        return rgb.astype(np.float64)
    x = rgb[..., :3].astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-x2", default=None)
    parser.add_argument("--model-x4", default=None)
    args = parser.parse_args()
    models = {2: args.model_x2, 4: args.model_x4}
    rows = []
    for set_name in ("Set5", "Set14"):
        for path in sorted((BENCHMARKS / set_name).glob("*.png")):
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image
            for scale in (2, 4):
                h, w = image.shape[:2]
                hr = image[: h - h % scale, : w - w % scale]
                lr, _ = simulate_downscale(hr, scale=scale)
                ref = luma(hr)[scale:-scale, scale:-scale]
                for method, run in (
                    ("bicubic", lambda x: upscale_bicubic(x, scale=scale)),
                    ("cnn-sr", lambda x: upscale_cnn(x, scale=scale, model=models[scale])),
                ):
                    start = time.perf_counter()
                    out = run(lr)
                    seconds = time.perf_counter() - start
                    got = luma(out)[scale:-scale, scale:-scale]
                    rows.append(
                        {
                            "set": set_name,
                            "image": path.name,
                            "scale": scale,
                            "method": method,
                            "psnr": psnr(ref, got, data_range=255.0),
                            "ssim": ssim(ref, got, data_range=255.0),
                            "seconds": seconds,
                        }
                    )
    frame = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "sr_published.csv", index=False)
    mean = frame.groupby(["method", "set", "scale"])[["psnr", "ssim"]].mean()
    cols = [("Set5", 2), ("Set5", 4), ("Set14", 2), ("Set14", 4)]
    lines = ["| method | " + " | ".join(f"{s} x{k}" for s, k in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for method in ("bicubic", "cnn-sr"):
        lines.append(
            f"| {method} (this run) | " + " | ".join(f"{mean.loc[(method, s, k), 'psnr']:.2f} / {mean.loc[(method, s, k), 'ssim']:.4f}" for s, k in cols) + " |"
        )
    for method, cells in PUBLISHED.items():
        lines.append(f"| {method} (published) | " + " | ".join(cells.get(c, "-") for c in cols) + " |")
    text = "\n".join(lines)
    (OUT / "sr_published.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
