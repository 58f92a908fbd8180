"""Adding a restorer is one function and one registry entry: it appears in the CLI, the UI form and the benchmark."""

import numpy as np
import pytest
from typer.testing import CliRunner

from restoration.options import Bound
from restoration.registry import REGISTRY, Entry


def denoise_shrink(image: np.ndarray, *, strength: float = 0.5, value_range=None) -> np.ndarray:
    """Pull every pixel towards the frame's mid-range by ``strength`` (a test restorer)."""
    from restoration.pixels import range_of

    prange = range_of(image, value_range)
    middle = (prange.low + prange.high) / 2
    return (image + strength * (middle - image.astype(np.float64))).astype(image.dtype)


@pytest.fixture
def registered():
    REGISTRY.add(
        Entry("shrink", "denoise", denoise_shrink, "pull towards mid-grey", bounds={"strength": Bound("float", low=0, high=1, help="How far to pull.")})
    )
    yield REGISTRY.get("shrink")
    REGISTRY.remove("shrink")


def test_a_new_restorer_appears_in_the_cli_the_form_and_the_benchmark(registered, tmp_path, monkeypatch):
    from flows import cli, parameters
    from flows.benchmark import plan_benchmark

    help_text = CliRunner().invoke(cli.app, ["restore", "--help"], env={"COLUMNS": "200"}).output
    assert "--strength" in help_text and "shrink (default 0.5)" in help_text
    assert "strength" in parameters.RestoreOptions.model_fields
    assert parameters.RestoreOptions(strength=0.2).given() == {"strength": 0.2}
    plan = plan_benchmark(tmp_path, damage=["gaussian"], methods=None)
    assert "shrink" in {job.method for job in plan.restores}

    # The flag reaches the method through the registry's one check.
    seen = {}
    monkeypatch.setattr(cli, "_check_output", lambda *a, **k: None)
    monkeypatch.setattr(cli, "_runner", lambda flow, *a: lambda *args, **kwargs: seen.update(kwargs) or [])
    result = CliRunner().invoke(cli.app, ["restore", str(tmp_path), str(tmp_path / "o"), "--method", "shrink", "--strength", "0.25"])
    assert result.exit_code == 0, result.output
    assert seen["options"] == {"strength": 0.25}
    result = CliRunner().invoke(cli.app, ["restore", str(tmp_path), str(tmp_path / "o"), "--method", "shrink", "--strength", "2"])
    assert result.exit_code == 2 and "strength must be a finite number at least 0 and at most 1" in result.output


def test_every_restorer_option_is_a_flag():
    from flows import cli

    help_text = CliRunner().invoke(cli.app, ["restore", "--help"], env={"COLUMNS": "200"}).output
    for entry in REGISTRY.entries(kind=("inpaint", "denoise", "upscale")):
        for option in entry.options:
            assert "--" + option.replace("_", "-") in help_text, option  # fsr --quality, exemplar --patch-size/--search-radius


def test_the_benchmark_plan_puts_each_detector_on_the_damage_it_finds(tmp_path):
    from flows.benchmark import CLEAN, plan_benchmark
    from flows.restore_archive import DEFAULT_INPAINTER

    everything = set(REGISTRY.names(kind="detect", available_only=True))
    plan = plan_benchmark(tmp_path, damage=["holes", "scratches", "gaussian"], methods=["telea", "biharmonic", "nlm"])
    looked = {}
    for group in plan.detects:
        looked.setdefault(group.damage, set()).add(group.detector)
    assert looked[CLEAN] == everything and "gaussian" not in looked
    assert "detect-holes" in looked["holes"] and "detect-holes" not in looked["scratches"]
    assert "detect-scratches" in looked["scratches"] and "detect-scratches" not in looked["holes"]
    assert {"detect-classical", "detect-unet"} <= looked["holes"] & looked["scratches"]  # they find every kind
    # restore-archive's inpainter restores from the detected masks too; others only when named
    from_detected = {(g.damage, g.method) for g in plan.restores if g.detector}
    assert from_detected == {("holes", f"{DEFAULT_INPAINTER}+detect-classical"), ("scratches", f"{DEFAULT_INPAINTER}+detect-classical")}
    named = plan_benchmark(tmp_path, damage=["holes"], methods=["telea", "biharmonic"], detect_inpaint=["biharmonic"])
    assert {g.method for g in named.restores if g.detector} == {"biharmonic+detect-classical"}
    assert not [g for g in plan_benchmark(tmp_path, damage=["holes"], methods=["telea"], detect_inpaint=[]).restores if g.detector]
    assert not plan_benchmark(tmp_path, damage=["holes"], methods=["telea"], detectors=[]).detects


def test_the_default_benchmark_runs_every_available_restorer_and_scores_upscalers_at_the_modcrop_size(tmp_path):
    """What `demo` and `benchmark` with no --damage run: every restorer of every kind (upscalers need the downscale damage)."""
    from flows.benchmark import plan_benchmark
    from restoration.registry import RESTORER_KINDS

    plan = plan_benchmark(tmp_path, damage=None, methods=None)
    assert {g.method for g in plan.restores} >= set(REGISTRY.names(kind=RESTORER_KINDS, available_only=True))
    upscaled = [g for g in plan.scores if g.damage == "downscale"]
    assert upscaled and all(g.modcrop == 2 and not g.in_hole for g in upscaled)
    assert all(g.modcrop == 1 for g in plan.scores if g.damage != "downscale")
