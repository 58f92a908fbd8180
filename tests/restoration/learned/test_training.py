"""The training loop: losses fall, resume is exact, checkpoints are safe, cards are complete."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from restoration.learned.catalog import ModelFileError
from restoration.learned.data import load_training_images
from restoration.learned.modelfiles import load_model
from restoration.learned.recipes import recipe_for
from restoration.learned.training import TrainingSettings, train_model
from tests.restoration.learned.conftest import ARCHS

pytestmark = pytest.mark.slow  # a real server, a killed process or network training: see pyproject's markers


def settings(task: str, **changes) -> TrainingSettings:
    base = dict(task=task, steps=40, batch_size=4, patch=32, lr=2e-3, warmup=2, checkpoint_every=1000, validate_every=1000, architecture=ARCHS[task][1])
    if task == "sr":
        base["architecture"] = {"width": 16, "blocks": 2}
    if task == "inpaint":
        base["architecture"] = {"width": 8}
    return TrainingSettings(**{**base, **changes})


@pytest.mark.parametrize("task", ["denoise", "sr", "inpaint", "vae", "detect"])
def test_loss_falls(task, tiny_data, tmp_path):
    card = train_model(settings(task), tiny_data, tmp_path / task, command="pytest")
    import pandas as pd

    history = pd.read_csv(tmp_path / task / "history.csv")
    key = "l1_hole" if task == "inpaint" else "loss"
    first, last = history[key][:8].mean(), history[key][-8:].mean()
    assert last < first, (task, first, last)
    # and the held-back crops say the same: the trained network beats the untrained one
    score = {"inpaint": "hole_psnr", "vae": "hole_psnr", "detect": "f1"}.get(task, "psnr")
    start, end = card["validation_history"][0], card["validation_history"][-1]
    assert (start["step"], end["step"]) == (0, 40)
    if task == "detect":  # 40 tiny steps lower the loss; the F1 at the best threshold needs more (the shipped model's card shows it)
        from restoration.learned.recipes import THRESHOLDS

        assert card["decision_threshold"] == end["threshold"] in THRESHOLDS and 0 <= end[score] <= 1
    else:
        assert end[score] > start[score], (task, start, end)
    assert card["training"]["steps_done"] == 40 and card["training"]["complete"]
    if task == "inpaint":  # the generator corrects the biharmonic fill, and step 0 scored that fill
        assert card["architecture"]["options"]["start"] == "biharmonic"
    assert (tmp_path / task / "loss.png").stat().st_size > 1000
    net, loaded = load_model(tmp_path / task, task=task)
    assert loaded["weights_sha256"] == card["weights_sha256"]


def test_self_supervised_denoise_learns_from_noisy_images_alone(tiny_data, tmp_path):
    """Blind-spot training on noisy images only: the loss at the hidden pixels falls on a fixed batch."""
    from restoration.learned.data import load_training_images
    from tests.conftest import write_png

    rng = np.random.default_rng(0)
    for image in load_training_images(tiny_data)[0]:
        noisy = np.clip(image.plane * 255 + rng.normal(0, 25, image.plane.shape), 0, 255).astype(np.uint8)
        write_png(tmp_path / "noisy" / image.rel, noisy)
    s = settings("denoise", self_supervised=True, steps=60)
    recipe = recipe_for("denoise")
    images = load_training_images(tmp_path / "noisy")[0]
    fixed = {
        k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in recipe.batch(images, seed=9, step=0, batch_size=16, patch=32, self_supervised=True).items()
    }
    fixed = {k: v.unsqueeze(1) if v.ndim == 3 else v for k, v in fixed.items()}

    def hidden_pixel_loss(net):
        with torch.no_grad():
            out = net(fixed["input"], fixed["sigma"])
        return float(((out - fixed["target"]) ** 2 * fixed["weight"]).sum() / fixed["weight"].sum())

    from restoration.learned.networks import build_network

    torch.manual_seed(0)
    untrained = build_network("Denoiser", ARCHS["denoise"][1])
    card = train_model(s, tmp_path / "noisy", tmp_path / "n2v", command="pytest")
    assert card["training"]["settings"]["self_supervised"] is True
    trained, _ = load_model(tmp_path / "n2v")
    assert hidden_pixel_loss(trained) < hidden_pixel_loss(untrained)  # deterministic: seeded batch and weights


def test_self_supervised_inpainting_never_scores_pixels_marked_damaged(tiny_data, tmp_path):
    masks = tmp_path / "masks"
    for rel, shape in [("camera.png", (128, 128)), ("astronaut.png", (96, 96)), ("sub/coins.png", (96, 96))]:
        mask = np.zeros(shape, np.uint8)
        mask[:, ::3] = 255  # every third column damaged
        from tests.conftest import write_png

        write_png(masks / rel, mask)
    images, _ = load_training_images(tiny_data, masks_dir=masks)
    assert all(im.damaged is not None and im.damaged.any() for im in images)
    batch = recipe_for("inpaint").batch(images, seed=0, step=0, batch_size=6, patch=32, self_supervised=True)  # with the biharmonic start
    untrusted = batch["trusted"] == 0
    assert untrusted.any()
    assert np.all(batch["mask"][untrusted] == 1)  # damaged pixels are inputs the net never sees...

    # ...and no loss of the generator scores them: changing the target there leaves its hole loss as it was,
    # while changing a trusted hole pixel does not.
    import contextlib

    import torch

    from restoration.learned.networks import build_network

    recipe = recipe_for("inpaint")

    def hole_loss(target):
        torch.manual_seed(0)
        nets = {name: build_network(arch, opts) for name, (arch, opts) in recipe.networks({"width": 8}).items()}
        optimizers = {name: torch.optim.SGD(net.parameters(), lr=0.0) for name, net in nets.items()}
        tensors = {k: torch.from_numpy(np.asarray(v, np.float32))[:, None] for k, v in {**batch, "target": target}.items()}
        return recipe.step(nets, optimizers, tensors, autocast=contextlib.nullcontext, generator=torch.Generator().manual_seed(0))["l1_hole"]

    base = hole_loss(batch["target"])
    assert hole_loss(np.where(untrusted, 1.0 - batch["target"], batch["target"])) == pytest.approx(base, abs=1e-7)
    scored = (batch["mask"] == 1) & ~untrusted
    assert hole_loss(np.where(scored, 1.0 - batch["target"], batch["target"])) != pytest.approx(base, abs=1e-4)


def test_resume_reproduces_the_uninterrupted_run(tiny_data, tmp_path):
    s = settings("inpaint", steps=8, checkpoint_every=4)
    straight = train_model(s, tiny_data, tmp_path / "straight", command="pytest")

    class Killed(Exception):
        pass

    def kill_at_5(state, _):
        if state.step == 5:
            raise Killed

    with pytest.raises(Killed):
        train_model(s, tiny_data, tmp_path / "resumed", command="pytest", progress=kill_at_5, progress_every=1)
    with pytest.raises(ModelFileError, match="--resume"):
        train_model(s, tiny_data, tmp_path / "resumed", command="pytest")
    resumed = train_model(s, tiny_data, tmp_path / "resumed", resume=True, command="pytest")
    a = torch.load(tmp_path / "straight" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert straight["training"]["final_loss"] == resumed["training"]["final_loss"]
    import pandas as pd

    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "straight" / "history.csv"), pd.read_csv(tmp_path / "resumed" / "history.csv"))


def test_resume_refuses_changed_settings(tiny_data, tmp_path):
    train_model(settings("vae", steps=2), tiny_data, tmp_path / "m", command="pytest")
    with pytest.raises(ModelFileError, match="batch_size"):
        train_model(settings("vae", steps=4, batch_size=2), tiny_data, tmp_path / "m", resume=True, command="pytest")


def test_checkpoints_that_are_not_plain_state_dicts_are_refused(tiny_data, tmp_path, model_dirs):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(model_dirs["denoise"], bad)
    torch.save(torch.nn.Conv2d(1, 1, 3), bad / "weights.pt")  # a pickled module, not a state dict
    with pytest.raises(ModelFileError, match="weights.pt"):
        load_model(bad)
    torch.save({"conv": [1, 2, 3]}, bad / "weights.pt")  # loads safely but is no state dict
    with pytest.raises(ModelFileError, match="plain state dict"):
        load_model(bad)
    (tmp_path / "ckpt").mkdir()
    torch.save(torch.nn.Linear(2, 2), tmp_path / "ckpt" / "checkpoint.pt")
    with pytest.raises(ModelFileError, match="checkpoint.pt"):
        train_model(settings("denoise", steps=2), tiny_data, tmp_path / "ckpt", resume=True, command="pytest")
    with pytest.raises(ModelFileError, match="not a 'sr' model"):
        load_model(model_dirs["denoise"], task="sr")


def test_model_card_records_how_the_model_was_made(tiny_data, tmp_path):
    card = train_model(settings("sr", steps=3), tiny_data, tmp_path / "sr", command="archive-restore train --task sr")
    on_disk = json.loads((tmp_path / "sr" / "model.json").read_text())
    assert on_disk == card
    assert card["task"] == "sr" and card["restorer"] == "cnn-sr"
    assert card["architecture"] == {"name": "SuperResolver", "options": {"scale": 2, "width": 16, "blocks": 2}}
    assert card["training"]["command"] == "archive-restore train --task sr"
    assert len(card["data"]["manifest_sha256"]) == 64 and card["data"]["files"] == 3
    assert card["data"]["validation_held_out"] is False  # three files: validation on training images, and it says so
    assert {"torch", "numpy", "archive-restoration", "python"} <= set(card["versions"])
    assert {"psnr", "ssim"} <= set(card["validation"])
    assert card["parameters"] == sum(p.numel() for p in load_model(tmp_path / "sr")[0].parameters())


def test_several_data_folders_train_as_one_set_and_the_card_names_them_and_their_licence(tiny_data, tmp_path, camera):
    from tests.conftest import write_png

    other = tmp_path / "other"
    write_png(other / "camera.png", 255 - camera[:128, :128])  # same name as in tiny_data, other pixels
    card = train_model(settings("denoise", steps=2), [tiny_data, other], tmp_path / "m", data_licence="CC0 test images", command="pytest")
    assert card["data"]["root"] == [str(tiny_data), str(other)]
    assert card["data"]["licence"] == "CC0 test images"
    assert card["data"]["files"] == 4
    from restoration.learned.data import load_training_sources

    images, manifest = load_training_sources([tiny_data, other])
    assert sorted(row["path"] for row in manifest) == sorted(
        [f"{tiny_data.name}/camera.png", f"{tiny_data.name}/astronaut.png", f"{tiny_data.name}/sub/coins.png", "other/camera.png"]
    )
    assert len({im.rel for im in images}) == 4
    with pytest.raises(ValueError, match="single training folder"):
        load_training_sources([tiny_data, other], masks_dir=tmp_path)


def test_vae_writes_samples(tiny_data, tmp_path):
    train_model(settings("vae", steps=2), tiny_data, tmp_path / "vae", command="pytest")
    import cv2

    samples = cv2.imread(str(tmp_path / "vae" / "samples.png"), cv2.IMREAD_GRAYSCALE)
    assert samples.shape == (4 * 66, 4 * 66) and samples.std() > 0


def test_unreadable_training_files_are_skipped_with_a_reason(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    images, manifest = load_training_images(data)
    assert len(images) == 3
    row = next(r for r in manifest if r["path"] == "broken.png")
    assert row["frames"] == 0 and "broken.png" in row["skipped"]


def test_a_missing_data_folder_is_named_with_the_command_that_makes_it(tmp_path):
    with pytest.raises(ValueError, match=r"train-images: no such folder of training images \(`archive-restore package-images .*train-images`"):
        train_model(settings("denoise", steps=2), tmp_path / "train-images", tmp_path / "m", command="pytest")
    assert not (tmp_path / "m").exists()


def test_a_run_shorter_than_its_warm_up_says_so(tiny_data, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="restoration.learned.training"):
        train_model(settings("denoise", steps=2), tiny_data, tmp_path / "m", command="pytest")
    assert "warm-up (2 steps) is at least as long as the run (2 steps)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="restoration.learned.training"):
        train_model(settings("denoise", steps=3, warmup=1), tiny_data, tmp_path / "m2", command="pytest")
    assert "warm-up" not in caplog.text


def test_the_train_flow_takes_each_setting_as_its_own_parameter_with_the_settings_defaults():
    """The UI's form and `-p steps=5` set training parameters one by one; their defaults are TrainingSettings'."""
    import dataclasses
    import inspect

    from flows.train import train_flow
    from restoration.learned.training import TrainingSettings

    parameters = inspect.signature(train_flow.fn).parameters
    fields = {f.name: f.default for f in dataclasses.fields(TrainingSettings)}
    shared = set(parameters) & set(fields)
    assert {"task", "steps", "batch_size", "patch", "lr", "seed", "scale", "device", "checkpoint_every", "validate_every"} <= shared
    assert all(parameters[name].default == fields[name] for name in shared - {"task"})
    train_flow.validate_parameters({"data": "train-images", "output": "m", "steps": 5})  # what `-p steps=5` sends
