"""Time `archive-restore demo` and tabulate its scores for BENCHMARKS.md.

Usage: python bench/demo_benchmark.py [--out bench/out/demo]

Prints wall time and, per damage kind and method, the mean PSNR / hole PSNR /
SSIM over all items, from the run's own per-image table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/out/demo")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PREFECT_HOME": tempfile.mkdtemp(prefix="prefect-home-")}
    cli = Path(sys.executable).with_name("archive-restore")
    start = time.perf_counter()
    subprocess.run([str(cli), "demo", "--out", str(out)], check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    per_image = pd.read_parquet(out / "report" / "per_image.parquet")
    table = (
        per_image.groupby(["damage", "method"])[["psnr", "hole_psnr", "ssim"]]
        .agg(lambda s: s.clip(upper=100).mean())
        .round({"psnr": 2, "hole_psnr": 2, "ssim": 4})
        .reset_index()
    )
    table["items"] = per_image.groupby(["damage", "method"]).size().to_numpy()
    print(f"demo wall time: {wall:.1f} s on {os.cpu_count()} cores; {per_image['path'].nunique()} files, {len(per_image)} scored rows")
    print(table.to_markdown(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
