import cv2
import numpy as np
import pytest

from restoration.metrics import hole_psnr, psnr
from restoration.registry import REGISTRY

INPAINTERS = REGISTRY.names(kind="inpaint")
DENOISERS = REGISTRY.names(kind="denoise", available_only=True)
UPSCALERS = REGISTRY.names(kind="upscale")


@pytest.fixture(scope="module")
def holed(camera):
    return REGISTRY.get("holes").func(camera, ratio=(0.1, 0.2), rng=0)


@pytest.mark.parametrize("method", INPAINTERS)
def test_inpainting_lowers_the_error_inside_the_hole(method, camera, holed):
    damaged, mask = holed
    restored = REGISTRY.get(method).func(damaged, mask)
    assert restored.dtype == camera.dtype and restored.shape == camera.shape
    before = hole_psnr(camera, damaged, mask, data_range=255)
    after = hole_psnr(camera, restored, mask, data_range=255)
    assert after > before + 5
    np.testing.assert_array_equal(restored[~mask], damaged[~mask])  # known pixels untouched


@pytest.mark.parametrize("method", INPAINTERS)
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
def test_inpainting_keeps_dtype_and_fills_other_depths(method, dtype, camera):
    image = (camera.astype(np.float64) * 40 - 3000).astype(dtype) if dtype != np.uint16 else camera.astype(np.uint16) * 257
    damaged, mask = REGISTRY.get("holes").func(image, ratio=(0.05, 0.1), rng=2)
    restored = REGISTRY.get(method).func(damaged, mask)
    assert restored.dtype == image.dtype
    span = float(image.max()) - float(image.min())
    assert hole_psnr(image, restored, mask, data_range=span) > hole_psnr(image, damaged, mask, data_range=span) + 5


@pytest.mark.parametrize("method", INPAINTERS)
def test_inpainting_rgb(method, astronaut):
    damaged, mask = REGISTRY.get("scratches").func(astronaut, rng=0)
    restored = REGISTRY.get(method).func(damaged, mask)
    assert restored.shape == astronaut.shape and restored.dtype == np.uint8
    assert hole_psnr(astronaut, restored, mask, data_range=255) > hole_psnr(astronaut, damaged, mask, data_range=255)


def test_telea_is_exactly_opencv(camera, astronaut, holed):
    damaged, mask = holed
    expected = cv2.inpaint(damaged, mask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal(REGISTRY.get("telea").func(damaged, mask), expected)
    rgb, rmask = REGISTRY.get("holes").func(astronaut, rng=0)
    bgr_expected = cv2.inpaint(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), rmask.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal(REGISTRY.get("telea").func(rgb, rmask), cv2.cvtColor(bgr_expected, cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize("method", DENOISERS)
@pytest.mark.parametrize("sigma", [None, 25])
def test_denoising_lowers_the_error(method, sigma, camera):
    noisy, _ = REGISTRY.get("gaussian").func(camera, sigma=25, rng=0)
    restored = REGISTRY.get(method).func(noisy, sigma=sigma)
    assert restored.dtype == np.uint8
    assert psnr(camera, restored, data_range=255) > psnr(camera, noisy, data_range=255) + 1


@pytest.mark.parametrize("method", DENOISERS)
def test_denoising_16bit_rgb_keeps_depth(method, astronaut):
    image = astronaut.astype(np.uint16) * 257
    noisy, _ = REGISTRY.get("gaussian").func(image, sigma=20, rng=0)
    restored = REGISTRY.get(method).func(noisy, sigma=20)
    assert restored.dtype == np.uint16 and restored.shape == image.shape
    assert len(np.unique(restored)) > 256  # real 16-bit output, not 8-bit in disguise
    assert psnr(image, restored, data_range=65535) > psnr(image, noisy, data_range=65535)


def test_noise_sigma_estimate_is_close(camera):
    from restoration.methods.denoise import estimate_noise_sigma

    noisy, _ = REGISTRY.get("gaussian").func(camera, sigma=20, rng=0)
    assert estimate_noise_sigma(noisy) == pytest.approx(20, rel=0.2)
    assert estimate_noise_sigma(np.full((32, 32), 100, np.uint8)) == 0.0  # flat: no noise, not NaN


@pytest.mark.parametrize("method", UPSCALERS)
def test_upscaling_beats_pixel_replication(method, camera):
    small, _ = REGISTRY.get("downscale").func(camera, scale=2)
    restored = REGISTRY.get(method).func(small, scale=2)
    replicated = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    assert restored.shape == camera.shape and restored.dtype == camera.dtype
    assert psnr(camera, restored, data_range=255) > psnr(camera, replicated, data_range=255)


def test_exemplar_copies_texture_and_rejects_bad_patch_size(camera, holed):
    from restoration.methods.exemplar import inpaint_exemplar

    damaged, mask = holed
    with pytest.raises(ValueError, match="odd"):
        inpaint_exemplar(damaged, mask, patch_size=4)
    np.testing.assert_array_equal(inpaint_exemplar(camera, np.zeros_like(mask)), camera)
