"""Shared fixtures. Prefect is pointed at a temporary home before it is imported."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), image)
    return path


def crops(count: int, size: int) -> list[np.ndarray]:
    """``count`` different real crops of scikit-image's camera and astronaut."""
    import skimage.data

    sources = [skimage.data.camera(), skimage.color.rgb2gray(skimage.data.astronaut()) * 255]
    out = []
    for k in range(count):
        image = sources[k % 2]
        y, x = (37 * k) % (image.shape[0] - size), (53 * k) % (image.shape[1] - size)
        out.append(np.ascontiguousarray(image[y : y + size, x : x + size]).astype(np.uint8))
    return out


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """128x128 crop of scikit-image's camera (real photo, uint8)."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.camera()[160:288, 200:328])


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """96x96 RGB crop of scikit-image's astronaut."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[40:136, 180:276])


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the session, heartbeats off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        with prefect_test_harness(server_startup_timeout=120):
            yield


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture()
def chromium(tmp_path):
    """Debian's headless Chromium driven through ChromeDriver (selenium); skipped where they are not installed
    (``.ci/run`` installs both and sets ARCHIVE_RESTORE_REQUIRE_BROWSER, so there the test fails instead)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("ARCHIVE_RESTORE_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromium-driver are required here (apt-get install chromium chromium-driver)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def keep_screenshots(*paths: Path) -> None:
    """Copy screenshots to ARCHIVE_RESTORE_SCREENSHOTS, when set, for a look by hand."""
    import shutil

    if os.environ.get("ARCHIVE_RESTORE_SCREENSHOTS"):
        for path in paths:
            shutil.copy(path, Path(os.environ["ARCHIVE_RESTORE_SCREENSHOTS"]) / path.name)
