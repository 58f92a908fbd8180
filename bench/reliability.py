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
   are listed before and after; processes a command leaves running (its
   temporary Prefect server) are counted. Each command runs in a session of
   its own with its output in ``logs/``.
   Then the invocations that used to overwrite originals (output = input,
   output = a folder of the input) on a copy of part of the corpus: they
   must be refused with exit status 2 and change nothing.
2. Restores 48 scans with nlm, killing the command (only it, as a user's
   ``kill -9`` would) at ``--kills`` points of the run and running it again
   each time, then to the end; every output is compared byte for byte with
   an uninterrupted run's: outputs lost or corrupt are counted, and the
   processes still running 15 s after each kill.

``--code DIR`` runs another checkout's code (``python -m flows`` there) over
the same corpus instead, for a before/after comparison.

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
CODE: Path | None = None  # another checkout to run instead (--code)


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="ERROR")
    if CODE is not None:
        env["PYTHONPATH"] = str(CODE)
    return env


def run_command(args: list[str], env: dict, log: Path) -> tuple[int, str, int]:
    """Run a command in a session of its own, output to a file (a child left behind cannot hold a pipe).

    Returns the exit status, the output, and how many processes of its
    session were still running a few seconds after it ended (then killed).
    """
    with open(log, "w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=CODE)
        code = proc.wait(timeout=1800)
    return code, log.read_text(), reap_session(proc.pid)


def reap_session(sid: int, wait: float = 5.0) -> int:
    """Processes still in session ``sid`` after ``wait`` seconds (a command's leftovers); they are killed."""
    import psutil

    deadline = time.monotonic() + wait
    while True:
        left = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except (OSError, psutil.Error):
                continue
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    return len(left)


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
        before = files_outside(work, [work / f"out{j}" for j in range(len(runs))] + [work / "home", work / "logs"])
        code, output, left = run_command(
            [*CLI, "restore", str(source), str(out), "--method", "nlm", "--sigma", "10"], environment(work / "home"), work / "logs" / f"run{k}.log"
        )
        counts["processes left running after the command"] += left
        if code not in (0, 1) or "Traceback" in output:
            counts["crashes"] += 1
        counts["runs"] += 1
        staged = out / ".staging" if source.is_file() else source
        score(source_cases, output, staged, out, name, counts, mismatches)
        after = files_outside(work, [work / f"out{j}" for j in range(len(runs))] + [work / "home", work / "logs"])
        counts["files outside the output folder"] += len(after - before)
    # The invocations that used to overwrite originals: output = input, and output = a folder of the input.
    danger = work / "danger"
    shutil.rmtree(danger, ignore_errors=True)
    shutil.copytree(corpus / "png", danger / "png")
    shutil.copytree(corpus / "tiff", danger / "png" / "sub")
    originals[danger] = tree_sha256(danger)
    for k, output in enumerate((danger / "png", danger / "png" / "sub")):
        code, text, left = run_command(
            [*CLI, "restore", str(danger / "png"), str(output), "--method", "nlm", "--sigma", "10"],
            environment(work / "home"),
            work / "logs" / f"danger{k}.log",
        )
        counts["runs"] += 1
        counts["unsafe output folders refused (exit 2)"] += int(code == 2)
        counts["processes left running after the command"] += left
        if code not in (0, 1, 2) or "Traceback" in text:
            counts["crashes"] += 1
    counts["originals changed"] = sum(sum(1 for rel, sha in originals[folder].items() if tree_sha256(folder).get(rel) != sha) for folder in originals)


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
    run_command([c.format(out=reference) for c in command], env, work / "logs" / "reference.log")
    duration = time.monotonic() - start
    for k in range(kills):
        with open(work / "logs" / f"kill{k}.log", "w") as log:
            proc = subprocess.Popen([c.format(out=out) for c in command], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=CODE)
        time.sleep(duration * (0.3 + 0.6 * k / max(kills - 1, 1)) / 2)  # each kill at another point of what is left
        os.kill(proc.pid, signal.SIGKILL)  # the command only, as a user's kill -9 would
        proc.wait()
        counts["kills"] += 1
        counts["processes left running after kill -9"] += reap_session(proc.pid, wait=15.0)
    code, _, left = run_command([c.format(out=out) for c in command], env, work / "logs" / "final.log")
    counts["reruns ending ok"] = int(code == 0)
    counts["processes left running after the command"] += left
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
    parser.add_argument("--code", type=Path, default=None, help="another checkout whose code runs over the same corpus")
    args = parser.parse_args()
    if args.code is not None:
        global CLI, CODE
        CODE = args.code.resolve()
        CLI = [sys.executable, "-m", "flows"]
    args.out.mkdir(parents=True, exist_ok=True)
    counts = {"runs": 0, "inputs": 0, "restored": 0, "refused": 0, "left out": 0, "crashes": 0, "unsafe output folders refused (exit 2)": 0,
              "originals changed": 0, "files outside the output folder": 0, "processes left running after the command": 0, "kills": 0,
              "processes left running after kill -9": 0}  # fmt: skip
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
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
