"""Training data: archive images as unit-range gray planes, and random patches of them.

Every batch is drawn from a generator seeded by ``(seed, step)``, so batch
``k`` is the same whether or not training stopped and resumed before it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from restoration.archive import list_archive
from restoration.io import UnreadableImageError, file_sha256, find_mask, read_image_file, read_mask_file
from restoration.pixels import pixel_range, to_unit

#: ITU-R BT.601 luma weights (what the super-resolution literature calls Y).
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass
class TrainingImage:
    """One gray plane in [0, 1], with the archive's own damage mask when supplied."""

    rel: str
    index: int
    plane: np.ndarray
    damaged: np.ndarray | None = None


def to_gray_unit(frame: np.ndarray, *, bit_depth: int | None = None) -> np.ndarray:
    """A frame as float32 gray in [0, 1] (luma for colour; alpha dropped)."""
    unit = to_unit(frame, pixel_range(frame, bit_depth=bit_depth))
    if unit.ndim == 3:
        unit = unit[..., :3] @ LUMA if unit.shape[2] >= 3 else unit[..., 0]
    return np.clip(unit, 0.0, 1.0).astype(np.float32)


def load_training_images(
    root: os.PathLike | str, *, masks_dir: os.PathLike | str | None = None, min_size: int = 32, exclude: list[os.PathLike | str] = ()
) -> tuple[list[TrainingImage], list[dict]]:
    """Every readable frame under ``root`` as a :class:`TrainingImage`.

    Returns the images and a manifest (one row per file: path, sha256 of the
    bytes, frames used or the reason it was skipped). Files that cannot be
    read, and entries refused by :func:`restoration.archive.list_archive`,
    are skipped with their reason, never fatal. ``masks_dir`` and the
    folders in ``exclude`` (the model's own output) are not read.
    """
    root = Path(root)
    images: list[TrainingImage] = []
    manifest: list[dict] = []
    listing = list_archive(root, exclude=[masks_dir, *exclude])
    entries = sorted([(rel, None) for rel in listing.files] + listing.refused)
    for rel, problem in entries:
        path = root / rel
        row = {"path": rel, "sha256": "", "frames": 0, "skipped": problem or ""}
        manifest.append(row)
        if problem:
            continue
        try:
            row["sha256"] = file_sha256(path)
            image = read_image_file(path)
            masks = None
            if masks_dir is not None:
                mask_path = find_mask(masks_dir, rel)
                masks = read_mask_file(mask_path, image) if mask_path else None
        except (UnreadableImageError, ValueError) as exc:
            row["skipped"] = str(exc)
            continue
        except OSError as exc:
            row["skipped"] = f"{path}: cannot read: {exc.strerror or exc}"
            continue
        for index, frame in enumerate(image.frames):
            if min(frame.shape[:2]) < min_size:
                continue
            damaged = masks[index] if masks is not None else None
            images.append(TrainingImage(rel, index, to_gray_unit(frame, bit_depth=image.bit_depth), damaged))
            row["frames"] += 1
        if not row["frames"]:
            row["skipped"] = f"no frame of at least {min_size}x{min_size} pixels"
    return images, manifest


def load_training_sources(
    roots: os.PathLike | str | list[os.PathLike | str],
    *,
    masks_dir: os.PathLike | str | None = None,
    min_size: int = 32,
    exclude: list[os.PathLike | str] = (),
) -> tuple[list[TrainingImage], list[dict]]:
    """:func:`load_training_images` over one folder or several, as one set.

    With several folders, each image's path (and its manifest row) starts
    with its folder's name, so files of the same name in two folders stay
    apart (``Train400/test_001.png``, ``train-images/photos/coffee.png``);
    folders of the same name get ``-2``, ``-3``. Damage masks
    (``masks_dir``) go with a single folder only.
    """
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    roots = [Path(r) for r in roots]
    if len(roots) == 1:
        return load_training_images(roots[0], masks_dir=masks_dir, min_size=min_size, exclude=exclude)
    if masks_dir is not None:
        raise ValueError("damage masks go with a single training folder, not several")
    images: list[TrainingImage] = []
    manifest: list[dict] = []
    seen: dict[str, int] = {}
    for root in roots:
        name = root.resolve().name or "data"
        seen[name] = seen.get(name, 0) + 1
        prefix = name if seen[name] == 1 else f"{name}-{seen[name]}"
        found, rows = load_training_images(root, min_size=min_size, exclude=exclude)
        images += [TrainingImage(f"{prefix}/{im.rel}", im.index, im.plane, im.damaged) for im in found]
        manifest += [{**row, "path": f"{prefix}/{row['path']}"} for row in rows]
    return images, manifest


def manifest_sha256(manifest: list[dict]) -> str:
    """Hash of the data manifest (paths and file hashes), recorded in model cards."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def split_validation(images: list[TrainingImage], *, fraction: float = 0.1, most: int = 12) -> tuple[list[TrainingImage], list[TrainingImage], bool]:
    """Hold out whole files for validation, chosen by a hash of their path.

    ``fraction`` of the files, at most ``most`` (validation scores a few
    fixed crops; a large set should not lose a tenth of its images to it).
    Returns ``(train, validation, held_out)``; with fewer than five files
    nothing can be spared and validation uses the training images
    (``held_out`` False, recorded in the model card).
    """
    files = sorted({im.rel for im in images})
    if len(files) < 5:
        return images, images, False
    ranked = sorted(files, key=lambda rel: hashlib.sha256(rel.encode()).hexdigest())
    held = set(ranked[: max(1, min(most, round(fraction * len(files))))])
    return [im for im in images if im.rel not in held], [im for im in images if im.rel in held], True


def batch_rng(seed: int, step: int, stream: str = "data") -> np.random.Generator:
    """The generator for one step's batch: depends only on seed, step and stream."""
    tag = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:4], "little")
    return np.random.default_rng([int(seed), int(step), tag])


class PatchSampler:
    """Random crops of a set of images, each picked with probability proportional to its area.

    The probabilities are computed once, not per crop (an archive can hold
    many images).
    """

    def __init__(self, images: list[TrainingImage]):
        areas = np.array([im.plane.size for im in images], float)
        self.images, self.p = images, areas / areas.sum()

    def crop(self, size: int, rng: np.random.Generator, *, augment: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """A ``size`` x ``size`` crop (flipped and rotated by 90° at random) and its damage-mask crop or None.

        An image smaller than ``size`` is reflect-padded.
        """
        return _crop(self.images[rng.choice(len(self.images), p=self.p)], size, rng, augment)


def random_patches(
    images: list[TrainingImage], count: int, size: int, rng: np.random.Generator, *, augment: bool = True
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """``count`` crops from :class:`PatchSampler` (with their damage-mask crops)."""
    sampler = PatchSampler(images)
    return [sampler.crop(size, rng, augment=augment) for _ in range(count)]


def _crop(image: TrainingImage, size: int, rng: np.random.Generator, augment: bool) -> tuple[np.ndarray, np.ndarray | None]:
    plane, damaged = image.plane, image.damaged
    h, w = plane.shape
    if h < size or w < size:
        pad = ((0, max(0, size - h)), (0, max(0, size - w)))
        plane = np.pad(plane, pad, mode="reflect")
        damaged = np.pad(damaged, pad, mode="reflect") if damaged is not None else None
        h, w = plane.shape
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    crop = plane[y : y + size, x : x + size]
    mask = damaged[y : y + size, x : x + size] if damaged is not None else None
    if augment:
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        crop = np.rot90(crop, k)
        mask = np.rot90(mask, k) if mask is not None else None
        if flip:
            crop = crop[:, ::-1]
            mask = mask[:, ::-1] if mask is not None else None
    return np.ascontiguousarray(crop), (np.ascontiguousarray(mask) if mask is not None else None)
