"""Model directories are data, never a way out: confined weights, sized architectures, the loaded bytes hashed."""

from __future__ import annotations

import json
import shutil

import pytest

from restoration.learned.catalog import ModelFileError, default_model_dir
from restoration.learned.modelfiles import load_model


@pytest.fixture()
def model(tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(default_model_dir("cnn-denoise"), directory)
    return directory


def _edit_card(directory, **changes):
    card = json.loads((directory / "model.json").read_text())
    card.update(changes)
    (directory / "model.json").write_text(json.dumps(card))
    return card


@pytest.mark.parametrize("weights", ["../outside.pt", "/etc/passwd", "sub/../../outside.pt"])
def test_a_card_naming_weights_outside_its_folder_is_refused(model, weights):
    shutil.copyfile(model / "weights.pt", model.parent / "outside.pt")
    _edit_card(model, weights=weights)
    with pytest.raises(ModelFileError, match="leaves the model directory"):
        load_model(model, task="denoise")


def test_a_link_leading_out_of_the_folder_is_refused(model):
    shutil.move(model / "weights.pt", model.parent / "elsewhere.pt")
    (model / "weights.pt").symlink_to(model.parent / "elsewhere.pt")
    with pytest.raises(ModelFileError, match="leaves the model directory"):
        load_model(model, task="denoise")


def test_an_architecture_too_big_to_allocate_is_refused_before_allocating(model):
    card = json.loads((model / "model.json").read_text())
    _edit_card(model, architecture={**card["architecture"], "options": {**card["architecture"]["options"], "width": 60000}})
    with pytest.raises(ModelFileError, match="parameters, above the limit"):
        load_model(model, task="denoise")  # would ask for ~129 GB


def test_a_card_with_nonsense_options_is_refused(model):
    _edit_card(model, architecture={"name": "Denoiser", "options": {"width": "wide"}})
    with pytest.raises(ModelFileError, match="bad architecture"):
        load_model(model, task="denoise")


def test_the_hash_of_the_loaded_bytes_is_reported(model):
    from restoration.io import file_sha256

    _, card = load_model(model, task="denoise")
    assert card["loaded_sha256"] == file_sha256(model / "weights.pt")


def test_weights_swapped_during_a_run_fail_the_file(model, tmp_path, camera):
    import torch

    from restoration.pipeline import FileStepError, restore_file, restore_settings
    from tests.conftest import write_png

    src = write_png(tmp_path / "c.png", camera)
    options = {"model": str(model), "sigma": 10.0}
    settings = restore_settings("cnn-denoise", options)
    state = torch.load(model / "weights.pt", weights_only=True)
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = state[first] * 1.01
    torch.save(state, model / "weights.pt")  # replaced after the run planned its keys
    with pytest.raises(FileStepError, match="weights changed during the run"):
        restore_file(src, tmp_path / "o.png", rel="c.png", method="cnn-denoise", mask_path=None, options=options, model_sha256=settings.model_sha256)
    assert not (tmp_path / "o.png").exists()
