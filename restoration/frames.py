"""Applying a restorer to one frame, whatever the frame is like.

Methods are plain functions over a whole array. :func:`restore_frame` puts
one to work on a real frame and takes care, in one place, of what no
method should have to handle itself:

- non-finite pixels of float frames (NaN, inf: "no data") keep their
  place and value; the method sees them filled from their nearest finite
  neighbour, so that they neither spread nor pull their surroundings;
- an alpha channel is left exactly as it was by denoisers (opacity is not
  noisy image content); inpainters and upscalers treat it as a channel;
- frames narrower than :data:`MIN_SIDE` pixels are edge-padded for the
  method and cropped back, so a 1-pixel-wide scan restores like any other;
- frames above :data:`WHOLE_FRAME_PIXELS` (or the method's own
  :attr:`~restoration.registry.Entry.whole_limit`) are restored in
  overlapping tiles of :data:`TILE` pixels at most, with a margin of the
  method's context (:attr:`~restoration.registry.Entry.context`), so memory
  stays bounded whatever the frame's size; inpainting skips tiles without
  damage, and a denoiser's sigma is estimated once for the whole frame;
- the frame's value range (its stored bit depth, computed once by the
  caller) goes to every method that takes ``value_range`` and to every
  tile, so a tile is scaled like the frame it comes from;
- an inpainter gets at most :data:`HOLE_BUDGET` damaged pixels in one
  call (a biharmonic fill costs about 3 KB of memory per damaged pixel):
  tiles are split, then their margins narrowed, until each holds fewer;
  only a hole so wide that a smaller crop would hold nothing known goes
  over it;
- the result's shape is checked: a method that returns anything but the
  frame's shape (times an upscaling factor) fails loudly.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy import ndimage

from restoration.methods.inpaint import hole_of
from restoration.pixels import PixelRange, range_of

#: Frames narrower or lower than this are edge-padded for the method.
MIN_SIDE = 16
#: Frames with more pixels than this are restored in tiles.
WHOLE_FRAME_PIXELS = 3072 * 3072
#: Side of the tiles' cores (each tile adds the method's context around it).
TILE = 1024
#: Crops at most this large (per side) are used to estimate a big frame's noise.
SIGMA_SAMPLE = 512
#: Most damaged pixels an inpainter gets in one call, and the smallest tile core split to reach it.
HOLE_BUDGET = 100_000
MIN_CORE = 128
#: Tiles of a big frame a detector works on at once (threads).
DETECT_THREADS = max(1, min(4, os.cpu_count() or 1))


def restore_frame(
    entry,
    frame: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    alpha: bool = False,
    value_range: PixelRange | tuple[float, float] | None = None,
) -> np.ndarray:
    """Restore one frame with the registry ``entry`` (an inpainter, denoiser or upscaler).

    Parameters
    ----------
    entry : restoration.registry.Entry
        The restorer.
    frame : ndarray
        (H, W) or (H, W, C) image of any dtype.
    mask : ndarray, optional
        (H, W), nonzero where damaged. Inpainters need it; a denoiser given
        one changes only those pixels; upscalers ignore it.
    options : dict
        The restorer's options, already checked (:meth:`Entry.check_options`).
    alpha : bool
        Whether the last channel is opacity.
    value_range : PixelRange or (low, high), optional
        The frame's stored range (its bit depth); default: the dtype's, or a
        float frame's own minimum to maximum.

    Returns
    -------
    ndarray
        Same dtype and channels; same height and width, or both times an
        integer factor for an upscaler.
    """
    options = dict(options or {})
    if entry.takes_value_range:
        options["value_range"] = range_of(frame, value_range)  # once for the frame: its tiles are scaled alike
    hole = None if mask is None or entry.kind == "upscale" else np.asarray(mask)
    if hole is not None and hole.dtype != bool:
        hole = hole != 0
    if entry.kind == "inpaint" and hole is None:
        raise ValueError(f"inpainting with {entry.name!r} needs a mask")
    if entry.kind == "inpaint":
        hole = hole_of(frame, hole)  # the shape checked, and a hole over everything refused
    if alpha and entry.kind == "denoise" and frame.ndim == 3 and frame.shape[2] >= 2:
        colour = frame[..., :-1] if frame.shape[2] > 2 else frame[..., 0]
        restored = restore_frame(entry, colour, mask=mask, options=options, value_range=value_range)
        restored = restored[..., None] if restored.ndim == 2 else restored
        return np.concatenate([restored, frame[..., -1:]], axis=2)
    out = _restore_finite(entry, frame, hole, options)
    _check_shape(entry, frame, out)
    return out


def _restore_finite(entry, frame: np.ndarray, hole: np.ndarray | None, options: dict) -> np.ndarray:
    if not np.issubdtype(frame.dtype, np.floating):
        return _restore_sized(entry, frame, hole, options)
    finite = np.isfinite(frame)
    if finite.all():
        return _restore_sized(entry, frame, hole, options)
    bad = ~(finite.all(axis=2) if frame.ndim == 3 else finite)
    if bad.all():
        return frame.copy()  # no data at all: nothing to restore
    # Nearest finite neighbour: a neutral stand-in that adds no new values.
    nearest = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    filled = frame[tuple(nearest)]
    if frame.ndim == 3:
        filled = np.where(np.isfinite(filled), filled, np.nanmedian(np.where(finite, frame, np.nan)))
    out = _restore_sized(entry, filled, hole, options)
    scale = out.shape[0] // frame.shape[0]
    keep = np.repeat(np.repeat(bad, scale, axis=0), scale, axis=1) if scale > 1 else bad
    original = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1) if scale > 1 else frame
    out[keep] = original[keep]
    return out


def _restore_sized(entry, frame: np.ndarray, hole: np.ndarray | None, options: dict) -> np.ndarray:
    h, w = frame.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        pad = ((0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w)))
        padded = np.pad(frame, pad + ((0, 0),) * (frame.ndim - 2), mode="edge")
        padded_hole = None if hole is None else np.pad(hole, pad, mode="edge")
        out = _restore_sized(entry, padded, padded_hole, options)
        scale = out.shape[0] // padded.shape[0]
        return np.ascontiguousarray(out[: h * scale, : w * scale])
    too_many_holes = entry.kind == "inpaint" and np.count_nonzero(hole) > HOLE_BUDGET
    if h * w <= _whole_limit(entry) and not too_many_holes:
        return _call(entry, frame, hole, options)
    return _restore_tiled(entry, frame, hole, options)


def _whole_limit(entry) -> int:
    """The largest frame, in pixels, ``entry`` is given whole."""
    return min(WHOLE_FRAME_PIXELS, entry.whole_limit or WHOLE_FRAME_PIXELS)


def _call(entry, frame: np.ndarray, hole: np.ndarray | None, options: dict) -> np.ndarray:
    if entry.kind == "inpaint":
        return entry.func(frame, hole, **options)
    out = entry.func(frame, **options)
    if hole is not None and entry.kind == "denoise":
        out = np.where(hole[..., None] if frame.ndim == 3 else hole, out, frame)
    return out


def estimate_frame_sigma(frame: np.ndarray, *, value_range: PixelRange | tuple[float, float] | None = None) -> float:
    """Noise sigma (0-255 scale of ``value_range``, the frame's range) from up to 16 crops spread over a big frame.

    The median of the crops' estimates: robust to a crop of pure texture,
    and it never holds the whole frame in floating point.
    """
    from restoration.methods.denoise import estimate_noise_sigma

    h, w = frame.shape[:2]
    prange = range_of(frame, value_range)
    side = min(SIGMA_SAMPLE, h, w)
    estimates = []
    for fy in (0.125, 0.375, 0.625, 0.875):
        for fx in (0.125, 0.375, 0.625, 0.875):
            y, x = int(fy * (h - side)), int(fx * (w - side))
            crop = frame[y : y + side, x : x + side]
            estimates.append(estimate_noise_sigma(crop, value_range=prange))
    return float(np.median(estimates))


def _restore_tiled(entry, frame: np.ndarray, hole: np.ndarray | None, options: dict) -> np.ndarray:
    h, w = frame.shape[:2]
    halo = int(entry.context)
    core = max(MIN_CORE, min(TILE, math.isqrt(_whole_limit(entry))))
    options = dict(options)
    if entry.kind == "denoise" and "sigma" in entry.options and options.get("sigma") is None:
        options["sigma"] = estimate_frame_sigma(frame, value_range=options.get("value_range"))
    scale = None if entry.kind == "upscale" else 1
    out = None if scale is None else (frame.copy() if hole is not None else np.empty_like(frame))
    cores = [(y0, x0, min(y0 + core, h), min(x0 + core, w)) for y0 in range(0, h, core) for x0 in range(0, w, core)]
    cores.reverse()
    while cores:
        y0, x0, y1, x1 = cores.pop()
        if hole is not None and entry.kind in ("inpaint", "denoise") and not hole[y0:y1, x0:x1].any():
            continue  # nothing damaged here: the output already holds the input
        margin = halo
        while True:
            Y0, X0, Y1, X1 = max(0, y0 - margin), max(0, x0 - margin), min(h, y1 + margin), min(w, x1 + margin)
            crop_hole = None if hole is None else hole[Y0:Y1, X0:X1]
            # A hole wider than the tile and its margin: widen until something known surrounds it.
            if entry.kind != "inpaint" or not crop_hole.all() or (Y0, X0, Y1, X1) == (0, 0, h, w):
                break
            margin *= 2
        if entry.kind == "inpaint" and np.count_nonzero(crop_hole) > HOLE_BUDGET:
            if min(y1 - y0, x1 - x0) >= 2 * MIN_CORE:
                ym, xm = (y0 + y1) // 2, (x0 + x1) // 2  # too much damage for one call: four smaller tiles
                cores += [(ym, xm, y1, x1), (ym, x0, y1, xm), (y0, xm, ym, x1), (y0, x0, ym, xm)]
                continue
            while margin > 1 and np.count_nonzero(crop_hole) > HOLE_BUDGET:  # smallest core: a narrower margin
                narrower = margin // 2
                bounds = max(0, y0 - narrower), max(0, x0 - narrower), min(h, y1 + narrower), min(w, x1 + narrower)
                if hole[bounds[0] : bounds[2], bounds[1] : bounds[3]].all():
                    break  # keep something known around the hole
                margin, (Y0, X0, Y1, X1) = narrower, bounds
                crop_hole = hole[Y0:Y1, X0:X1]
        crop = frame[Y0:Y1, X0:X1]
        result = _call(entry, crop, crop_hole, options)  # the frame's value_range: a tile is scaled like its frame
        if out is None:
            scale = max(1, result.shape[0] // crop.shape[0])
            out = np.empty((h * scale, w * scale) + frame.shape[2:], dtype=frame.dtype)
        ty, tx = (y0 - Y0) * scale, (x0 - X0) * scale
        out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = result[ty : ty + (y1 - y0) * scale, tx : tx + (x1 - x0) * scale]
    return out


def _check_shape(entry, frame: np.ndarray, out: np.ndarray) -> None:
    out = np.asarray(out)
    h, w = frame.shape[:2]
    scale = out.shape[0] // h if out.ndim >= 2 and h else 0
    expected = (h * max(scale, 1), w * max(scale, 1)) + frame.shape[2:]
    if out.shape != expected or (entry.kind != "upscale" and scale != 1):
        raise ValueError(f"{entry.name} returned an array of shape {out.shape} for a frame of shape {frame.shape}")


def detect_frame(
    entry,
    frame: np.ndarray,
    *,
    options: dict[str, Any] | None = None,
    value_range: PixelRange | tuple[float, float] | None = None,
):
    """Find the damage in one frame with the registry ``entry`` (a detector): its :class:`~restoration.damage.detect.Detection`.

    As :func:`restore_frame` does for restorers: the frame's value range
    (computed once) goes to the detector and to each tile; non-finite
    pixels ("no data") are shown to the detector as their nearest finite
    neighbour and are never flagged; frames narrower than :data:`MIN_SIDE`
    are edge-padded; frames above :data:`WHOLE_FRAME_PIXELS` are cut into
    tiles of :data:`TILE` pixels with a margin of the detector's context,
    :data:`DETECT_THREADS` at a time, so memory stays bounded. The answer's
    shape is checked.
    """
    from restoration.damage.detect import Detection

    options = dict(options or {})
    if entry.takes_value_range:
        options["value_range"] = range_of(frame, value_range)
    bad = None
    if np.issubdtype(frame.dtype, np.floating) and not np.isfinite(frame).all():
        bad = ~(np.isfinite(frame).all(axis=2) if frame.ndim == 3 else np.isfinite(frame))
        if bad.all():
            shape = frame.shape[:2]
            return Detection(np.zeros(shape, bool), np.zeros(shape, np.float32))
        nearest = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
        frame = frame[tuple(nearest)]
        if frame.ndim == 3:
            frame = np.where(np.isfinite(frame), frame, np.nanmedian(frame))
    mask, confidence = _detect_sized(entry, frame, options)
    if bad is not None:
        mask, confidence = mask & ~bad, np.where(bad, 0.0, confidence).astype(np.float32)
    return Detection(mask, confidence)


def _detect_sized(entry, frame: np.ndarray, options: dict) -> tuple[np.ndarray, np.ndarray]:
    h, w = frame.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        pad = ((0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w)))
        padded = np.pad(frame, pad + ((0, 0),) * (frame.ndim - 2), mode="edge")
        mask, confidence = _detect_sized(entry, padded, options)
        return mask[:h, :w], confidence[:h, :w]
    if h * w <= _whole_limit(entry):
        return _call_detector(entry, frame, options)
    halo = int(entry.context)
    mask = np.zeros((h, w), bool)
    confidence = np.zeros((h, w), np.float32)

    def one_tile(y0: int, x0: int) -> None:
        y1, x1 = min(y0 + TILE, h), min(x0 + TILE, w)
        Y0, X0, Y1, X1 = max(0, y0 - halo), max(0, x0 - halo), min(h, y1 + halo), min(w, x1 + halo)
        tile_mask, tile_confidence = _call_detector(entry, frame[Y0:Y1, X0:X1], options)
        mask[y0:y1, x0:x1] = tile_mask[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0]
        confidence[y0:y1, x0:x1] = tile_confidence[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0]

    # Tiles on every core (OpenCV and NumPy let go of the GIL); each writes only its own core region.
    # At most DETECT_THREADS tiles are in memory at once.
    with ThreadPoolExecutor(max_workers=DETECT_THREADS) as pool:
        list(pool.map(lambda corner: one_tile(*corner), [(y0, x0) for y0 in range(0, h, TILE) for x0 in range(0, w, TILE)]))
    return mask, confidence


def _call_detector(entry, frame: np.ndarray, options: dict) -> tuple[np.ndarray, np.ndarray]:
    mask, confidence = entry.func(frame, **options)
    mask, confidence = np.asarray(mask), np.asarray(confidence)
    if mask.shape != frame.shape[:2] or confidence.shape != frame.shape[:2]:
        raise ValueError(f"{entry.name} returned a mask of shape {mask.shape} and confidence of shape {confidence.shape} for a frame of shape {frame.shape}")
    return mask.astype(bool, copy=False), np.clip(confidence, 0, 1).astype(np.float32, copy=False)
