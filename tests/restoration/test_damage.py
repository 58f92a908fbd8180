import numpy as np
import pytest

from restoration.registry import REGISTRY

LOCAL = ["holes", "scratches", "blotches", "tears", "salt-pepper"]
ALL = REGISTRY.names(kind="damage")


@pytest.mark.parametrize("kind", ALL)
def test_same_seed_same_damage_and_other_seed_differs(kind, camera):
    func = REGISTRY.get(kind).func
    d1, m1 = func(camera, rng=3)
    d2, m2 = func(camera, rng=3)
    np.testing.assert_array_equal(d1, d2)
    np.testing.assert_array_equal(m1, m2)
    assert m1.dtype == bool and m1.shape == camera.shape
    if kind in LOCAL + ["gaussian", "poisson", "speckle"]:
        d3, m3 = func(camera, rng=4)
        assert not np.array_equal(d1, d3) or not np.array_equal(m1, m3)


@pytest.mark.parametrize("kind", ALL)
def test_damage_keeps_dtype_and_channels(kind, astronaut):
    sixteen = astronaut.astype(np.uint16) * 257
    damaged, _ = REGISTRY.get(kind).func(sixteen, rng=0)
    assert damaged.dtype == np.uint16
    assert damaged.ndim == 3 and damaged.shape[2] == 3
    if kind != "downscale":
        assert damaged.shape == sixteen.shape
        assert not np.array_equal(damaged, sixteen)


@pytest.mark.parametrize("kind", ["holes", "scratches", "blotches", "tears"])
def test_hole_ratio_stays_in_the_requested_range(kind, camera):
    for seed in range(4):
        _, mask = REGISTRY.get(kind).func(camera, ratio=(0.2, 0.3), rng=seed)
        assert 0.2 <= mask.mean() <= 0.3


def test_damage_changes_only_masked_pixels(camera):
    for kind in LOCAL:
        damaged, mask = REGISTRY.get(kind).func(camera, rng=1)
        np.testing.assert_array_equal(damaged[~mask], camera[~mask])
        assert (damaged[mask] != camera[mask]).mean() > 0.3


def test_gaussian_sigma_is_on_the_0_255_scale_at_any_bit_depth():
    flat8 = np.full((256, 256), 128, np.uint8)
    flat16 = np.full((256, 256), 128 * 257, np.uint16)
    d8, _ = REGISTRY.get("gaussian").func(flat8, sigma=10, rng=0)
    d16, _ = REGISTRY.get("gaussian").func(flat16, sigma=10, rng=0)
    assert np.std(d8.astype(float)) == pytest.approx(10, rel=0.05)
    assert np.std(d16.astype(float)) == pytest.approx(10 * 257, rel=0.05)


def test_downscale_halves_the_size(camera):
    small, mask = REGISTRY.get("downscale").func(camera, scale=2)
    assert small.shape == (64, 64) and mask.all()


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_upscaler_of_an_odd_sized_downscale_is_scored_at_the_modcrop_size(tmp_path, camera, scale, dtype):
    """A x``scale`` round trip of a 127 x 93 image gives 126 x 92 (x2): scored against the reference cropped the same way, not failed."""
    import cv2

    from restoration.damage.simulate import modcrop
    from restoration.io.images import read_image_file
    from restoration.pipeline import evaluate_file

    image = camera[:127, :93].astype(dtype) * (257 if dtype == np.uint16 else 1)
    small, mask = REGISTRY.get("downscale").func(image, scale=scale)
    assert mask.shape == image.shape and small.shape == (127 // scale, 93 // scale) and small.dtype == dtype
    reference = tmp_path / "ref" / "camera.png"
    reference.parent.mkdir()
    assert cv2.imwrite(str(reference), image)
    for entry in REGISTRY.entries(kind="upscale"):
        if not entry.available or (entry.learned and scale == 3):  # cnn-sr ships x2 and x4 models only
            continue
        big = entry.func(small, scale=scale)
        assert big.shape == modcrop(image, scale).shape, entry.name
        out = tmp_path / entry.name / "camera.png"
        out.parent.mkdir()
        assert cv2.imwrite(str(out), big)
        (row,) = evaluate_file(out, reference, rel="camera.png", modcrop=scale)
        assert row["psnr"] > 20, (entry.name, row)
        with pytest.raises(Exception, match="reference"):  # unscored without it: the shapes differ by the odd pixel
            evaluate_file(out, reference, rel="camera.png")
    assert read_image_file(reference).frames[0].shape == image.shape  # the reference file itself is never cropped
