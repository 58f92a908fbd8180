import numpy as np
import pytest

from restoration.metrics import hole_psnr, hole_ssim, psnr, ssim


def test_psnr_matches_hand_computed_value():
    ref = np.zeros((16, 16), np.uint8)
    test = np.full((16, 16), 10, np.uint8)
    # MSE = 100 -> 10 log10(255^2 / 100)
    assert psnr(ref, test, data_range=255) == pytest.approx(28.1308036, abs=1e-6)
    assert psnr(ref, ref, data_range=255) == float("inf")


def test_psnr_uses_the_native_data_range():
    ref = np.zeros((8, 8), np.uint16)
    test = np.full((8, 8), 257, np.uint16)
    assert psnr(ref, test, data_range=65535) == pytest.approx(20 * np.log10(65535 / 257))


def test_hole_psnr_counts_only_masked_pixels():
    ref = np.zeros((10, 10), np.uint8)
    test = ref.copy()
    test[:5] = 20  # error only in the top half
    mask = np.zeros((10, 10), bool)
    mask[:5, :5] = True
    assert hole_psnr(ref, test, mask, data_range=255) == pytest.approx(10 * np.log10(255**2 / 400))
    mask_clean = np.zeros((10, 10), bool)
    mask_clean[7:, :] = True
    assert hole_psnr(ref, test, mask_clean, data_range=255) == float("inf")
    assert np.isnan(hole_psnr(ref, test, np.zeros((10, 10), bool), data_range=255))


def test_ssim_of_constant_images_matches_the_formula():
    a = np.full((32, 32), 100.0)
    b = np.full((32, 32), 110.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)  # contrast/structure terms are 1
    assert ssim(a, b, data_range=255) == pytest.approx(expected, rel=1e-9)
    assert hole_ssim(a, b, np.ones((32, 32), bool), data_range=255) == pytest.approx(expected, rel=1e-9)
    assert ssim(a, a, data_range=255) == pytest.approx(1.0)


def test_ssim_rgb_and_tiny_images(astronaut):
    assert ssim(astronaut, astronaut, data_range=255) == pytest.approx(1.0)
    assert np.isnan(ssim(np.zeros((2, 5)), np.zeros((2, 5)), data_range=1))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)), data_range=1)
