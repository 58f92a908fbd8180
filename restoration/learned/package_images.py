"""Image sets built from files that ship inside installed packages (nothing is downloaded).

``training`` feeds the default models; ``held_out`` scores them. The two
share no image, the held-out set contains every photo and document of the
demo archive, and neither touches ../shared/benchmarks (Set12, BSD68, Set5,
Set14 are for evaluation only).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import cv2
import numpy as np

from restoration.io import write_bytes_atomic

#: scikit-image bundled images used for training (none is in the demo archive).
TRAINING_SKIMAGE = (
    "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "grass", "gravel",
    "brick", "retina", "cell", "microaneurysms",
)  # fmt: skip
#: Held out: the demo archive's photos and documents, and more.
HELD_OUT_SKIMAGE = ("camera", "astronaut", "coins", "moon", "page", "text", "clock", "horse")


def _png(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def _matplotlib_sample(name: str) -> Path:
    import matplotlib

    return Path(matplotlib.__file__).parent / "mpl-data" / "sample_data" / name


def _training_files() -> dict[str, bytes]:
    import skimage.data as data

    files = {f"photos/{name}.png": _png(getattr(data, name)()) for name in TRAINING_SKIMAGE}
    left, _, _ = data.stereo_motorcycle()
    files["photos/motorcycle_left.png"] = _png(left)
    files["photos/grace_hopper.jpg"] = _matplotlib_sample("grace_hopper.jpg").read_bytes()
    # matplotlib's sample MR slice: 256 x 256 little-endian uint16, kept at 16 bits
    mri = np.frombuffer(gzip.decompress(_matplotlib_sample("s1045.ima.gz").read_bytes()), "<u2").reshape(256, 256)
    files["medical/s1045-mr.png"] = _png(mri.astype(np.uint16))
    return files


def _held_out_files() -> dict[str, bytes]:
    import skimage.data as data

    files = {}
    for name in HELD_OUT_SKIMAGE:
        image = getattr(data, name)()
        files[f"photos/{name}.png"] = _png(image.astype(np.uint8) * (255 if image.dtype == bool else 1))
    _, right, _ = data.stereo_motorcycle()
    files["photos/motorcycle_right.png"] = _png(right)
    return files


SETS = {"training": _training_files, "held-out": _held_out_files}


def write_package_images(dest: os.PathLike | str, *, which: str = "training") -> list[Path]:
    """Write image set ``which`` (``training`` or ``held-out``) under ``dest``; return the paths."""
    if which not in SETS:
        raise ValueError(f"unknown image set {which!r}; choose from: {', '.join(SETS)}")
    dest = Path(dest)
    return [write_bytes_atomic(dest / rel, payload) for rel, payload in sorted(SETS[which]().items())]
