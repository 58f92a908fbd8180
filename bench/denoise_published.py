"""Gaussian denoising on Set12 and BSD68 at sigma 15/25/50, beside the published tables.

Protocol of ../shared/benchmarks/README.md (reproduces the published BM3D
row with the PyPI bm3d package): image as float in [0, 1], noise from
``numpy.random.default_rng(0)`` (one generator per image and sigma), normal
with sigma/255, noisy input not clipped, PSNR with data_range 1 on the
output. Every method sees the same noisy arrays in the same run. Known sigma
is given to every method.

    python bench/denoise_published.py [--methods cnn-denoise,cnn-denoise-x8,nlm,bm3d] [--model DIR]

``cnn-denoise-x8`` is ``cnn-denoise`` with ``self_ensemble=True``.

Rows already in bench/out/denoise_published.csv are reused (delete it, or
pass --fresh, to recompute); results go to that CSV and a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from restoration.learned.restorers import denoise_cnn_unit
from restoration.methods.denoise import denoise_unit
from restoration.metrics import psnr

BENCHMARKS = Path(os.environ.get("BENCHMARKS_DIR", Path(__file__).resolve().parents[2] / "shared" / "benchmarks"))
OUT = Path(__file__).parent / "out"
SIGMAS = (15, 25, 50)
SETS = ("Set12", "BSD68")
PUBLISHED = {  # ../shared/benchmarks/README.md
    ("BM3D", "Set12"): (32.37, 29.97, 26.72), ("BM3D", "BSD68"): (31.08, 28.57, 25.60),
    ("DnCNN", "Set12"): (32.86, 30.44, 27.18), ("DnCNN", "BSD68"): (31.73, 29.23, 26.23),
    ("FFDNet", "Set12"): (32.75, 30.43, 27.32), ("FFDNet", "BSD68"): (31.63, 29.19, 26.29),
}  # fmt: skip


def noisy_version(clean: np.ndarray, sigma: float) -> np.ndarray:
    return clean + np.random.default_rng(0).normal(0.0, sigma / 255.0, clean.shape)


def run_method(method: str, noisy: np.ndarray, sigma: float, model: str | None) -> np.ndarray:
    if method == "noisy":
        return noisy
    if method in ("cnn-denoise", "cnn-denoise-x8"):  # x8: self-ensemble over the 8 flips and quarter turns
        return denoise_cnn_unit(noisy, sigma=sigma, model=model, self_ensemble=method.endswith("x8"))
    return denoise_unit(method, noisy, sigma=sigma)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="noisy,cnn-denoise,cnn-denoise-x8,nlm,bm3d")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--model", default=None, help="cnn-denoise model directory (default: the shipped one)")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    table = OUT / "denoise_published.csv"
    done = pd.read_csv(table) if table.exists() and not args.fresh else pd.DataFrame(columns=["set", "image", "sigma", "method", "psnr", "seconds"])
    have = {(r.set, r.image, int(r.sigma), r.method) for r in done.itertuples()}
    rows = done.to_dict("records")
    for set_name in args.sets.split(","):
        for path in sorted((BENCHMARKS / set_name).glob("*.png")):
            clean = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float64) / 255.0
            for sigma in SIGMAS:
                noisy = noisy_version(clean, sigma)
                for method in args.methods.split(","):
                    if (set_name, path.name, sigma, method) in have:
                        continue
                    start = time.perf_counter()
                    out = run_method(method, noisy, sigma, args.model)
                    seconds = time.perf_counter() - start
                    rows.append(
                        {"set": set_name, "image": path.name, "sigma": sigma, "method": method, "psnr": psnr(clean, out, data_range=1.0), "seconds": seconds}
                    )
            pd.DataFrame(rows).to_csv(table, index=False)
            print(f"{set_name} {path.name} done", flush=True)
    frame = pd.DataFrame(rows)
    mean = frame.groupby(["method", "set", "sigma"])["psnr"].mean().unstack(["set", "sigma"]).round(2)
    lines = ["| method | " + " | ".join(f"{s} σ{g}" for s, g in mean.columns) + " |", "|---" * (len(mean.columns) + 1) + "|"]
    for method, row in mean.iterrows():
        lines.append(f"| {method} (this run) | " + " | ".join("-" if pd.isna(v) else f"{v:.2f}" for v in row) + " |")
    for name in ("BM3D", "DnCNN", "FFDNet"):
        cells = [f"{PUBLISHED[(name, s)][SIGMAS.index(g)]:.2f}" if (name, s) in PUBLISHED else "-" for s, g in mean.columns]
        lines.append(f"| {name} (published) | " + " | ".join(cells) + " |")
    seconds = frame.groupby("method")["seconds"].mean().round(3)
    lines += ["", "Mean seconds per image: " + ", ".join(f"{m} {s}" for m, s in seconds.items())]
    text = "\n".join(lines)
    (OUT / "denoise_published.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
