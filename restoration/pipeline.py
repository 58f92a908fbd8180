"""File-level steps shared by the Prefect tasks and the command line.

Each step reads one archive file, works frame by frame through the registry,
and writes its result atomically under an output folder. Errors about the
file's content raise :class:`FileStepError` (its message names the file);
operating-system I/O errors propagate so that callers may retry them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from restoration import __version__
from restoration.io import (
    UnreadableImageError,
    read_image_file,
    read_mask_file,
    write_image_file,
    write_mask_file,
)
from restoration.metrics import hole_psnr, hole_ssim, psnr, ssim
from restoration.pixels import pixel_range
from restoration.registry import REGISTRY, RESTORER_KINDS

logger = logging.getLogger(__name__)

#: Upper edges of the hole-ratio bins used in summaries.
RATIO_BIN_EDGES = tuple(round(0.1 * k, 1) for k in range(1, 11))


class FileStepError(ValueError):
    """One file could not be processed; the message names the file and why."""


def item_rng(seed: int, kind: str, rel: str, index: int) -> np.random.Generator:
    """Random generator for one frame: depends only on seed, damage kind, path and frame."""
    digest = hashlib.sha256(f"{kind}\0{rel}\0{index}".encode()).digest()
    return np.random.default_rng(np.random.SeedSequence([int(seed), int.from_bytes(digest[:8], "little")]))


def ratio_bin(ratio: float) -> str:
    """Summary bin of a hole ratio: ``0-10 %`` ... ``90-100 %``, ``whole image``, or ``n/a`` (NaN)."""
    if ratio is None or not np.isfinite(ratio):
        return "n/a"
    if ratio >= 1.0:
        return "whole image"
    for k, edge in enumerate(RATIO_BIN_EDGES):
        if ratio < edge or k == len(RATIO_BIN_EDGES) - 1:
            return f"{k * 10}-{(k + 1) * 10} %"
    raise AssertionError("unreachable")


def _keep_depth(frame: np.ndarray, original_dtype: np.dtype, bit_depth: int) -> np.ndarray:
    """Clip to the bit depth actually stored (a 12-bit DICOM stays under 4096)."""
    frame = np.asarray(frame).astype(original_dtype, copy=False)
    if np.issubdtype(frame.dtype, np.integer):
        prange = pixel_range(frame, bit_depth=bit_depth)
        frame = np.clip(frame, prange.low, prange.high).astype(original_dtype)
    return frame


def _read(path: Path):
    os.stat(path)  # a missing or unreadable path is an OSError, retried by callers
    try:
        return read_image_file(path)
    except UnreadableImageError as exc:
        raise FileStepError(str(exc)) from exc


def restore_settings(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """What decides a restored output besides its inputs: method, options and model weights hash.

    Learned methods name the sha256 of the weights they will load (the
    ``model`` given, or the shipped default), so a retrained model redoes
    the files it restored.
    """
    entry = REGISTRY.get(method, kind=RESTORER_KINDS)
    opts = entry.check_options(options)
    settings: dict[str, Any] = {"method": method, "options": opts}
    if "model" in entry.options:
        from restoration.learned.restorers import model_weights
        from restoration.provenance import content_sha256

        try:
            settings["model_sha256"] = content_sha256(model_weights(method, opts))
        except OSError:  # restore_file reports the missing model per file
            settings["model_sha256"] = "missing"
    return settings


def damage_file(src: Path, dst: Path, mask_dst: Path, *, rel: str, kind: str, seed: int, options: dict[str, Any]) -> dict:
    """Simulate damage ``kind`` on every frame of ``src``.

    Writes the damaged file to ``dst`` (same format and bit depth) and its
    masks to ``mask_dst`` (PNG, or multi-page TIFF for several frames).
    """
    entry = REGISTRY.get(kind, kind="damage")
    opts = entry.check_options(options)
    image = _read(Path(src))
    frames, masks = [], []
    for index, frame in enumerate(image.frames):
        try:
            damaged, mask = entry.func(frame, rng=item_rng(seed, kind, rel, index), **opts)
        except ValueError as exc:
            raise FileStepError(f"{src}: {kind} damage failed on frame {index}: {exc}") from exc
        frames.append(_keep_depth(damaged, frame.dtype, image.bit_depth))
        masks.append(mask)
    derivation = f"archive-restoration {__version__} simulated damage {kind} seed={seed} {opts}"
    write_image_file(image, frames, dst, derivation=derivation)
    mask_path = write_mask_file(masks, mask_dst)
    return {
        "path": rel,
        "damage": kind,
        "output": str(dst),
        "mask": str(mask_path),
        "hole_ratio": float(np.mean([m.mean() for m in masks])),
    }


def restore_file(src: Path, dst: Path, *, rel: str, method: str, mask_path: Path | None, options: dict[str, Any]) -> dict:
    """Restore every frame of ``src`` with ``method`` and write ``dst`` in the same format.

    Inpainting needs a mask (see :func:`restoration.io.find_mask`). A
    denoiser given a mask changes only the masked pixels. Upscalers ignore
    masks (a damage mask is at the original resolution).
    """
    entry = REGISTRY.get(method, kind=RESTORER_KINDS)
    opts = entry.check_options(options)
    image = _read(Path(src))
    masks = None
    if mask_path is not None and entry.kind != "upscale":
        try:
            masks = read_mask_file(mask_path, image)
        except (ValueError, UnreadableImageError) as exc:
            raise FileStepError(str(exc)) from exc
    if entry.kind == "inpaint" and masks is None:
        raise FileStepError(f"{src}: inpainting with {method!r} needs a mask and none was found for {rel}")
    start = time.perf_counter()
    restored = []
    for index, frame in enumerate(image.frames):
        try:
            if entry.kind == "inpaint":
                out = entry.func(frame, masks[index], **opts)
            else:
                out = entry.func(frame, **opts)
                if masks is not None:
                    hole = masks[index] if frame.ndim == 2 else masks[index][..., None]
                    out = np.where(hole, out, frame)
        except ValueError as exc:
            raise FileStepError(f"{src}: {method} failed on frame {index}: {exc}") from exc
        restored.append(_keep_depth(out, frame.dtype, image.bit_depth))
    seconds = time.perf_counter() - start
    write_image_file(image, restored, dst, derivation=f"archive-restoration {__version__} {method} {opts}")
    logger.debug("restored %s with %s: %d frame(s) in %.2f s", rel, method, len(restored), seconds)
    return {"path": rel, "method": method, "output": str(dst), "seconds": seconds, "frames": len(restored)}


def evaluate_file(test: Path, reference: Path, *, rel: str, mask_path: Path | None = None) -> list[dict]:
    """PSNR/SSIM of each frame of ``test`` against ``reference``, whole and inside the mask.

    The data range is the reference's native range (its bit depth).
    """
    ref_image, test_image = _read(Path(reference)), _read(Path(test))
    if len(ref_image.frames) != len(test_image.frames):
        raise FileStepError(f"{test}: {len(test_image.frames)} frames, reference {reference} has {len(ref_image.frames)}")
    masks = None
    if mask_path is not None:
        try:
            masks = read_mask_file(mask_path, ref_image)
        except (ValueError, UnreadableImageError) as exc:
            raise FileStepError(str(exc)) from exc
    rows = []
    for index, (ref, out) in enumerate(zip(ref_image.frames, test_image.frames)):
        if ref.shape != out.shape:
            raise FileStepError(f"{test}: frame {index} is {out.shape}, reference {reference} is {ref.shape}")
        data_range = pixel_range(ref, bit_depth=ref_image.bit_depth).span
        row = {
            "path": rel,
            "index": index,
            "modality": ref_image.modality,
            "data_range": data_range,
            "psnr": psnr(ref, out, data_range=data_range),
            "ssim": ssim(ref, out, data_range=data_range),
            "hole_ratio": float("nan"),
            "hole_psnr": float("nan"),
            "hole_ssim": float("nan"),
        }
        if masks is not None:
            row["hole_ratio"] = float(masks[index].mean())
            row["hole_psnr"] = hole_psnr(ref, out, masks[index], data_range=data_range)
            row["hole_ssim"] = hole_ssim(ref, out, masks[index], data_range=data_range)
        row["ratio_bin"] = ratio_bin(row["hole_ratio"])
        rows.append(row)
    return rows
