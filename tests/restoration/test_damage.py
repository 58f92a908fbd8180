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
