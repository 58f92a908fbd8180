"""Gaussian denoising on held-out images by category: photos, documents, medical slices.

Images no default model was trained on: the held-out package images
(``archive-restore package-images --set held-out``: photos and two
documents) and medical slices from pydicom's and nibabel's test data (CT,
MR). Each is turned to 8-bit gray and centre-cropped to 256 x 256; noise
of the given sigma (0-255 scale) is added with ``default_rng(0)``, then the
noisy image is rounded and clipped to 8 bits, as a noisy PNG scan would be.
Every method is told the true sigma and sees the same noisy arrays in the
same run; PSNR on the 8-bit range.

    python bench/denoise_holdout.py [--methods bm3d,nlm,cnn-denoise,cnn-denoise-x8] [--model DIR]

``cnn-denoise-x8`` is ``cnn-denoise`` with ``self_ensemble=True``.
Results: bench/out/denoise_holdout.csv and .md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from restoration.io import read_image_file
from restoration.learned.data import to_gray_unit
from restoration.learned.package_images import write_package_images
from restoration.metrics import psnr
from restoration.registry import REGISTRY

OUT = Path(__file__).parent / "out"
SIGMAS = (15, 25, 50)
SIZE = 256


def gray8(frame: np.ndarray, bit_depth: int | None = None) -> np.ndarray:
    """A frame as 8-bit gray (luma for colour), over its own min-max for medical slices."""
    unit = to_gray_unit(frame, bit_depth=bit_depth)
    return np.round(unit * 255).astype(np.uint8)


def centre(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    y, x = max(0, (h - SIZE) // 2), max(0, (w - SIZE) // 2)
    return np.ascontiguousarray(image[y : y + SIZE, x : x + SIZE])


def medical_slices() -> dict[str, np.ndarray]:
    """CT and MR slices from the packages' test data, windowed on their own range."""
    import nibabel
    from pydicom.data import get_testdata_file

    out = {}
    for name in ("CT_small.dcm", "MR_small.dcm"):
        image = read_image_file(get_testdata_file(name))
        frame = image.frames[0].astype(np.float64)
        out[f"medical/{name}"] = np.round(255 * (frame - frame.min()) / max(np.ptp(frame), 1)).astype(np.uint8)
    volume = np.asarray(nibabel.load(Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz").dataobj, np.float64)
    for z in (volume.shape[2] // 2,):
        plane = volume[..., z, 0]
        out[f"medical/example4d-z{z}.nii"] = np.round(255 * (plane - plane.min()) / max(np.ptp(plane), 1)).astype(np.uint8)
    return out


def category(rel: str) -> str:
    if rel.startswith("medical/"):
        return "medical"
    return "documents" if Path(rel).stem in ("page", "text") else "photos"


def run(method: str, noisy: np.ndarray, sigma: float, model: str | None) -> np.ndarray:
    if method in ("cnn-denoise", "cnn-denoise-x8"):
        return REGISTRY.get("cnn-denoise").func(noisy, sigma=sigma, model=model, self_ensemble=method.endswith("x8"))
    return REGISTRY.get(method).func(noisy, sigma=sigma)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="noisy,bm3d,nlm,cnn-denoise,cnn-denoise-x8")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        images = {}
        for path in write_package_images(tmp, which="held-out"):
            image = read_image_file(path)
            images[path.relative_to(tmp).as_posix()] = centre(gray8(image.frames[0], image.bit_depth))
    images.update({rel: centre(plane) for rel, plane in medical_slices().items()})
    rows = []
    for rel, clean in images.items():
        for sigma in SIGMAS:
            noisy = np.clip(np.round(clean + np.random.default_rng(0).normal(0, sigma, clean.shape)), 0, 255).astype(np.uint8)
            for method in args.methods.split(","):
                start = time.perf_counter()
                out = noisy if method == "noisy" else run(method, noisy, sigma, args.model)
                rows.append(
                    {"image": rel, "category": category(rel), "sigma": sigma, "method": method, "shape": "x".join(map(str, clean.shape)),
                     "psnr": psnr(clean, out, data_range=255.0), "seconds": time.perf_counter() - start}
                )  # fmt: skip
        print(f"{rel} done", flush=True)
    frame = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUT / "denoise_holdout.csv", index=False)
    table = frame.groupby(["method", "category", "sigma"])["psnr"].mean().unstack(["category", "sigma"]).round(2)
    counts = frame[frame.method == frame.method.iloc[0]].groupby("category")["image"].nunique()
    text = (
        f"PSNR (dB), 8-bit, held-out images: {', '.join(f'{c} {n}' for c, n in counts.items())}\n\n"
        + table.to_markdown()
        + "\n\nMean seconds per image: "
        + ", ".join(f"{m} {s:.3f}" for m, s in frame.groupby("method")["seconds"].mean().items())
    )
    (OUT / "denoise_holdout.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
