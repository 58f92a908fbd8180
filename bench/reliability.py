"""Reliability counts for RELIABILITY.md: the hostile corpus through the real command line, and kill -9 / rerun.

    .venv/bin/python bench/reliability.py [--out bench/out/reliability] [--kills 5]

1. Builds the corpus of ``tests/reliability/corpus.py`` (every format and
   layout, broken and hostile files, links, special and hidden entries,
   files declaring sizes never to be decoded) and its hostile zip/tar
   files, runs ``archive-restore restore ... --method nlm --sigma 10`` over
   each in a fresh process, and counts per entry: restored and checked
   faithful, refused with the expected reason, left out by name, or not as
   expected. A crash is an exit status other than 0/1 or a traceback.
   Originals are hashed before and after; files outside the output folder
   are listed before and after.
2. Restores 48 scans with nlm, killing the command with SIGKILL at
   ``--kills`` points of the run and running it again each time, then to
   the end; every output is compared byte for byte with an uninterrupted
   run's: outputs lost or corrupt are counted.

Prints a Markdown table and writes ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.corpus import build_archives, build_corpus, files_outside, said_of, tree_sha256  # noqa: E402

CLI = [str(ROOT / ".venv" / "bin" / "archive-restore")]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="ERROR")
    return env


def score(cases, output: str, source: Path, out: Path, source_name: str, counts: dict, mismatches: list) -> None:
    for case in cases:
        rel = source_name if case.rel == "." else case.rel
        said = said_of(output, rel)
        counts["inputs"] += 1
        try:
            if case.expect == "restored":
                assert said is None, said
                assert (out / case.rel).is_file(), "no output"
                if case.check:
                    case.check(source / case.rel, out / case.rel)
                counts["restored"] += 1
            else:
                assert said is not None and said[0] == case.expect and case.reason in said[1], said
                counts["refused" if case.expect == "refused" else "left out"] += 1
        except AssertionError as exc:
            mismatches.append({"entry": case.rel, "expected": case.expect, "got": str(exc)[:300]})


def corpus_run(work: Path, counts: dict, mismatches: list) -> None:
    corpus, archives_dir = work / "corpus", work / "archives"
    for folder in (corpus, archives_dir):
        shutil.rmtree(folder, ignore_errors=True)
    cases = build_corpus(corpus)
    archives = build_archives(archives_dir)
    runs = [(corpus, cases, str(corpus))] + [(archives_dir / name, members, str(archives_dir / name)) for name, members in archives.items()]
    originals = {corpus: tree_sha256(corpus), archives_dir: tree_sha256(archives_dir)}
    for k, (source, source_cases, name) in enumerate(runs):
        out = work / f"out{k}"
        shutil.rmtree(out, ignore_errors=True)
        before = files_outside(work, [work / f"out{j}" for j in range(len(runs))] + [work / "home"])
        done = subprocess.run([*CLI, "restore", str(source), str(out), "--method", "nlm", "--sigma", "10"], env=environment(work / "home"), capture_output=True, text=True)
        output = done.stdout + done.stderr
        if done.returncode not in (0, 1) or "Traceback" in output:
            counts["crashes"] += 1
        counts["runs"] += 1
        staged = out / ".staging" if source.is_file() else source
        score(source_cases, output, staged, out, name, counts, mismatches)
        after = files_outside(work, [work / f"out{j}" for j in range(len(runs))] + [work / "home"])
        counts["files outside the output folder"] += len(after - before)
    counts["originals changed"] = sum(
        sum(1 for rel, sha in originals[folder].items() if tree_sha256(folder).get(rel) != sha) for folder in originals
    )


def kill_rerun(work: Path, kills: int, counts: dict) -> None:
    from tests.conftest import crops, write_png

    archive = work / "scans"
    shutil.rmtree(archive, ignore_errors=True)
    for k, image in enumerate(crops(48, 192)):
        write_png(archive / f"{k // 16}" / f"scan{k:02d}.png", image)
    env = environment(work / "home")
    command = [*CLI, "restore", str(archive), "{out}", "--method", "nlm", "--sigma", "20", "--workers", "2"]
    reference, out = work / "reference", work / "killed"
    for folder in (reference, out):
        shutil.rmtree(folder, ignore_errors=True)
    start = time.monotonic()
    subprocess.run([c.format(out=reference) for c in command], env=env, capture_output=True, check=False)
    duration = time.monotonic() - start
    for k in range(kills):
        proc = subprocess.Popen([c.format(out=out) for c in command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(duration * (0.3 + 0.6 * k / max(kills - 1, 1)) / 2)  # each kill at another point of what is left
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        counts["kills"] += 1
    final = subprocess.run([c.format(out=out) for c in command], env=env, capture_output=True, text=True)
    counts["reruns ending ok"] = int(final.returncode == 0)
    expected = {p.relative_to(reference).as_posix() for p in reference.rglob("*.png") if ".provenance" not in p.parts}
    lost = corrupt = 0
    for rel in sorted(expected):
        target = out / rel
        if not target.exists():
            lost += 1
        elif target.read_bytes() != (reference / rel).read_bytes():
            corrupt += 1
    leftovers = [p for p in out.rglob("*") if ".arestore-tmp-" in p.name]
    counts["outputs after kill/rerun"] = len(expected)
    counts["outputs lost or corrupt after kill/rerun"] = lost + corrupt + len(leftovers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "reliability")
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    counts = {"runs": 0, "inputs": 0, "restored": 0, "refused": 0, "left out": 0, "crashes": 0, "originals changed": 0,
              "files outside the output folder": 0, "kills": 0}  # fmt: skip
    mismatches: list[dict] = []
    corpus_run(args.out, counts, mismatches)
    kill_rerun(args.out, args.kills, counts)
    counts["not as expected"] = len(mismatches)
    (args.out / "summary.json").write_text(json.dumps({"counts": counts, "mismatches": mismatches}, indent=1))
    print("| measure | count |\n|---|---:|")
    for key, value in counts.items():
        print(f"| {key} | {value} |")
    for m in mismatches:
        print(f"NOT AS EXPECTED {m['entry']} (expected {m['expected']}): {m['got']}", file=sys.stderr)


if __name__ == "__main__":
    main()
