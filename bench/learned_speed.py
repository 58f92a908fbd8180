"""CPU inference time of every learned method per megapixel, plain and with self-ensemble.

Every registry entry with a learned model runs on a 1024 x 1024 8-bit gray
photo (``skimage.data.camera`` tiled; upscalers get the input whose output
is 1024 x 1024; inpainters a 20 % hole mask) with its shipped model, on
the machine's CPU threads. Each timing is the fastest of ``--repeats``
after one warm-up call (model loading is not counted), beside OpenCV's
non-local means on the same image in the same run (a fixed reference, so
runs on noisy machines compare as ratios).

    python bench/learned_speed.py [--repeats 2] [--no-ensemble]

Target (issue 12): at most 2 s per megapixel for every learned restorer.
Results: bench/out/learned_speed.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from restoration.damage.simulate import simulate_holes
from restoration.registry import REGISTRY

OUT = Path(__file__).parent / "out"
SIDE = 1024


def fastest(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ensemble", action="store_true")
    args = parser.parse_args()
    image = np.tile(skimage.data.camera(), (2, 2))[:SIDE, :SIDE]
    mask = simulate_holes(np.zeros(image.shape, np.uint8), ratio=(0.2, 0.2), rng=0)[1]
    reference = fastest(lambda: cv2.fastNlMeansDenoising(image, None, 10, 7, 21), args.repeats)
    rows = []
    for entry in REGISTRY.entries():
        if entry.learned is None:
            continue
        if entry.kind == "upscale":
            scale = entry.defaults().get("scale") or 2
            call_args, extra = (cv2.resize(image, (SIDE // scale, SIDE // scale), interpolation=cv2.INTER_AREA),), {"scale": scale}
        elif entry.kind == "inpaint":
            call_args, extra = (image, mask), {}
        else:
            call_args, extra = (image,), {}
        if entry.kind == "denoise":
            extra["sigma"] = 25
        for ensemble in (False,) if args.no_ensemble else (False, True):
            seconds = fastest(lambda: entry.func(*call_args, **extra, self_ensemble=ensemble), args.repeats)
            rows.append((entry.name + (" (self-ensemble)" if ensemble else ""), seconds, seconds / reference))
        print(rows[-1], flush=True)
    lines = [
        f"Seconds per megapixel (1024 x 1024 gray output), fastest of {args.repeats} after a warm-up; reference: OpenCV NLM {reference:.2f} s on the same image",
        "",
        "| method | s / MP | x reference | within 2 s/MP |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {name} | {s:.2f} | {r:.2f} | {'yes' if s <= 2 else 'no'} |" for name, s, r in rows]
    text = "\n".join(lines)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "learned_speed.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
