"""The reliability corpus through the command line: every entry restored faithfully, refused with its reason, or left out by name.

Per entry it asserts the outcome; for the whole run, that the originals'
sha256 are unchanged, that nothing was written outside the output folder,
and the exit status.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.reliability.corpus import Case, build_archives, build_corpus, files_outside, said_of, tree_sha256

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]


def run(*args) -> tuple[int, str]:
    from flows.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def check_cases(cases: list[Case], output: str, source: Path, out: Path, *, source_name: str) -> None:
    named = set()
    for case in cases:
        rel = source_name if case.rel == "." else case.rel
        said = said_of(output, rel)
        if case.expect == "restored":
            assert said is None, (case.rel, said)
            assert (out / case.rel).is_file(), f"{case.rel}: no output"
            if case.check:
                case.check(source / case.rel, out / case.rel)
        else:
            assert said is not None and said[0] == case.expect, (case.rel, said)
            assert case.reason in said[1], (case.rel, said[1])
            if case.rel != "." and not case.rel.endswith("/"):
                assert not (out / case.rel).exists(), f"{case.rel}: an output for a refused entry"
            named.add(rel)
    problems = [line for line in output.splitlines() if line.startswith(("FAILED ", "LEFT OUT "))]
    surprises = [line for line in problems if not any(line.startswith((f"FAILED {n}: ", f"LEFT OUT {n}: ")) for n in named)]
    assert not surprises, surprises


def test_the_corpus_folder(tmp_path):
    corpus = tmp_path / "corpus"
    cases = build_corpus(corpus)
    originals = tree_sha256(corpus)
    before = files_outside(tmp_path, [tmp_path / "out"])
    code, output = run("restore", corpus, tmp_path / "out", "--method", "nlm", "--sigma", "10")
    assert code == 1, output  # refusals make it 1; a crash would be another code or an exception
    check_cases(cases, output, corpus, tmp_path / "out", source_name=str(corpus))
    assert tree_sha256(corpus) == originals
    assert files_outside(tmp_path, [tmp_path / "out"]) == before
    restored = sum(c.expect == "restored" for c in cases)
    assert f"{restored} ok ({restored} new" in output


@pytest.mark.parametrize("name", ["escapes.zip", "bomb.zip", "truncated.zip", "escapes.tar.gz", "truncated.tar.gz"])
def test_hostile_archives(tmp_path, name):
    archives = build_archives(tmp_path / "archives")
    originals = tree_sha256(tmp_path / "archives")
    before = files_outside(tmp_path, [tmp_path / "out"])
    code, output = run("restore", tmp_path / "archives" / name, tmp_path / "out", "--method", "nlm", "--sigma", "10")
    assert code == 1, output
    staged = tmp_path / "out" / ".staging"
    check_cases(archives[name], output, staged, tmp_path / "out", source_name=str(tmp_path / "archives" / name))
    assert tree_sha256(tmp_path / "archives") == originals
    assert files_outside(tmp_path, [tmp_path / "out"]) == before  # no ../evil.png, no /abs
