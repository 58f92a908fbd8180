"""Damage detection on held-out images: scores per kind and detector, clean images, detect-then-inpaint, a 24-megapixel scan.

    .venv/bin/python bench/detection.py [--seeds 2] [--out bench/out/detection]

Images: the held-out set that ships in packages (``archive-restore
package-images --set held-out``: camera, astronaut, coins, moon, page,
text, clock, horse, motorcycle), none of which the shipped detector was
trained on. For each damage kind of the simulators, and for damage drawn
by generators written here that training never used (straight hairlines,
soft irregular stains, film dust as Gaussian dots), every detector's
pixel precision, recall, F1 and IoU pooled over the images (1-pixel
tolerance, :func:`restoration.metrics.detection_scores`; damage that
changed no pixel by more than 2 % of the range counts neither way); the fraction of
pixels each flags on the clean images; hole PSNR of Telea inpainting with
the detected mask against the true mask (scored on the true mask); and
the time and peak memory of classical detection plus filling of a
6000 x 4000 scan. Results: ``OUT/detection.json`` and tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restoration.frames import detect_frame, restore_frame  # noqa: E402
from restoration.io import read_image_file  # noqa: E402
from restoration.learned.package_images import write_package_images  # noqa: E402
from restoration.metrics import detection_counts, hole_psnr, unchanged_damage  # noqa: E402
from restoration.registry import REGISTRY  # noqa: E402

SIMULATED = ("holes", "tears", "scratches", "cracks", "dust", "blotches", "salt-pepper")


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) / 255.0


def _back(unit: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(unit * 255), 0, 255).astype(like.dtype)


def unseen_hairlines(image: np.ndarray, rng: np.random.Generator):
    """Straight one-pixel lines at any angle, faint to strong, bright or dark (not the simulators' curved scratches)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(3, 8))):
        p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.3, 0.9) * max(h, w)
        p1 = (int(p0[0] + length * np.cos(angle)), int(p0[1] + length * np.sin(angle)))
        cv2.line(mask, p0, p1, 1, 1)
    hit = mask.astype(bool)
    unit = _unit(image)
    shift = rng.choice([-1, 1]) * rng.uniform(0.25, 0.5)
    unit[hit] = np.clip(unit[hit] + shift, 0, 1)
    return _back(unit, image), hit


def unseen_stains(image: np.ndarray, rng: np.random.Generator):
    """Irregular soft-edged stains from thresholded smooth noise, darkening and tinting (not the simulators' ellipses)."""
    h, w = image.shape[:2]
    field = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), max(h, w) / 25)
    field = (field - field.mean()) / (field.std() + 1e-9)
    strength = np.clip((field - 1.4) * 1.5, 0, 0.8)
    hit = strength > 0.1
    unit = _unit(image)
    a = strength[..., None] if unit.ndim == 3 else strength
    stain = np.array([0.45, 0.33, 0.2]) if unit.ndim == 3 else 0.35
    unit = (1 - a) * unit + a * stain
    return _back(unit, image), hit


def unseen_film_dust(image: np.ndarray, rng: np.random.Generator):
    """Gaussian dots of 1-4 pixels, dark (negative dust prints white, positive black), with no hard edge."""
    h, w = image.shape[:2]
    opacity = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(20, 60))):
        dot = np.zeros((h, w), np.float32)
        cv2.circle(dot, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), int(rng.integers(1, 4)), 1.0, -1)
        opacity = np.maximum(opacity, cv2.GaussianBlur(dot, (0, 0), 0.8) * rng.uniform(0.6, 1.0))
    hit = opacity > 0.15
    unit = _unit(image)
    a = opacity[..., None] if unit.ndim == 3 else opacity
    unit = (1 - a) * unit + a * (0.95 if rng.random() < 0.5 else 0.05)
    return _back(unit, image), hit


UNSEEN = {"unseen-hairlines": unseen_hairlines, "unseen-stains": unseen_stains, "unseen-film-dust": unseen_film_dust}


def damage(kind: str, image: np.ndarray, seed: int):
    rng = np.random.default_rng([seed, sum(map(ord, kind))])
    if kind in UNSEEN:
        return UNSEEN[kind](image, rng)
    return REGISTRY.get(kind, kind="damage").func(image, rng=rng)


def scores(counts: np.ndarray) -> dict:
    correct, found, predicted, true = (int(v) for v in counts)
    precision = correct / predicted if predicted else 0.0
    recall = found / true if true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    tp = 0.5 * (correct + found)
    union = tp + (predicted - correct) + (true - found)
    return {"precision": precision, "recall": recall, "f1": f1, "iou": tp / union if union else float("nan")}


def big_scan_timing(out: Path) -> dict:
    """Classical detection + Telea filling of a 6000 x 4000 8-bit scan with scratches and dust, in a fresh process (peak RSS)."""
    code = f"""
import json, resource, time, sys
sys.path.insert(0, {str(ROOT)!r})
import cv2, numpy as np, skimage.data
from restoration.damage import simulate
from restoration.frames import detect_frame, restore_frame
from restoration.registry import REGISTRY
base = skimage.data.camera()
scan = cv2.resize(base, (6000, 4000), interpolation=cv2.INTER_CUBIC)
scan = np.clip(scan + np.random.default_rng(0).normal(0, 2, scan.shape), 0, 255).astype(np.uint8)
damaged, truth = simulate.simulate_scratches(scan, rng=1, ratio=(0.002, 0.004))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
found = detect_frame(REGISTRY.get("detect-classical"), damaged, options={{}})
detected = time.perf_counter() - start
filled = restore_frame(REGISTRY.get("telea"), damaged, mask=found.mask, options={{}})
total = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"pixels": int(scan.size), "detect_seconds": detected, "detect_fill_seconds": total, "peak_rss_mib": peak / 1024,
                  "rss_before_mib": before / 1024, "flagged": float(found.mask.mean()), "true": float(truth.mean())}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "detection")
    parser.add_argument("--detectors", default=",".join(REGISTRY.names(kind="detect", available_only=True)))
    parser.add_argument("--skip-big", action="store_true", help="Leave out the 24-megapixel timing.")
    args = parser.parse_args(argv)
    detectors = [d for d in args.detectors.split(",") if d]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_package_images(tmp, which="held-out")
        images = {p.name: read_image_file(p).frames[0] for p in sorted(paths)}
    kinds = (*SIMULATED, *UNSEEN)
    counts = {(k, d): np.zeros(4, np.int64) for k in kinds for d in detectors}
    flagged = {d: [] for d in detectors}
    fills = {k: {"true": [], **{d: [] for d in detectors}} for k in ("holes", "scratches", "dust", "cracks")}
    seconds = dict.fromkeys(detectors, 0.0)
    telea = REGISTRY.get("telea")
    for name, image in images.items():
        for d in detectors:
            flagged[d].append(float(detect_frame(REGISTRY.get(d), image, options={}).mask.mean()))
        for kind in kinds:
            for seed in range(args.seeds):
                damaged, truth = damage(kind, image, seed)
                true_fill = None
                if kind in fills:
                    true_fill = restore_frame(telea, damaged, mask=truth, options={})
                    fills[kind]["true"].append(hole_psnr(image, true_fill, truth, data_range=255))
                unseen = unchanged_damage(image, damaged, truth, data_range=255)  # invisible damage counts neither way
                for d in detectors:
                    start = time.perf_counter()
                    found = detect_frame(REGISTRY.get(d), damaged, options={})
                    seconds[d] += time.perf_counter() - start
                    counts[kind, d] += detection_counts(truth, found.mask, tolerance=1, ignore=unseen)
                    if true_fill is not None:
                        filled = restore_frame(telea, damaged, mask=found.mask, options={}) if found.mask.any() else damaged
                        fills[kind][d].append(hole_psnr(image, filled, truth, data_range=255))
        print(f"{name} done", file=sys.stderr, flush=True)
    table = {f"{k}|{d}": scores(c) for (k, d), c in counts.items()}
    result = {
        "images": list(images),
        "seeds": args.seeds,
        "scores": table,
        "clean_flagged": {d: {"mean": float(np.mean(v)), "max": float(np.max(v))} for d, v in flagged.items()},
        "detect_then_inpaint_hole_psnr": {k: {m: float(np.mean(v)) for m, v in row.items()} for k, row in fills.items()},
        "detector_seconds": seconds,
    }
    if not args.skip_big:
        result["big_scan"] = big_scan_timing(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detection.json").write_text(json.dumps(result, indent=1))
    print("\nF1 (precision / recall), 1-pixel tolerance, pooled over", len(images), "images x", args.seeds, "seeds")
    print("| damage | " + " | ".join(detectors) + " |")
    print("|---|" + "---:|" * len(detectors))
    for kind in kinds:
        cells = [f"{table[f'{kind}|{d}']['f1']:.2f} ({table[f'{kind}|{d}']['precision']:.2f}/{table[f'{kind}|{d}']['recall']:.2f})" for d in detectors]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print(
        "| clean: % pixels flagged, mean (max) | " + " | ".join(f"{100 * np.mean(flagged[d]):.2f} ({100 * np.max(flagged[d]):.2f})" for d in detectors) + " |"
    )
    print("\nhole PSNR (dB) of Telea inpainting on the true damage: with the true mask, and with each detector's mask")
    for kind, row in result["detect_then_inpaint_hole_psnr"].items():
        print(f"| {kind} | true {row['true']:.2f} | " + " | ".join(f"{d} {row[d]:.2f}" for d in detectors) + " |")
    if "big_scan" in result:
        print("\n6000 x 4000 scan:", json.dumps(result["big_scan"]))
    print("peak RSS of this process (MiB):", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
