"""The shipped default models: small, documented, made by our own train command, and better than the damage."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.damage.simulate import simulate_downscale, simulate_holes, simulate_tears
from restoration.learned.catalog import DEFAULT_MODELS
from restoration.learned.modelfiles import load_model
from restoration.metrics import hole_psnr, psnr
from restoration.registry import REGISTRY

SHIPPED = {"cnn-denoise": "denoise", "cnn-sr-x2": "sr", "cnn-sr-x4": "sr", "gan-inpaint": "inpaint", "vae": "vae", "detect-unet": "detect"}


def test_every_default_model_is_shipped_small_and_documented():
    total = 0
    for name, task in SHIPPED.items():
        directory = DEFAULT_MODELS / name
        net, card = load_model(directory, task=task)
        total += sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
        assert not (directory / "checkpoint.pt").exists()  # resumable state is not shipped
        training = card["training"]
        assert training["complete"] and training["steps_done"] == training["settings"]["steps"]
        assert training["command"].startswith("archive-restore train ") and "--data train-images" in training["command"]
        roots = card["data"]["root"] if isinstance(card["data"]["root"], list) else [card["data"]["root"]]
        assert "train-images" in roots and not any("benchmarks" in root for root in roots), roots  # never trained on the benchmark sets
        assert card["data"]["validation_held_out"] and len(card["data"]["manifest_sha256"]) == 64
        licence = card["data"]["licence"]  # the model card names the data's origin and terms
        assert "scikit-image" in licence and ("non-commercial" in licence) == any("Train400" in root for root in roots), (name, licence)
        assert card["weights_dtype"] == "float16"
        assert card["validation"] is not None
    assert total < 20e6  # the budget for all default models together


def test_training_and_held_out_images_share_nothing_and_avoid_the_demo():
    from restoration.learned.package_images import HELD_OUT_SKIMAGE, TRAINING_SKIMAGE

    assert not set(TRAINING_SKIMAGE) & set(HELD_OUT_SKIMAGE)
    assert {"camera", "astronaut", "coins", "moon", "page", "text", "clock"} <= set(HELD_OUT_SKIMAGE)


def test_default_cnn_denoise_beats_nlm_on_a_held_out_photo(camera):
    rng = np.random.default_rng(0)
    noisy = np.clip(camera + rng.normal(0, 25, camera.shape), 0, 255).astype(np.uint8)
    ours = REGISTRY.get("cnn-denoise").func(noisy, sigma=25)
    nlm = REGISTRY.get("nlm").func(noisy, sigma=25)
    blind = REGISTRY.get("cnn-denoise").func(noisy)  # sigma estimated
    p = {name: psnr(camera, out, data_range=255) for name, out in [("noisy", noisy), ("ours", ours), ("nlm", nlm), ("blind", blind)]}
    assert p["ours"] > p["nlm"] > p["noisy"] + 5, p
    assert p["blind"] > p["noisy"] + 5, p


@pytest.mark.parametrize("scale", [2, 4])
def test_default_cnn_sr_beats_bicubic(scale, camera):
    small, _ = simulate_downscale(camera, scale=scale)
    ours = REGISTRY.get("cnn-sr").func(small, scale=scale)
    bicubic = REGISTRY.get("bicubic").func(small, scale=scale)
    b = scale
    assert psnr(camera[b:-b, b:-b], ours[b:-b, b:-b], data_range=255) > psnr(camera[b:-b, b:-b], bicubic[b:-b, b:-b], data_range=255) + 0.3


@pytest.mark.parametrize("method", ["gan-inpaint", "vae-inpaint"])
def test_default_inpainters_fill_holes_better_than_leaving_them(method, camera):
    damaged, mask = simulate_holes(camera, ratio=(0.3, 0.4), rng=5)
    out = REGISTRY.get(method).func(damaged, mask)
    assert hole_psnr(camera, out, mask, data_range=255) > hole_psnr(camera, damaged, mask, data_range=255) + 6
    assert np.array_equal(out[~mask], camera[~mask])


def test_default_gan_inpaint_is_never_worse_than_the_biharmonic_fill_it_corrects(camera):
    """Issue 12's floor: the shipped generator starts from biharmonic, and training (adversarial terms included) did not cost hole PSNR."""
    from restoration.learned.catalog import read_card

    card = read_card(DEFAULT_MODELS / "gan-inpaint")
    assert card["architecture"]["options"]["start"] == "biharmonic"
    history = card["validation_history"]
    assert history[0]["step"] == 0 and history[-1]["hole_psnr"] >= history[0]["hole_psnr"], history  # step 0 is the biharmonic fill
    damaged, mask = simulate_holes(camera, ratio=(0.2, 0.3), rng=7)  # a held-out photo
    ours = hole_psnr(camera, REGISTRY.get("gan-inpaint").func(damaged, mask), mask, data_range=255)
    classical = hole_psnr(camera, REGISTRY.get("biharmonic").func(damaged, mask), mask, data_range=255)
    assert ours >= classical - 0.05, (ours, classical)


def test_default_detector_finds_tears_on_a_held_out_photo_and_keeps_its_threshold():
    """The shipped detect-unet (BENCHMARKS.md: below the classical union so far) finds missing pieces on a photo it never saw."""
    import skimage.data

    from restoration.frames import detect_frame
    from restoration.learned.catalog import read_card
    from restoration.learned.recipes import THRESHOLDS
    from restoration.metrics import detection_scores

    card = read_card(DEFAULT_MODELS / "detect-unet")
    assert card["decision_threshold"] in THRESHOLDS and card["validation"]["f1"] > 0.6
    photo = skimage.data.camera()
    damaged, truth = simulate_tears(photo, rng=1)
    found = detect_frame(REGISTRY.get("detect-unet"), damaged)
    assert detection_scores(truth, found.mask)["f1"] > 0.7
    assert detect_frame(REGISTRY.get("detect-unet"), photo).mask.mean() < found.mask.mean() / 2
