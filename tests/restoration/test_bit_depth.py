"""Each frame's stored range (bit depth) goes with its array into every simulator and method.

"sigma 25" means 25/255 of the stored range at every depth: the same
picture stored at 8, 12 and 16 bits gets the same damage, the same noise
estimate and the same restoration, in PSNR at its own depth.
"""

import numpy as np
import pydicom
import pytest
import tifffile
from pydicom.data import get_testdata_file
from skimage import data

from restoration.frames import restore_frame
from restoration.methods.denoise import estimate_noise_sigma
from restoration.metrics import psnr
from restoration.pipeline import damage_file, evaluate_file, restore_file
from restoration.pixels import PixelRange
from restoration.registry import REGISTRY

PICTURE = data.camera()[::2, ::2].astype(np.float64) / 255.0  # 256 x 256 on [0, 1]


def _store(unit: np.ndarray, path, bits: int):
    """``unit`` written at ``bits`` bits: 8-bit TIFF, 12-bit DICOM (uint16, BitsStored 12), 16-bit TIFF."""
    top = 2**bits - 1
    values = np.rint(unit * top)
    if bits == 12:
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        pixels = values.astype("<u2")
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels.tobytes()
        ds.save_as(path)
    else:
        tifffile.imwrite(path, values.astype(np.uint8 if bits == 8 else np.uint16))
    return path


@pytest.mark.parametrize("kind", ["gaussian", "speckle", "poisson"])
def test_noise_damage_agrees_across_bit_depths(tmp_path, kind):
    scores = {}
    for bits, suffix in ((8, "tif"), (12, "dcm"), (16, "tif")):
        src = _store(PICTURE, tmp_path / f"p{bits}.{suffix}", bits)
        out = tmp_path / "out" / src.name
        damage_file(src, out, tmp_path / "masks" / f"p{bits}.png", rel=src.name, kind=kind, seed=3, options={"sigma": 25})
        rows = evaluate_file(out, src, rel=src.name)
        scores[bits] = rows[0]["psnr"]
    assert 15 < scores[8] < 30, scores  # sigma 25 on 0-255 (gaussian: about 20.6 dB with clipping)
    assert max(scores.values()) - min(scores.values()) < 0.5, scores


def test_a_12_bit_dicom_keeps_its_depth_and_tags_when_damaged(tmp_path):
    src = _store(PICTURE, tmp_path / "p12.dcm", 12)
    out = tmp_path / "out" / "p12.dcm"
    damage_file(src, out, tmp_path / "m.png", rel="p12.dcm", kind="gaussian", seed=0, options={"sigma": 25})
    written = pydicom.dcmread(out)
    assert written.BitsStored == 12 and written.pixel_array.max() <= 4095
    noise = written.pixel_array.astype(float) - pydicom.dcmread(src).pixel_array
    inner = np.abs(noise) < 3000  # away from clipping, the noise's std is 25/255 of 4095
    assert np.std(noise[inner]) == pytest.approx(25 / 255 * 4095, rel=0.1)


def _quarter_range_scan(sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A 16-bit scan using a quarter of its range, with Gaussian noise of ``sigma`` on the 0-255 scale of 16 bits."""
    clean = 0.3 + 0.2 * PICTURE  # values between 0.3 and 0.5 of the range
    noisy = clean + rng.normal(0, sigma / 255.0, clean.shape)
    return np.rint(np.clip(noisy, 0, 1) * 65535).astype(np.uint16)


def test_cnn_denoise_estimates_sigma_like_the_classical_path():
    """The noise estimate that steers cnn-denoise is the classical one: on the frame's range, once."""
    scan = _quarter_range_scan(10.0, np.random.default_rng(0))
    classical = estimate_noise_sigma(scan, value_range=(0, 65535))
    assert classical == pytest.approx(10.0, abs=1.0)
    unit = scan / 65535.0
    assert estimate_noise_sigma(unit, value_range=(0.0, 1.0)) == pytest.approx(classical, rel=1e-9)


def test_cnn_denoise_on_a_quarter_range_scan_denoises_like_given_sigma():
    pytest.importorskip("torch")
    scan = _quarter_range_scan(10.0, np.random.default_rng(1))
    clean = (0.3 + 0.2 * PICTURE) * 65535
    entry = REGISTRY.get("cnn-denoise")
    estimated = restore_frame(entry, scan, options={}, value_range=PixelRange(0, 65535))
    given = restore_frame(entry, scan, options={"sigma": 10.0}, value_range=PixelRange(0, 65535))
    noisy_db, estimated_db, given_db = (psnr(clean, x, data_range=65535) for x in (scan, estimated, given))
    # The estimate (about 10) steers the network as the true sigma does; an estimate of 19 (the old
    # double rescaling) oversmooths and scores well below.
    assert estimated_db > noisy_db + 3
    assert abs(estimated_db - given_db) < 0.3, (noisy_db, estimated_db, given_db)


def test_denoisers_read_sigma_on_the_stored_range_of_a_12_bit_frame(tmp_path):
    """nlm given sigma 25 denoises a 12-bit DICOM as much as the 8-bit copy, at its own depth."""
    gains = {}
    for bits, suffix in ((8, "tif"), (12, "dcm")):
        src = _store(PICTURE, tmp_path / f"p{bits}.{suffix}", bits)
        noisy = tmp_path / "noisy" / src.name
        damage_file(src, noisy, tmp_path / "m" / f"{bits}.png", rel=src.name, kind="gaussian", seed=1, options={"sigma": 25})
        restored = tmp_path / "restored" / src.name
        restore_file(noisy, restored, rel=src.name, method="nlm", mask_path=None, options={"sigma": 25})
        before = evaluate_file(noisy, src, rel=src.name)[0]["psnr"]
        after = evaluate_file(restored, src, rel=src.name)[0]["psnr"]
        gains[bits] = after - before
    assert gains[8] > 3, gains
    assert abs(gains[12] - gains[8]) < 0.5, gains


def test_the_value_range_reaches_a_tiled_float_frame(monkeypatch):
    """A float frame restored in tiles: each tile scaled by the frame's range, so tiles and whole agree."""
    import restoration.frames as frames

    rng = np.random.default_rng(2)
    frame = (PICTURE + rng.normal(0, 0.04, PICTURE.shape)).astype(np.float32) * 1000
    entry = REGISTRY.get("tv")
    whole = restore_frame(entry, frame, options={"sigma": 10.0})
    monkeypatch.setattr(frames, "WHOLE_FRAME_PIXELS", 128 * 128)
    monkeypatch.setattr(frames, "MIN_CORE", 64)
    tiled = restore_frame(entry, frame, options={"sigma": 10.0})
    assert np.abs(tiled - whole).mean() < 0.01 * np.ptp(frame)
    assert psnr(whole, tiled, data_range=float(np.ptp(frame))) > 35
