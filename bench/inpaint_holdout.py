"""Inpainting by hole-ratio bin on held-out package images: learned beside classical.

The held-out set (``archive-restore package-images --set held-out``) shares
no image with the default models' training set. Each image is centre-cropped
to 256 x 256; free-form holes (the damage module's ``holes``) are drawn in
five ratio ranges (1-10 % ... 40-50 %) with seeded generators; every method
fills the same damaged crops. Hole PSNR is on the 8-bit range, inside the
hole only, averaged per hole-ratio bin; the last rows give each learned
method's margin over the best classical method of each bin (issue 12: a
floor of 0, a goal of +1 dB at 10-50 %).

    python bench/inpaint_holdout.py [--methods telea,...] [--seeds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from restoration.damage.simulate import simulate_holes
from restoration.io import read_image_file
from restoration.learned.package_images import write_package_images
from restoration.metrics import hole_psnr, hole_ssim
from restoration.pipeline import item_rng, ratio_bin
from restoration.registry import REGISTRY

OUT = Path(__file__).parent / "out"
RANGES = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))
SIZE = 256


def centre_crop(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = max(0, (h - SIZE) // 2), max(0, (w - SIZE) // 2)
    return np.ascontiguousarray(image[y : y + SIZE, x : x + SIZE])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="telea,navier-stokes,biharmonic,fsr,exemplar,gan-inpaint,gan-inpaint-x8,vae-inpaint")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_package_images(tmp, which="held-out")
        images = {p.relative_to(tmp).as_posix(): centre_crop(read_image_file(p).frames[0]) for p in paths}
    for rel, clean in images.items():
        for low, high in RANGES:
            for seed in range(args.seeds):
                damaged, mask = simulate_holes(clean, ratio=(low, high), rng=item_rng(seed, f"holes-{low}", rel, 0))
                for method in args.methods.split(","):
                    start = time.perf_counter()
                    name, ensemble = method.removesuffix("-x8"), method.endswith("-x8")  # x8: self-ensemble
                    out = REGISTRY.get(name).func(damaged, mask, **({"self_ensemble": True} if ensemble else {}))
                    rows.append(
                        {
                            "image": rel, "seed": seed, "hole_ratio": float(mask.mean()), "bin": ratio_bin(float(mask.mean())),
                            "range": f"{int(low * 100)}-{int(high * 100)} %", "method": method,
                            "hole_psnr": hole_psnr(clean, out, mask, data_range=255.0), "hole_ssim": hole_ssim(clean, out, mask, data_range=255.0),
                            "seconds": time.perf_counter() - start,
                        }
                    )  # fmt: skip
        print(f"{rel} done", flush=True)
    frame = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "inpaint_holdout.csv", index=False)
    mean = frame.groupby(["method", "bin"])["hole_psnr"].mean().unstack("bin").round(2)
    mean["seconds/image"] = frame.groupby("method")["seconds"].mean().round(2)
    mean = mean.sort_values(mean.columns[-2], ascending=False)
    bins = [c for c in mean.columns if c != "seconds/image"]
    learned = [m for m in mean.index if REGISTRY.get(m.removesuffix("-x8")).learned is not None]
    best = mean.loc[[m for m in mean.index if m not in learned], bins].max()
    margins = pd.DataFrame({f"{m} - best classical": (mean.loc[m, bins] - best).round(2) for m in learned}).T
    text = (
        f"Hole PSNR (dB) by hole-ratio bin, {len(images)} held-out images x {args.seeds} seeds per range\n\n"
        + mean.to_markdown()
        + "\n\nMargin over the best classical method of each bin (dB)\n\n"
        + margins.to_markdown()
    )
    (OUT / "inpaint_holdout.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
