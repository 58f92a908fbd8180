"""Learned restorers through the registry: tiling, exact known pixels, bit depth, formats."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restoration.learned.inference import _spans, run_tiled
from restoration.learned.restorers import inpaint_gan, inpaint_vae
from restoration.pipeline import restore_file
from restoration.registry import REGISTRY


def holes(shape, seed=0):
    from restoration.damage.simulate import simulate_holes

    return simulate_holes(np.zeros(shape, np.uint8), ratio=(0.2, 0.3), rng=seed)[1]


@pytest.mark.parametrize("method", ["cnn-denoise", "cnn-sr", "gan-inpaint", "vae-inpaint"])
def test_tiled_equals_untiled_within_tolerance(method, camera):
    """With the shipped (trained) models: seams from tiling stay within a grey level or two."""
    entry = REGISTRY.get(method)
    image = np.ascontiguousarray(np.vstack([camera, camera[:40]])[:, :120])  # 168 x 120: not a tile multiple
    if entry.kind == "denoise":  # a good denoiser leaves a clean image almost alone: give it noise to remove
        image = np.clip(image + np.random.default_rng(0).normal(0, 15, image.shape), 0, 255).astype(np.uint8)
    args = (image, holes(image.shape)) if entry.kind == "inpaint" else (image,)
    opts = {}
    whole = entry.func(*args, **opts, tile=512).astype(float)
    tiled = entry.func(*args, **opts, tile=64).astype(float)
    assert whole.shape == tiled.shape
    # The network did something: its output is neither the input nor plain bicubic interpolation.
    plain = args[0] if entry.kind != "upscale" else cv2.resize(image, whole.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    assert np.abs(whole - plain.astype(float)).mean() > 0.1
    diff = np.abs(whole - tiled)
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 3, (diff.mean(), diff.max())


def test_run_tiled_is_exact_for_a_pointwise_function():
    x = torch.rand(1, 1, 77, 131)
    out = run_tiled(lambda t: t * 2 + 1, [x], tile=32, overlap=8, multiple=8)
    assert torch.allclose(out, x * 2 + 1, atol=1e-6)
    up = run_tiled(lambda t: torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest"), [x], tile=32, overlap=8, scale=2)
    assert up.shape == (1, 1, 154, 262) and torch.allclose(up[..., ::2, ::2], x, atol=1e-6)


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "multiple"), [(1056, 512, 32, 2), (1056, 256, 32, 2), (168, 64, 32, 8), (517, 128, 16, 1), (600, 512, 32, 8)]
)
@pytest.mark.parametrize("shrink", [True, False])
def test_tiles_cover_the_image_overlap_and_stay_on_the_grid(length, tile, overlap, multiple, shrink):
    size, starts = _spans(length, tile, overlap, multiple, shrink=shrink)
    assert size <= tile and size % multiple == 0 and all(s % multiple == 0 for s in starts)
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(overlap <= a + size - b for a, b in zip(starts, starts[1:]))
    fixed_stride = len(range(0, length - tile, tile - overlap)) + 1  # the old layout: a tile every tile - overlap pixels
    assert len(starts) <= fixed_stride
    if shrink:  # no larger than the count needs: each tile adds its overlap (and grid rounding) to the image, no more
        assert size * len(starts) <= length + len(starts) * (overlap + 2 * multiple)


@pytest.mark.parametrize("inpaint", [inpaint_gan, inpaint_vae])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_inpainting_keeps_every_known_pixel_exactly(inpaint, dtype, model_dirs, camera, astronaut):
    model = model_dirs["inpaint" if inpaint is inpaint_gan else "vae"]
    for image in (camera.astype(dtype) * (257 if dtype == np.uint16 else 1), astronaut.astype(dtype)):
        mask = holes(image.shape[:2], seed=3)
        out = inpaint(image, mask, model=model, tile=64)
        assert out.dtype == image.dtype and out.shape == image.shape
        known = ~mask if image.ndim == 2 else np.repeat(~mask[..., None], image.shape[2], axis=2)
        assert np.array_equal(out[known], image[known])
        assert not np.array_equal(out[~known], image[~known])


def test_sixteen_bit_in_sixteen_bit_out_and_dicom_stays_dicom(tmp_path, model_dirs):
    import pydicom
    from pydicom.data import get_testdata_file

    src = get_testdata_file("CT_small.dcm")
    out = restore_file(src, tmp_path / "ct.dcm", rel="ct.dcm", method="cnn-denoise", mask_path=None, options={"model": str(model_dirs["denoise"]), "sigma": 10})
    before, after = pydicom.dcmread(src), pydicom.dcmread(out["output"])
    assert after.pixel_array.dtype == before.pixel_array.dtype and after.Modality == "CT"
    assert after.SOPInstanceUID != before.SOPInstanceUID and after.StudyInstanceUID == before.StudyInstanceUID
    big = restore_file(src, tmp_path / "ct-x2.dcm", rel="ct.dcm", method="cnn-sr", mask_path=None, options={"model": str(model_dirs["sr"]), "scale": 2})
    assert pydicom.dcmread(big["output"]).pixel_array.shape == (256, 256)


def test_unknown_or_wrong_models_are_clear_errors(tmp_path, model_dirs, camera):
    from restoration.learned.restorers import denoise_cnn, upscale_cnn

    with pytest.raises(ValueError, match="model.json"):
        denoise_cnn(camera, model=tmp_path)
    with pytest.raises(ValueError, match="not a 'denoise' model"):
        denoise_cnn(camera, model=model_dirs["sr"])
    with pytest.raises(ValueError, match="upscales by 2, not 4"):
        upscale_cnn(camera, scale=4, model=model_dirs["sr"])
    with pytest.raises(ValueError, match="does not take"):
        REGISTRY.get("gan-inpaint").check_options({"sigma": 3})


def test_learned_detector_keeps_shape_depth_and_its_threshold(model_dirs, camera, astronaut):
    from restoration.frames import detect_frame
    from restoration.registry import REGISTRY

    entry = REGISTRY.get("detect-unet", kind="detect")
    model = str(model_dirs["detect"])
    for image in (camera, camera.astype(np.uint16) * 257, astronaut, camera[:20, :37]):
        found = detect_frame(entry, image, options={"model": model})
        assert found.mask.shape == image.shape[:2] and found.mask.dtype == bool and found.confidence.dtype == np.float32
        assert 0 <= found.confidence.min() and found.confidence.max() <= 1
    eight = detect_frame(entry, camera, options={"model": model})
    sixteen = detect_frame(entry, camera.astype(np.uint16) * 257, options={"model": model})
    np.testing.assert_allclose(eight.confidence, sixteen.confidence, atol=1e-4)  # the same picture at 16 bits
    low = detect_frame(entry, camera, options={"model": model, "threshold": 1e-6})
    high = detect_frame(entry, camera, options={"model": model, "threshold": 1.0})
    assert low.mask.mean() >= eight.mask.mean() >= high.mask.mean()
    exact = detect_frame(entry, camera, options={"model": model, "threshold": 0.5, "grow": 0})
    np.testing.assert_array_equal(exact.mask, exact.confidence >= 0.5)
    grown = detect_frame(entry, camera, options={"model": model, "threshold": 0.5, "grow": 2})
    assert (grown.mask >= exact.mask).all() and grown.mask.sum() >= exact.mask.sum()


def test_self_ensemble_averages_the_network_over_the_eight_flips_and_turns():
    """A horizontal difference, averaged over the symmetries of the square, is the 4-neighbour Laplacian."""
    from restoration.learned.inference import tiled

    x = torch.rand(1, 1, 37, 53)  # not square: turning swaps height and width
    difference = lambda t: t - torch.roll(t, 1, dims=-1)  # noqa: E731
    plain = tiled(difference, [x], tile=64, overlap=8)
    assert torch.allclose(plain, difference(x), atol=1e-6)
    averaged = tiled(difference, [x], tile=64, overlap=8, self_ensemble=True)
    neighbours = sum(torch.roll(x, shift, dims=dim) for shift in (1, -1) for dim in (-1, -2)) / 4
    assert torch.allclose(averaged, x - neighbours, atol=1e-5)


def test_every_learned_method_offers_self_ensemble_from_its_signature():
    learned = [entry for entry in REGISTRY.entries() if entry.learned is not None]
    assert {e.name for e in learned} >= {"cnn-denoise", "cnn-sr", "gan-inpaint", "vae-inpaint", "detect-unet"}
    for entry in learned:
        assert entry.defaults()["self_ensemble"] is False, entry.name


def test_self_ensemble_denoises_at_least_as_well_with_the_shipped_model(noisy_camera):
    from restoration.learned.restorers import denoise_cnn
    from restoration.metrics import psnr

    clean, noisy = (a[:128, :160] for a in noisy_camera)
    plain = denoise_cnn(noisy, sigma=25)
    averaged = denoise_cnn(noisy, sigma=25, self_ensemble=True)
    assert averaged.dtype == np.uint8 and np.abs(averaged.astype(int) - plain).max() > 0
    assert psnr(clean, averaged, data_range=255) >= psnr(clean, plain, data_range=255) - 0.05


def test_an_untrained_generator_returns_the_biharmonic_fill_it_corrects(tmp_path, camera):
    """The last layer starts at zero: before training, gan-inpaint is the classical fill it starts from."""
    from restoration.learned.modelfiles import write_model
    from restoration.learned.networks import InpaintGenerator
    from restoration.methods.inpaint import inpaint_biharmonic

    torch.manual_seed(0)
    write_model(
        tmp_path / "m",
        InpaintGenerator(width=8, start="biharmonic"),
        {"task": "inpaint", "architecture": {"name": "InpaintGenerator", "options": {"width": 8, "start": "biharmonic"}}},
    )
    image = camera[:96, :112]
    mask = holes(image.shape)
    ours = inpaint_gan(image, mask, model=tmp_path / "m", tile=64)
    classical = inpaint_biharmonic(image, mask)
    assert np.abs(ours.astype(int) - classical).max() <= 1
    with pytest.raises(ValueError, match="start must be one of"):
        InpaintGenerator(width=8, start="telepathy")


def test_threads_sharing_a_freshly_loaded_network_get_the_single_thread_result(monkeypatch):
    """Workers share one cached network: its first calls from several threads at once give what one thread gives (they gave NaN
    while each call converted the weights to channels-last under the others' feet)."""
    import threading

    import skimage.data

    from restoration.learned import modelfiles

    camera = skimage.data.camera()
    images = [camera[: 200 + 10 * k, : 180 + 7 * k] for k in range(4)]
    entry = REGISTRY.get("detect-unet")
    expected = [entry.func(image).confidence for image in images]
    monkeypatch.setattr(modelfiles, "_CACHE", {})  # loaded afresh (not yet prepared) by the threads below
    found: dict[tuple[int, int], np.ndarray] = {}

    def work(k: int) -> None:
        for repeat in range(3):
            found[k, repeat] = entry.func(images[k]).confidence

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 12
    for (k, _), confidence in found.items():
        assert not np.isnan(confidence).any()
        np.testing.assert_allclose(confidence, expected[k], atol=1e-5)
