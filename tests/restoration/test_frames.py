"""restore_frame: tiny frames, huge frames in tiles, non-finite pixels, alpha, and the shape contract."""

from __future__ import annotations

import numpy as np
import pytest

import restoration.frames as frames
from restoration.frames import restore_frame
from restoration.metrics import psnr
from restoration.registry import REGISTRY, RESTORER_KINDS

RESTORERS = REGISTRY.names(kind=RESTORER_KINDS, available_only=True)


def _run(name: str, frame: np.ndarray, mask: np.ndarray | None = None, **options) -> np.ndarray:
    entry = REGISTRY.get(name)
    if entry.kind == "inpaint" and mask is None:
        mask = np.zeros(frame.shape[:2], bool)
        mask[frame.shape[0] // 2, frame.shape[1] // 2] = True
    return restore_frame(entry, frame, mask=mask, options=options)


@pytest.mark.parametrize("name", RESTORERS)
@pytest.mark.parametrize("shape", [(64, 1), (1, 48), (1, 1), (5, 3, 3)])
def test_every_restorer_handles_tiny_frames(name, shape, camera):
    # nlm and bilateral raised IndexError on 1-pixel-wide images, and the batch was retried twice.
    frame = np.resize(camera, shape).astype(np.uint8)
    if shape == (1, 1) and REGISTRY.get(name).kind == "inpaint":
        # Its one pixel is damaged: every inpainter refuses it with the same reason.
        with pytest.raises(ValueError, match="nothing known to fill from"):
            _run(name, frame)
        return
    out = _run(name, frame)
    scale = out.shape[0] // shape[0]
    assert out.dtype == frame.dtype and out.shape == (shape[0] * scale, shape[1] * scale) + shape[2:]


@pytest.mark.parametrize(
    "name,options,min_db",
    # Local methods with their context as margin: identical. A global transform (wavelets): seams well under a grey level.
    [("nlm", {"sigma": 20.0}, np.inf), ("telea", {}, np.inf), ("bicubic", {}, np.inf), ("wavelet", {"sigma": 20.0}, 40.0)],
)
def test_a_huge_frame_is_restored_in_tiles_like_a_whole_one(name, options, min_db, camera, monkeypatch):
    rng = np.random.default_rng(0)
    image = np.tile(camera, (2, 2)).astype(np.float64)
    noisy = np.clip(image + rng.normal(0, 20, image.shape), 0, 255).astype(np.uint8)
    mask = np.zeros(image.shape, bool)
    for y, x in rng.integers(8, 240, size=(20, 2)):
        mask[y : y + 6, x : x + 9] = True
    whole = _run(name, noisy, mask if name == "telea" else None, **options)
    monkeypatch.setattr(frames, "WHOLE_FRAME_PIXELS", 64 * 64)
    monkeypatch.setattr(frames, "TILE", 64)
    monkeypatch.setattr(frames, "MIN_CORE", 16)
    tiled = _run(name, noisy, mask if name == "telea" else None, **options)
    assert tiled.shape == whole.shape
    assert psnr(whole, tiled, data_range=255) >= min_db
    if name == "telea":
        np.testing.assert_array_equal(tiled[~mask], noisy[~mask])  # tiles without damage stay exactly as they were


def test_tiled_denoising_estimates_sigma_once_for_the_frame(camera, monkeypatch):
    rng = np.random.default_rng(1)
    noisy = np.clip(np.tile(camera, (2, 2)) + rng.normal(0, 15, (256, 256)), 0, 255).astype(np.uint8)
    seen = []
    entry = REGISTRY.get("tv")
    calls = type(entry)(**{**entry.__dict__, "func": lambda image, *, sigma=None: seen.append(sigma) or image})
    monkeypatch.setattr(frames, "WHOLE_FRAME_PIXELS", 64 * 64)
    monkeypatch.setattr(frames, "TILE", 64)
    monkeypatch.setattr(frames, "MIN_CORE", 16)
    restore_frame(calls, noisy, options={})
    assert len(seen) == 16 and len(set(seen)) == 1 and 10 < seen[0] < 20


def test_a_hole_wider_than_a_tile_and_its_margin_is_still_filled(camera, monkeypatch):
    mask = np.zeros(camera.shape, bool)
    mask[20:110, 20:110] = True
    monkeypatch.setattr(frames, "WHOLE_FRAME_PIXELS", 32 * 32)
    monkeypatch.setattr(frames, "TILE", 32)
    monkeypatch.setattr(frames, "MIN_CORE", 16)
    damaged = np.where(mask, 0, camera).astype(np.uint8)
    out = _run("telea", damaged, mask)
    assert out[mask].min() > 0 and np.array_equal(out[~mask], camera[~mask])


def test_non_finite_pixels_keep_their_place(camera):
    frame = camera.astype(np.float32)
    frame[5:9, 5:9] = np.nan
    frame[60, 60] = -np.inf
    for name in ("nlm", "bicubic"):
        out = _run(name, frame, sigma=10.0) if name == "nlm" else _run(name, frame)
        scale = out.shape[0] // frame.shape[0]
        expected = np.repeat(np.repeat(np.isnan(frame), scale, 0), scale, 1)
        np.testing.assert_array_equal(np.isnan(out), expected)
        assert np.isfinite(out[~np.repeat(np.repeat(~np.isfinite(frame), scale, 0), scale, 1)]).all()


def test_denoisers_leave_alpha_alone_and_inpainters_fill_it(astronaut):
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 200, np.uint8)])
    out = _run("nlm", rgba, sigma=15.0)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    entry = REGISTRY.get("biharmonic")
    mask = np.zeros(rgba.shape[:2], bool)
    mask[40:50, 40:50] = True
    damaged = rgba.copy()
    damaged[mask] = 0
    filled = restore_frame(entry, damaged, mask=mask, options={}, alpha=True)
    assert filled[mask][:, 3].min() > 150


def test_a_method_returning_the_wrong_shape_is_an_error(camera):
    entry = REGISTRY.get("tv")
    broken = type(entry)(**{**entry.__dict__, "func": lambda image, **_: image[:, 0]})
    with pytest.raises(ValueError, match="returned an array of shape"):
        restore_frame(broken, camera, options={})


def test_an_inpainter_never_gets_more_damage_than_the_budget_in_one_call(camera, monkeypatch):
    monkeypatch.setattr(frames, "HOLE_BUDGET", 1500)
    monkeypatch.setattr(frames, "MIN_CORE", 16)
    mask = np.zeros(camera.shape, bool)
    for y in (10, 30, 50, 70, 90):  # 3840 damaged pixels in scratches, in a frame small enough to be given whole otherwise
        mask[y : y + 6] = True
    entry = REGISTRY.get("biharmonic")
    seen = []
    counting = type(entry)(**{**entry.__dict__, "func": lambda image, hole: seen.append(int(hole.sum())) or entry.func(image, hole)})
    out = restore_frame(counting, np.where(mask, 0, camera).astype(np.uint8), mask=mask, options={})
    assert len(seen) > 1 and max(seen) <= 1500
    assert out[mask].min() > 0 and np.array_equal(out[~mask], camera[~mask])


@pytest.mark.parametrize("name", REGISTRY.names(kind=("denoise",), available_only=True))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_flat_frame_stays_flat_when_sigma_is_estimated(name, dtype):
    # scikit-image's estimator answers NaN on a flat image; cnn-denoise turned a flat 8-bit frame of 100 into 0.
    value = {np.uint8: 100, np.uint16: 30000, np.float32: 0.4}[dtype]
    frame = np.full((40, 40), value, dtype)
    out = _run(name, frame)
    span = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    assert np.isfinite(out.astype(np.float64)).all()
    assert np.abs(out.astype(np.float64) - value).max() <= 0.03 * span
