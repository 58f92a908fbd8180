"""Bad options and unsafe output folders are usage errors: one line, exit status 2, before any server starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.conftest import write_png


@pytest.fixture()
def no_server(monkeypatch):
    """Fail the test if the command gets as far as wanting a Prefect server."""
    import flows.cli

    def refuse():
        raise AssertionError("a server was started for a command that should have stopped before")

    monkeypatch.setattr(flows.cli, "_ensure_api", refuse)


@pytest.fixture()
def folder(tmp_path, camera):
    write_png(tmp_path / "in" / "a.png", camera)
    return tmp_path / "in"


@pytest.mark.parametrize(
    "args,message",
    [
        (["restore", "{in}", "{out}", "--method", "nlm", "--sigma", "-5"], "sigma must be a finite number at least 0"),
        (["restore", "{in}", "{out}", "--method", "nlm", "--sigma", "nan"], "got nan"),
        (["restore", "{in}", "{out}", "--method", "nlm", "--sigma", "inf"], "got inf"),
        (["restore", "{in}", "{out}", "--method", "telea", "--radius", "-1"], "radius must be a finite number above 0"),
        (["damage", "{in}", "{out}", "--kind", "holes", "--ratio", "2-1"], "ratio must be a range"),
        (["restore", "{in}", "{out}", "--method", "cnn-sr", "--scale", "3"], "no shipped model for scale 3"),
        (["restore", "{in}", "{out}", "--method", "teela"], "choose from"),
        (["restore", "{in}", "{out}", "--method", "nlm", "--radius", "3"], "does not take radius"),
        (["restore", "{in}", "{in}", "--method", "nlm"], "is the input folder"),
        (["restore", "{in}/a.png", "{in}", "--method", "nlm"], "contains the input"),
        (["damage", "{in}", "{in}", "--kind", "holes"], "is the input folder"),
        (["benchmark", "{in}", "--out", "{in}"], "is the input folder"),
        (["ingest", "{in}", "--out", "{in}/.."], "contains the input"),
        (["restore", "{in}", "{out}", "--method", "nlm", "--workers", "0"], "--workers"),
        (["--max-pixels", "0", "methods"], "--max-pixels"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2_before_any_server(no_server, folder, tmp_path, args, message):
    from flows.cli import app

    argv = [a.format(**{"in": folder, "out": tmp_path / "out"}) for a in args]
    result = CliRunner().invoke(app, argv, prog_name="archive-restore")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert lines[0].startswith("archive-restore")
    assert not (tmp_path / "out").exists()


def test_help_shows_flags_bare_lists_the_choices_and_explains_every_option():
    """--help as a person reads it: `--resume`, not `--resume <bool>`; the names --method, --kind, --task, --device, --task-runner take; a help text on every option."""
    import re

    import click
    import typer

    from flows.cli import app
    from restoration.registry import REGISTRY

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        text = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "250"}, prog_name="archive-restore").output
        assert "<bool>" not in text, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (name, param.name)
        usage = re.search(r"Usage: (archive-restore [\w-]+)", text)
        assert usage and usage.group(1) == f"archive-restore {name}", text[:200]
    restore = CliRunner().invoke(app, ["restore", "--help"], env={"COLUMNS": "250"}).output
    assert all(m in restore for m in REGISTRY.names(kind=("inpaint", "denoise", "upscale"), available_only=True))
    damage = CliRunner().invoke(app, ["damage", "--help"], env={"COLUMNS": "250"}).output
    assert all(k in damage for k in REGISTRY.names(kind="damage"))
    train = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"}).output
    assert "inpaint, denoise, sr, vae, detect" in train and "auto, cpu, cuda" in train and "threads (default), or dask" in train
    assert re.search(r"--resume +Continue", train) and re.search(r"--help +Show", train)
