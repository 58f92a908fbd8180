"""Orchestration costs of the restore flow, each as a ratio measured in one run.

Usage: python bench/orchestration.py [--images 500] [--memory 200,2000] [--out bench/out/orchestration]

A real ``prefect server start`` runs on 127.0.0.1 for the whole script;
flows run in child processes against it (one process per measurement, so
imports, caches and peak memory are each measurement's own), with flow
heartbeats off. Four figures:

1. overhead: the ``restore`` flow (1 worker) over N small images vs a plain
   Python loop calling the same library function (``restore_file``) on the
   same files, interleaved, median of 3 — target <= 1.05x;
2. scaling: the flow with 2 workers vs 1 on a CPU-bound method, on the
   thread runner and on a Dask LocalCluster of 1 or 2 processes (the
   cluster's start and stop inside the timed run) — target >= 1.8x;
3. memory: peak RSS of the flow process restoring 2,000 vs 200 images —
   target <= 1.1x;
4. incremental: rerunning the flow over the unchanged archive vs its first
   run — target < 5 %.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deployments.local_server import clean_environment, start_server, stop_process  # noqa: E402

# What a child process runs: one measurement, printed as JSON on the last line.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, archive, out, method, workers, runner = sys.argv[1:7]
from restoration.archive import list_archive
from restoration.pipeline import restore_file
if mode == "flow":
    from flows.restore import restore_flow
    from flows.runner import with_runner
    from flows.steps import run_counts
    flow = with_runner(restore_flow, workers=int(workers), kind=runner)
start = time.perf_counter()  # imports done: what is timed is the run itself
if mode == "loop":
    for rel in list_archive(archive).files:
        restore_file(Path(archive) / rel, Path(out) / rel, rel=rel, method=method, mask_path=None, options={})
    counts = {}
else:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):  # as the command line runs flows
        state = flow(archive, out, method, workers=int(workers), return_state=True)
        counts = run_counts(state.result())
seconds = time.perf_counter() - start
span = None
if mode == "flow" and counts.get("new"):  # first restore task's start to last one's end, as the server saw them
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    with get_client(sync_client=True) as client:
        for _ in range(100):  # task-run states reach the server as events, a moment later
            runs = [t for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))) if t.name.startswith("restore-")]
            if runs and all(t.start_time and t.end_time for t in runs):
                break
            time.sleep(0.2)
    span = (max(t.end_time for t in runs) - min(t.start_time for t in runs)).total_seconds()
print(json.dumps({"seconds": seconds, "tasks_s": span, "counts": counts, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_archive(folder: Path, count: int, size: int) -> Path:
    """``count`` different real-photo crops of ``size`` pixels (camera, astronaut, coins, moon)."""
    import cv2
    import numpy as np
    import skimage.data

    sources = [skimage.data.camera(), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY), skimage.data.coins(), skimage.data.moon()]
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        image = sources[k % len(sources)]
        y = (17 * k) % (image.shape[0] - size)
        x = (29 * k) % (image.shape[1] - size)
        path = folder / f"{k // 100:02d}" / f"scan{k:05d}.png"  # 100 files a folder, as scans are filed
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), np.ascontiguousarray(image[y : y + size, x : x + size]))
    return folder


def measure(env: dict, mode: str, archive: Path, out: Path, method: str, workers: int = 1, runner: str = "threads") -> dict:
    """Run one measurement in a fresh process; its seconds exclude interpreter start and imports."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(archive), str(out), method, str(workers), runner],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode:
        raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=256, help="Side of the small images (pixels).")
    parser.add_argument("--method", default="nlm", help="CPU-bound restorer used throughout.")
    parser.add_argument("--memory", default="200,2000", help="Archive sizes of the memory comparison.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs of the loop and the flow (median reported).")
    parser.add_argument("--out", default="bench/out/orchestration")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    work = out / "work"
    server, url = start_server(Path(tempfile.mkdtemp(prefix="bench-prefect-")))
    results: dict = {"images": args.images, "size": args.size, "method": args.method, "cores": os.cpu_count()}
    try:
        env = clean_environment(
            PREFECT_API_URL=f"{url}/api",
            PREFECT_HOME=tempfile.mkdtemp(prefix="bench-home-"),
            PREFECT_LOGGING_EXTRA_LOGGERS="restoration",
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
        )  # fmt: skip (as the command line and the served deployments run: library logs sent to the server)
        archive = write_archive(work / "archive", args.images, args.size)

        # 1 + 4: plain loop and flow, interleaved, median of --repeats; each flow rerun over its own finished folder
        loops, firsts, reruns = [], [], []
        for k in range(args.repeats):
            loops.append(measure(env, "loop", archive, work / f"loop-{k}", args.method)["seconds"])
            first = measure(env, "flow", archive, work / f"flow-{k}", args.method)
            rerun = measure(env, "flow", archive, work / f"flow-{k}", args.method)
            assert first["counts"]["new"] == args.images and rerun["counts"]["skipped"] == args.images, (first, rerun)
            firsts.append(first["seconds"])
            reruns.append(rerun["seconds"])
        loop_s, flow_s, rerun_s = (statistics.median(v) for v in (loops, firsts, reruns))
        results["overhead"] = {"loop_s": loop_s, "flow_s": flow_s, "ratio": flow_s / loop_s, "loops": loops, "flows": firsts}
        results["incremental"] = {"first_s": flow_s, "rerun_s": rerun_s, "fraction": rerun_s / flow_s, "reruns": reruns}

        # 2: scaling, 1 vs 2 workers, threads and Dask processes
        results["scaling"] = {}
        for runner in ("threads", "dask"):
            one = measure(env, "flow", archive, work / f"{runner}-1w", args.method, workers=1, runner=runner)
            two = measure(env, "flow", archive, work / f"{runner}-2w", args.method, workers=2, runner=runner)
            results["scaling"][runner] = {
                "one_s": one["seconds"], "two_s": two["seconds"], "speedup": one["seconds"] / two["seconds"],
                "one_tasks_s": one["tasks_s"], "two_tasks_s": two["tasks_s"], "tasks_speedup": one["tasks_s"] / two["tasks_s"],
            }  # fmt: skip

        # 3: memory, small vs large archive (fast method, tiny images: the orchestration's own memory shows)
        small, large = (int(n) for n in args.memory.split(","))
        memory = {}
        for count in (small, large):
            folder = write_archive(work / f"memory-{count}", count, 48)
            memory[count] = measure(env, "flow", folder, work / f"memory-{count}-out", "wavelet", workers=2)
        results["memory"] = {
            "small": small, "large": large,
            "small_mib": memory[small]["peak_rss_mib"], "large_mib": memory[large]["peak_rss_mib"],
            "ratio": memory[large]["peak_rss_mib"] / memory[small]["peak_rss_mib"],
        }  # fmt: skip
    finally:
        stop_process(server)
    (out / "orchestration.json").write_text(json.dumps(results, indent=1))
    o, i, m = results["overhead"], results["incremental"], results["memory"]
    print(f"{args.images} images {args.size}x{args.size}, method {args.method}, {results['cores']} cores")
    print("| measure | ours | reference | ratio | target |")
    print("|---|---:|---:|---:|---|")
    print(f"| restore flow (1 worker) vs plain loop | {o['flow_s']:.2f} s | {o['loop_s']:.2f} s | {o['ratio']:.3f}x | <= 1.05x |")
    for runner, s in results["scaling"].items():
        print(f"| 2 workers vs 1 ({runner}), whole run | {s['two_s']:.2f} s | {s['one_s']:.2f} s | {s['speedup']:.2f}x faster | >= 1.8x |")
        print(f"| 2 workers vs 1 ({runner}), first to last task | {s['two_tasks_s']:.2f} s | {s['one_tasks_s']:.2f} s | {s['tasks_speedup']:.2f}x faster | |")
    print(f"| peak RSS, {m['large']} vs {m['small']} images | {m['large_mib']:.0f} MiB | {m['small_mib']:.0f} MiB | {m['ratio']:.3f}x | <= 1.1x |")
    print(f"| rerun of the unchanged archive vs first run | {i['rerun_s']:.2f} s | {i['first_s']:.2f} s | {100 * i['fraction']:.1f} % | < 5 % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
