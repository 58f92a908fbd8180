"""File-level steps shared by the Prefect tasks and the command line.

Each step reads one archive file, works frame by frame through the registry,
and writes its result atomically under an output folder. Whatever is wrong
with the file or goes wrong in a method raises :class:`FileStepError` (its
message names the file and the reason); operating-system I/O errors
propagate, so that callers may retry the transient ones.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restoration import __version__
from restoration.frames import detect_frame, restore_frame
from restoration.io import (
    UnreadableImageError,
    max_pixels,
    read_image_file,
    read_mask_file,
    write_image_file,
    write_map_file,
    write_mask_file,
)
from restoration.methods.upscale import DEFAULT_SCALE
from restoration.metrics import VISIBLE_CHANGE, detection_counts, detection_scores, hole_psnr, hole_ssim, psnr, ssim, unchanged_damage
from restoration.options import MAX_PIXELS_ENV
from restoration.pixels import pixel_range
from restoration.registry import DETECT, REGISTRY, RESTORER_KINDS

logger = logging.getLogger(__name__)

#: What the evaluation computes; part of its provenance key, so that scores
#: kept from an earlier run are recomputed when the metrics change.
METRICS_VERSION = "psnr, ssim Wang 11x11 gaussian sigma 1.5, hole psnr/ssim"

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
    """Clip to the bit depth actually stored (a 12-bit DICOM stays under 4096), in place where possible."""
    frame = np.asarray(frame).astype(original_dtype, copy=False)
    if np.issubdtype(frame.dtype, np.integer):
        prange = pixel_range(frame, bit_depth=bit_depth)
        if prange.low > np.iinfo(frame.dtype).min or prange.high < np.iinfo(frame.dtype).max:
            low, high = frame.dtype.type(prange.low), frame.dtype.type(prange.high)  # bounds in the frame's dtype: clipped in place
            frame = np.clip(frame, low, high, out=frame if frame.flags.writeable else None)
    return frame


def _read(path: Path):
    os.stat(path)  # a missing or unreadable path is an OSError, retried by callers when transient
    try:
        return read_image_file(path)
    except UnreadableImageError as exc:
        raise FileStepError(str(exc)) from exc


def _read_masks(mask_path: Path, image) -> list[np.ndarray]:
    """The masks of ``image``'s frames from ``mask_path``; a mask that does not fit fails the file."""
    try:
        return read_mask_file(mask_path, image)
    except (ValueError, UnreadableImageError) as exc:
        raise FileStepError(str(exc)) from exc


def _write_frames(image, frames: list[np.ndarray], dst: Path, *, derivation: str) -> None:
    """Write ``frames`` in ``image``'s format to ``dst``, its own pixels released first; a frame the format refuses fails the file."""
    _release_pixels(image)
    try:
        write_image_file(image, frames, dst, derivation=derivation)
    except ValueError as exc:
        raise FileStepError(str(exc)) from exc


def _release_pixels(image) -> None:
    """Drop an image's pixels once its new frames exist: writing needs only each frame's shape and dtype.

    Zero-stride stand-ins keep both and take no memory, so a very large
    file is not held twice while its output is encoded.
    """
    image.frames = [np.broadcast_to(np.zeros((), frame.dtype), frame.shape) for frame in image.frames]


def _method_failed(src: Path, what: str, index: int, exc: Exception) -> FileStepError:
    detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    return FileStepError(f"{src}: {what} failed on frame {index}: {detail}")


@dataclass(frozen=True, kw_only=True)
class RestoreSettings:
    """What decides a restored output besides its inputs: method, checked options, and the model chosen for the run.

    Made by :func:`restoration.pipeline.restore_settings`, once per run.
    ``model_sha256`` (the weights' hash) enters the provenance key, so a
    retrained model redoes the files it restored.
    """

    method: str
    options: dict[str, Any]
    model_dir: str | None = None
    model_sha256: str | None = None

    def key(self) -> dict[str, Any]:
        """The settings as they enter the job key (no model: no model fields)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def method_settings(method: str, options: dict[str, Any], *, kinds: str | tuple[str, ...] = RESTORER_KINDS) -> RestoreSettings:
    """The :class:`RestoreSettings` of a run of ``method`` (of one of ``kinds``): options checked once, a learned method's model chosen once.

    ``model_dir`` is the ``model`` given or the shipped default, and every
    file's call gets it.

    Raises
    ------
    restoration.registry.RegistryError
        For an unknown method or a bad option.
    """
    entry = REGISTRY.get(method, kind=kinds)
    opts = entry.check_options(options)
    if entry.learned is None:
        return RestoreSettings(method=method, options=opts)
    from restoration.learned.catalog import ModelFileError, model_directory, weights_path
    from restoration.provenance import content_sha256

    directory = model_directory(entry, opts)
    try:
        sha = content_sha256(weights_path(directory))
    except (OSError, ModelFileError):  # the file step reports the missing model per file
        sha = "missing"
    return RestoreSettings(method=method, options=opts, model_dir=str(directory), model_sha256=sha)


def restore_settings(method: str, options: dict[str, Any]) -> RestoreSettings:
    """:func:`method_settings` of a restorer (inpainter, denoiser or upscaler)."""
    return method_settings(method, options, kinds=RESTORER_KINDS)


def detect_settings(method: str, options: dict[str, Any]) -> RestoreSettings:
    """:func:`method_settings` of a detector."""
    return method_settings(method, options, kinds=DETECT)


def _run_options(entry, settings: RestoreSettings) -> dict[str, Any]:
    """A method's checked options for a file, with the model the run chose (learned methods)."""
    opts = entry.check_options(settings.options)
    if entry.learned is not None:
        from restoration.learned.catalog import model_directory

        opts["model"] = str(settings.model_dir or model_directory(entry, opts))
    return opts


def _check_model(entry, opts: dict[str, Any], settings: RestoreSettings, src: Path) -> str | None:
    """The sha256 of the weights a learned method loaded; the file fails if they are not the ones the run chose."""
    if entry.learned is None:
        return None
    loaded = _loaded_model_sha256(entry, opts["model"])
    if settings.model_sha256 not in (None, "missing") and loaded != settings.model_sha256:
        raise FileStepError(f"{src}: the model's weights changed during the run (expected sha256 {settings.model_sha256[:16]}, loaded {loaded[:16]})")
    return loaded


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
            damaged, mask = entry.func(frame, rng=item_rng(seed, kind, rel, index), value_range=image.value_range(index), **opts)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # whatever a simulator raises fails this file only
            raise _method_failed(src, f"{kind} damage", index, exc) from exc
        frames.append(_keep_depth(damaged, frame.dtype, image.bit_depth))
        masks.append(mask)
    derivation = f"archive-restoration {__version__} simulated damage {kind} seed={seed} {opts}"
    _write_frames(image, frames, dst, derivation=derivation)
    mask_path = write_mask_file(masks, mask_dst)
    return {
        "path": rel,
        "damage": kind,
        "output": str(dst),
        "mask": str(mask_path),
        "hole_ratio": float(np.mean([m.mean() for m in masks])),
    }


def restore_file(
    src: Path,
    dst: Path,
    *,
    rel: str,
    method: str,
    mask_path: Path | None,
    options: dict[str, Any],
    model_dir: str | None = None,
    model_sha256: str | None = None,
) -> dict:
    """Restore every frame of ``src`` with ``method`` and write ``dst`` in the same format.

    Inpainting needs a mask (see :func:`restoration.io.find_mask`). A
    denoiser given a mask changes only the masked pixels. Upscalers ignore
    masks (a damage mask is at the original resolution), and refuse a file
    whose output would be above the pixel limit. Each frame goes through
    :func:`restoration.frames.restore_frame` (non-finite pixels, alpha, tiny
    and huge frames), with the frame's stored range (its bit depth). For a
    learned method, ``model_dir`` is the model the run chose
    (:func:`restore_settings`; default: chosen here) and ``model_sha256``
    the hash of the weights the run expects: if the weights loaded differ
    (replaced during the run), the file fails rather than carry a wrong
    provenance.
    """
    entry = REGISTRY.get(method, kind=RESTORER_KINDS)
    opts = entry.check_options(options)
    if entry.learned is not None:
        from restoration.learned.catalog import model_directory

        opts["model"] = str(model_dir or model_directory(entry, opts))
    image = _read(Path(src))
    if entry.kind == "upscale":
        factor, limit = int(opts.get("scale", DEFAULT_SCALE)), max_pixels()
        pixels = sum(frame.shape[0] * frame.shape[1] for frame in image.frames) * factor * factor
        if pixels > limit:
            raise FileStepError(f"{src}: upscaled by {factor} it would hold {pixels:,} pixels, above the limit of {limit:,} ({MAX_PIXELS_ENV}); not restored")
    masks = _read_masks(mask_path, image) if mask_path is not None and entry.kind != "upscale" else None
    if entry.kind == "inpaint" and masks is None:
        raise FileStepError(f"{src}: inpainting with {method!r} needs a mask and none was found for {rel}")
    start = time.perf_counter()
    restored = []
    for index, frame in enumerate(image.frames):
        try:
            out = restore_frame(
                entry, frame, mask=None if masks is None else masks[index], options=opts, alpha=image.alpha, value_range=image.value_range(index)
            )
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # whatever a method raises fails this file only
            raise _method_failed(src, method, index, exc) from exc
        restored.append(_keep_depth(out, frame.dtype, image.bit_depth))
    seconds = time.perf_counter() - start
    record = {"path": rel, "method": method, "output": str(dst), "seconds": seconds, "frames": len(restored)}
    if entry.learned is not None:
        loaded = _loaded_model_sha256(entry, opts["model"])
        if model_sha256 not in (None, "missing") and loaded != model_sha256:
            raise FileStepError(f"{src}: the model's weights changed during the run (expected sha256 {model_sha256[:16]}, loaded {loaded[:16]})")
        record["model_sha256"] = loaded
    derivation = f"archive-restoration {__version__} {method} {opts}"
    masks = None
    _write_frames(image, restored, dst, derivation=derivation)
    logger.debug("restored %s with %s: %d frame(s) in %.2f s", rel, method, len(restored), seconds)
    return record


def _loaded_model_sha256(entry, model_dir: str) -> str:
    """sha256 of the weights the learned restorer ``entry`` loaded from ``model_dir`` (from the model cache)."""
    from restoration.learned.modelfiles import cached_model

    return cached_model(model_dir, task=entry.learned.task)[1]["loaded_sha256"]


def evaluate_file(test: Path, reference: Path, *, rel: str, mask_path: Path | None = None, modcrop: int = 1) -> list[dict]:
    """PSNR/SSIM of each frame of ``test`` against ``reference``, whole and inside the mask.

    The data range is the reference's native range (its bit depth). With
    ``modcrop`` > 1 each reference frame is first cropped at the bottom and
    right to a multiple of it (:func:`restoration.damage.simulate.modcrop`):
    what an upscaler by that factor gives back from a downscaled odd-sized
    image.
    """
    ref_image, test_image = _read(Path(reference)), _read(Path(test))
    try:
        return _score_frames(test, reference, ref_image, test_image, rel=rel, mask_path=mask_path, modcrop=modcrop)
    except (OSError, MemoryError, FileStepError):
        raise
    except Exception as exc:  # whatever goes wrong scoring this file fails it only
        raise FileStepError(f"{test}: cannot be scored against {reference}: {type(exc).__name__}: {exc}") from exc


def _score_frames(test: Path, reference: Path, ref_image, test_image, *, rel: str, mask_path: Path | None, modcrop: int = 1) -> list[dict]:
    from restoration.damage.simulate import modcrop as crop_to

    if len(ref_image.frames) != len(test_image.frames):
        raise FileStepError(f"{test}: {len(test_image.frames)} frames, reference {reference} has {len(ref_image.frames)}")
    masks = _read_masks(mask_path, ref_image) if mask_path is not None else None
    rows = []
    for index, (whole, out) in enumerate(zip(ref_image.frames, test_image.frames)):
        ref = crop_to(whole, modcrop)
        mask = None if masks is None else crop_to(masks[index], modcrop)
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
        if mask is not None:
            row["hole_ratio"] = float(mask.mean())
            row["hole_psnr"] = hole_psnr(ref, out, mask, data_range=data_range)
            row["hole_ssim"] = hole_ssim(ref, out, mask, data_range=data_range)
        row["ratio_bin"] = ratio_bin(row["hole_ratio"])
        rows.append(row)
    return rows


def detect_file(src: Path, mask_dst: Path, confidence_dst: Path, *, rel: str, settings: RestoreSettings) -> dict:
    """Find the damage in every frame of ``src`` with the detector of ``settings``.

    Writes the mask to ``mask_dst`` (0/255 PNG, nonzero = damaged; a
    multi-page TIFF for a multi-frame file: the layout ``restore --masks``
    reads) and the confidence, scaled to 0-255, to ``confidence_dst`` in the
    same form.
    """
    entry = REGISTRY.get(settings.method, kind=DETECT)
    opts = _run_options(entry, settings)
    image = _read(Path(src))
    start = time.perf_counter()
    masks, confidences = [], []
    for index, frame in enumerate(image.frames):
        try:
            found = detect_frame(entry, frame, options=opts, value_range=image.value_range(index))
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # whatever a detector raises fails this file only
            raise _method_failed(src, settings.method, index, exc) from exc
        masks.append(found.mask)
        confidences.append(np.rint(found.confidence * 255).astype(np.uint8))
    record = {"path": rel, "method": settings.method, "seconds": time.perf_counter() - start, "frames": len(masks)}
    record["damaged"] = float(np.mean([m.mean() for m in masks]))
    sha = _check_model(entry, opts, settings, src)
    if sha:
        record["model_sha256"] = sha
    record["output"] = str(write_mask_file(masks, mask_dst))
    record["confidence"] = str(write_map_file(confidences, confidence_dst))
    return record


#: Values of a map of synthesised pixels: filled by inpainting, changed by denoising only, original.
SYNTHESISED, DENOISED, ORIGINAL = 255, 96, 0


@dataclass(frozen=True, kw_only=True)
class RepairSettings:
    """What ``restore-archive`` does to each file: detect (or read the supplied mask), inpaint, denoise when the noise calls for it.

    ``detector`` is None when masks are supplied; ``denoiser`` None never
    denoises; a frame is denoised when its estimated noise sigma (0-255
    scale of its range) is above ``noise_threshold``.
    """

    detector: RestoreSettings | None
    inpainter: RestoreSettings
    denoiser: RestoreSettings | None
    noise_threshold: float = 4.0

    def key(self) -> dict[str, Any]:
        """The settings as they enter the job key."""
        return {
            "detector": self.detector.key() if self.detector else None,
            "inpainter": self.inpainter.key(),
            "denoiser": self.denoiser.key() if self.denoiser else None,
            "noise_threshold": self.noise_threshold,
        }


def repair_file(src: Path, dst: Path, mask_dst: Path, synthesised_dst: Path, *, rel: str, settings: RepairSettings, mask_path: Path | None = None) -> dict:
    """Restore an unmarked file: condition, damage mask (found or supplied), inpainting, denoising if noisy.

    Writes the restored file to ``dst`` (same format, bit depth and
    metadata), the damage mask to ``mask_dst`` and the map of what changed
    to ``synthesised_dst``: :data:`SYNTHESISED` where pixels were invented
    by inpainting, :data:`DENOISED` where denoising only adjusted them,
    :data:`ORIGINAL` where they are the input's. Returns the file's
    condition (means over its frames: damage fraction by kind, noise sigma,
    sharpness, clipped fraction), what was done, and the time it took.
    """
    from restoration.condition import condition_of
    from restoration.damage.detect import detect_by_kind

    image = _read(Path(src))
    supplied = _read_masks(mask_path, image) if mask_path is not None else None
    if supplied is None and settings.detector is None:
        raise FileStepError(f"{src}: no mask was supplied for {rel} and no detector was chosen")
    detector = REGISTRY.get(settings.detector.method, kind=DETECT) if settings.detector else None
    inpainter = REGISTRY.get(settings.inpainter.method, kind="inpaint")
    denoiser = REGISTRY.get(settings.denoiser.method, kind="denoise") if settings.denoiser else None
    detect_opts = _run_options(detector, settings.detector) if detector else None
    inpaint_opts = _run_options(inpainter, settings.inpainter)
    denoise_opts = _run_options(denoiser, settings.denoiser) if denoiser else None
    start = time.perf_counter()
    restored, masks, maps, conditions, denoised = [], [], [], [], []
    for index, frame in enumerate(image.frames):
        prange = image.value_range(index)
        step = "condition"
        try:
            by_kind = detect_by_kind(np.nan_to_num(frame) if np.issubdtype(frame.dtype, np.floating) else frame, value_range=prange)
            conditions.append(condition_of(frame, value_range=prange, detections=by_kind))
            step = settings.detector.method if detector else "mask"
            mask = supplied[index] if supplied is not None else detect_frame(detector, frame, options=detect_opts, value_range=prange).mask
            out = frame
            if mask.any() and not mask.all():
                step = settings.inpainter.method
                out = restore_frame(inpainter, frame, mask=mask, options=inpaint_opts, alpha=image.alpha, value_range=prange)
            noisy = denoiser is not None and conditions[-1]["noise_sigma"] > settings.noise_threshold
            if noisy:
                step = settings.denoiser.method
                out = restore_frame(denoiser, out, options=denoise_opts, alpha=image.alpha, value_range=prange)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # whatever a method raises fails this file only
            raise _method_failed(src, step, index, exc) from exc
        restored.append(_keep_depth(out, frame.dtype, image.bit_depth))
        masks.append(mask)
        maps.append(np.where(mask, SYNTHESISED, DENOISED if noisy else ORIGINAL).astype(np.uint8))
        denoised.append(noisy)
    seconds = time.perf_counter() - start
    for entry, opts, chosen in (
        (detector, detect_opts, settings.detector),
        (inpainter, inpaint_opts, settings.inpainter),
        (denoiser, denoise_opts, settings.denoiser),
    ):
        if entry is not None:
            _check_model(entry, opts, chosen, src)
    record = {"path": rel, **{k: float(np.mean([c[k] for c in conditions])) for k in conditions[0]}}
    record.update(
        damaged=float(np.mean([m.mean() for m in masks])),
        detect=settings.detector.method if supplied is None else "supplied mask",
        inpaint=settings.inpainter.method,
        denoise=settings.denoiser.method if any(denoised) else "",
        seconds=seconds,
        frames=len(restored),
    )
    done = [record["detect"], settings.inpainter.method] + ([settings.denoiser.method] if any(denoised) else [])
    derivation = f"archive-restoration {__version__} restore-archive: {', '.join(done)}"
    _write_frames(image, restored, dst, derivation=derivation)
    record["output"] = str(dst)
    record["mask"] = str(write_mask_file(masks, mask_dst))
    record["synthesised"] = str(write_map_file(maps, synthesised_dst))
    return record


#: What the scoring of detected masks computes (part of its provenance key).
DETECTION_METRICS_VERSION = f"precision, recall, f1, iou with 1-pixel tolerance; damage that changed no channel by over {VISIBLE_CHANGE:.0%} ignored"


def score_detection_file(
    predicted: Path, truth: Path | None, *, rel: str, tolerance: int = 1, clean: Path | None = None, damaged: Path | None = None
) -> list[dict]:
    """Scores of a detected mask file against the true mask file (None: a clean image, nothing damaged), one row per frame.

    Given the ``clean`` and ``damaged`` files too, true damage that left its
    pixels as they were (:func:`restoration.metrics.unchanged_damage`)
    counts neither way. Each row has the counts behind the scores
    (``correct``, ``found``, ``predicted``, ``true``) so that summaries can
    pool them, and the scores of :func:`restoration.metrics.detection_scores`.
    """
    found = _read(Path(predicted))
    planes = [m != 0 if m.ndim == 2 else (m != 0).any(axis=2) for m in found.frames]
    truths = [np.zeros_like(p) for p in planes] if truth is None else _read_masks(truth, found)
    ignores = [None] * len(planes)
    if truth is not None and clean is not None and damaged is not None:
        before, after = _read(Path(clean)), _read(Path(damaged))
        if len(before.frames) != len(planes) or len(after.frames) != len(planes):
            raise FileStepError(f"{predicted}: {len(planes)} frames, but {clean} has {len(before.frames)} and {damaged} {len(after.frames)}")
        ignores = [
            unchanged_damage(b, a, t, data_range=pixel_range(b, bit_depth=before.bit_depth).span)
            for b, a, t in zip(before.frames, after.frames, truths)
        ]  # fmt: skip
    rows = []
    for index, (plane, true_plane, ignore) in enumerate(zip(planes, truths, ignores)):
        correct, hits, n_pred, n_true = detection_counts(true_plane, plane, tolerance=tolerance, ignore=ignore)
        rows.append(
            {"path": rel, "index": index, "correct": correct, "found": hits, "predicted": n_pred, "true": n_true,
             **detection_scores(true_plane, plane, tolerance=tolerance, ignore=ignore)}
        )  # fmt: skip
    return rows
