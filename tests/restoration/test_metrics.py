import numpy as np
import pandas as pd
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


def _wang_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Wang et al.'s SSIM written out: 11x11 Gaussian (sigma 1.5) window, 'valid' filtering, population moments."""
    from scipy.signal import correlate2d

    r = np.arange(11) - 5
    g = np.exp(-(r**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    x, y = x.astype(np.float64), y.astype(np.float64)

    def f(a):
        return correlate2d(a, w, mode="valid")

    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return float((((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean())


def test_ssim_is_wang_et_al_with_the_11x11_gaussian_window():
    from skimage import data

    ref = data.camera()[:96, :128]
    rng = np.random.default_rng(0)
    noisy = np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)
    assert ssim(ref, noisy, data_range=255) == pytest.approx(_wang_ssim(ref, noisy, 255), abs=1e-6)
    assert ssim(ref, ref, data_range=255) == pytest.approx(1.0)
    assert np.isnan(ssim(ref[:10, :10], noisy[:10, :10], data_range=255))  # narrower than the window


def test_the_report_says_which_ssim_it_is():
    from restoration.reports import summarise, summary_markdown

    rows = [
        {"path": f"{i}.png", "index": 0, "modality": "scan-gray", "damage": "holes", "method": "telea", "ratio_bin": "10-20 %",
         "psnr": 30.0 + i, "ssim": 0.9, "hole_psnr": 20.0, "hole_ssim": 0.5, "hole_ratio": 0.15}
        for i in range(3)
    ]  # fmt: skip
    text = summary_markdown(summarise(pd.DataFrame(rows)), title="t")
    assert "11x11 Gaussian window (sigma 1.5)" in text
