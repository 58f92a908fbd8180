"""A small demo archive built from images that ship inside installed packages.

Nothing is downloaded: scikit-image's bundled images, pydicom's and
nibabel's test files, a 16-bit two-page TIFF made from them, and one
deliberately truncated PNG that ingestion must quarantine.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np

from restoration.io import atomic_write, write_bytes_atomic

#: The file the demo breaks on purpose; ingestion must quarantine exactly this.
EXPECTED_QUARANTINE = ("broken/truncated.png",)


def _png(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def nibabel_data_file(name: str) -> Path:
    """A test file that ships inside nibabel (``nibabel.testing`` would import pytest)."""
    import nibabel

    return Path(nibabel.__file__).parent / "tests" / "data" / name


def build_demo_archive(dest: os.PathLike | str) -> Path:
    """Write ``dest/demo-archive.zip`` and return its path.

    Contents: photos (camera, coins, astronaut; moon as JPEG), documents
    (page, text), a 16-bit two-page TIFF scan, CT and MR DICOM slices, a
    NIfTI volume, and ``broken/truncated.png``.
    """
    import skimage.data as data
    import tifffile
    from pydicom.data import get_testdata_file

    dest = Path(dest)
    staging = dest / "demo-archive"
    if staging.exists():
        shutil.rmtree(staging)
    files: dict[str, bytes] = {
        "photos/camera.png": _png(data.camera()),
        "photos/coins.png": _png(data.coins()),
        "photos/astronaut.png": _png(data.astronaut()),
        "documents/page.png": _png(data.page()),
        "documents/text.png": _png(data.text()),
    }
    ok, moon = cv2.imencode(".jpg", data.moon(), [cv2.IMWRITE_JPEG_QUALITY, 95])
    files["photos/moon.jpg"] = moon.tobytes()
    files["broken/truncated.png"] = files["photos/coins.png"][: len(files["photos/coins.png"]) // 3]
    for rel, payload in files.items():
        write_bytes_atomic(staging / rel, payload)

    # A 16-bit, two-page scan: 8-bit images spread over the 16-bit range.
    pages = [cv2.resize(data.clock(), (256, 192)), cv2.resize(data.camera(), (256, 192))]
    stack = np.stack([p.astype(np.uint16) * 257 for p in pages])
    atomic_write(staging / "scans/clock-camera-16bit.tif", lambda t: tifffile.imwrite(t, stack, photometric="minisblack"))
    for name in ("CT_small.dcm", "MR_small.dcm"):
        atomic_write(staging / "medical" / name, lambda t, n=name: shutil.copyfile(get_testdata_file(n), t))
    anatomical = nibabel_data_file("anatomical.nii")
    atomic_write(staging / "medical/anatomical.nii", lambda t: shutil.copyfile(anatomical, t))

    archive = dest / "demo-archive.zip"

    def write_zip(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(staging).as_posix())

    atomic_write(archive, write_zip)
    shutil.rmtree(staging)
    return archive
