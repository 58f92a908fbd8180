"""Peak memory of restoring one 12000 x 9000 16-bit scan with every method (issue 9: each under 2 GB).

    .venv/bin/python bench/memory.py [--size 12000x9000] [--methods telea,nlm] [--baseline DIR] [--out bench/out/memory]

Builds once a 16-bit gray deflate TIFF of real photographs (scikit-image's,
tiled and resized to the size) with Gaussian noise of sigma 10 (0-255
scale), and a damage mask (seeded scratches and holes, about 5 % of the
pixels) as a PNG. Each method then restores the scan with ``archive-restore
restore`` in a fresh process (inpainters with the mask, denoisers told
sigma 10, upscalers by 2), measured by GNU time: peak resident set size of
the command (its temporary Prefect server is a separate, smaller process)
and wall time. Each result is appended to ``results.json`` as it comes, so
a long run can be read while it goes and resumed (methods already measured
are skipped unless --again). ``--baseline DIR`` also runs a method with the
code of another checkout (``python -m flows`` there), for comparison on
the same input. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIMIT_BYTES = 2 * 10**9  # "under 2 GB", read strictly: 1907 MiB


def build_scan(folder: Path, width: int, height: int, seed: int = 0) -> tuple[Path, Path]:
    """The scan and its mask folder (built once; kept between runs)."""
    import cv2
    import skimage.data as data
    import tifffile
    from skimage.color import rgb2gray

    from restoration.damage.simulate import simulate_holes, simulate_scratches
    from restoration.io import write_mask_file

    scan = folder / "scan" / "scan.tif"
    masks = folder / "masks"
    if scan.exists() and (masks / "scan.png").exists():
        return scan.parent, masks
    sources = [data.camera(), rgb2gray(data.astronaut()), data.coins(), data.moon(), data.page(), data.text(), data.clock(), rgb2gray(data.coffee()),
               rgb2gray(data.chelsea()), data.brick(), data.grass(), data.gravel()]  # fmt: skip
    cols, rows = 4, 3
    bw, bh = width // cols, height // rows
    image = np.zeros((height, width), np.float32)
    for k, source in enumerate(sources[: cols * rows]):
        y, x = divmod(k, cols)
        block = source.astype(np.float32) * (255.0 if source.max() <= 1.0 else 1.0)
        image[y * bh : (y + 1) * bh, x * bw : (x + 1) * bw] = cv2.resize(block, (bw, bh), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(seed)
    for y in range(0, height, 1000):  # in strips: noise of sigma 10 on the 0-255 scale
        image[y : y + 1000] += rng.normal(0, 10, image[y : y + 1000].shape).astype(np.float32)
    scan16 = np.clip(np.rint(image * 257.0), 0, 65535).astype(np.uint16)
    del image
    scan.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(scan, scan16, photometric="minisblack", compression="zlib", resolution=(600, 600))
    mask = np.zeros((height, width), bool)
    mh, mw = height // 4, width // 4
    for k in range(16):
        y, x = divmod(k, 4)
        blank = np.zeros((mh, mw), np.uint8)
        _, holes = simulate_holes(blank, ratio=(0.02, 0.04), rng=seed + 2 * k)
        _, scratches = simulate_scratches(blank, ratio=(0.005, 0.02), rng=seed + 2 * k + 1)
        mask[y * mh : (y + 1) * mh, x * mw : (x + 1) * mw] = holes | scratches
    write_mask_file([mask], masks / "scan.png")
    return scan.parent, masks


def run_one(method: str, kind: str, scan_dir: Path, masks: Path, out: Path, *, code: Path | None = None) -> dict:
    """Restore the scan with ``method`` in a fresh process under GNU time."""
    if code is None:
        command = [str(ROOT / ".venv" / "bin" / "archive-restore")]
        cwd, env = ROOT, dict(os.environ)
    else:
        command = [sys.executable, "-m", "flows"]
        cwd, env = code, {**os.environ, "PYTHONPATH": str(code)}
    command += ["restore", str(scan_dir), str(out), "--method", method, "--workers", "1"]
    if kind == "inpaint":
        command += ["--masks", str(masks)]
    elif kind == "denoise":
        command += ["--sigma", "10"]
    env = {k: v for k, v in env.items() if not k.startswith("PREFECT_API")}
    env.setdefault("PREFECT_HOME", str(out.parent / "prefect-home"))
    report = out.parent / f"{out.name}.time"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=code or ROOT, capture_output=True, text=True).stdout.strip()  # the code that runs
    start = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", str(report), *command], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    peak_kb, _ = report.read_text().split()[-2:]
    result = {"method": method, "kind": kind, "code": str(code or "this checkout"), "commit": commit, "exit": done.returncode,
              "peak_mb": round(int(peak_kb) / 1024), "seconds": round(seconds, 1)}  # fmt: skip
    output = out / "scan.tif"
    if output.exists():
        import tifffile

        with tifffile.TiffFile(output) as tif:
            result["output_shape"] = list(tif.pages[0].shape)
    else:
        result["error"] = (done.stdout + done.stderr).strip().splitlines()[-3:]
    shutil.rmtree(out, ignore_errors=True)
    return result


def table(results: list[dict]) -> str:
    lines = ["| method | code | peak RSS (MiB) | under 2 GB | wall time (s) | output |", "|---|---|---:|---|---:|---|"]
    for r in results:
        shape = "x".join(str(s) for s in r.get("output_shape", [])) or f"exit {r['exit']}: {' '.join(r.get('error', []))[:80]}"
        ok = "yes" if r["exit"] == 0 and r["peak_mb"] * 2**20 < LIMIT_BYTES else "NO"
        lines.append(f"| {r['method']} | {r.get('commit', '?')} | {r['peak_mb']} | {ok} | {r['seconds']} | {shape} |")
    return "\n".join(lines)


def main() -> None:
    from restoration.registry import REGISTRY, RESTORER_KINDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="12000x9000")
    parser.add_argument("--methods", default=None, help="comma-separated (default: every available restorer)")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout whose code restores the same scan too")
    parser.add_argument("--baseline-methods", default="telea,cnn-denoise", help="methods run with --baseline")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "memory")
    parser.add_argument("--again", action="store_true", help="measure methods already in results.json again")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    scan_dir, masks = build_scan(args.out / args.size, width, height)
    results_path = args.out / f"results-{args.size}.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    methods = args.methods.split(",") if args.methods else REGISTRY.names(kind=RESTORER_KINDS, available_only=True)
    plan = [(m, None) for m in methods]
    if args.baseline:
        plan += [(m, args.baseline.resolve()) for m in args.baseline_methods.split(",")]
    for method, code in plan:
        label = str(code or "this checkout")
        if not args.again and any(r["method"] == method and r["code"] == label for r in results):
            continue
        results = [r for r in results if not (r["method"] == method and r["code"] == label)]
        result = run_one(method, REGISTRY.get(method).kind, scan_dir, masks, args.out / "run", code=code)
        results.append(result)
        results_path.write_text(json.dumps(results, indent=1))
        print(json.dumps(result), flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
