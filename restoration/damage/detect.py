"""Classical damage detectors: one per kind of damage, and their union.

Every detector takes an image of any dtype and channels and returns a
:class:`Detection`: a bool (H, W) mask, True where the pixel is judged
damaged, and a float32 (H, W) confidence in [0, 1]. Pixel values are read
on the scale of ``value_range`` (the frame's bit depth, as for every method),
so a 12-bit DICOM and an 8-bit PNG are judged alike; colour is read as luma
except by :func:`detect_stains`, which also looks at the tint. Thresholds
are in units of the image's own robust noise and texture level, so they
carry from one archive to another; ``sensitivity`` above 1 finds fainter
damage and flags more clean pixels, below 1 the reverse.

Hand-written where no library has the method: scikit-image and OpenCV give
the filters (top-hats, medians, hysteresis, labelling), not detectors of
scratches or dust.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold

from restoration.pixels import range_of, to_unit

#: ITU-R BT.601 luma weights.
LUMA = np.array([0.299, 0.587, 0.114])
#: Kinds the union detector (:func:`detect_classical`) runs by default, in order. Stains are
#: left out: a single image does not tell a stain from a shadow or a dark object
#: (BENCHMARKS.md: several per cent of clean pixels flagged), so they are asked for by name.
CLASSICAL_KINDS = ("holes", "scratches", "spots", "dead-pixels")


#: The spot detector's structuring element as a fraction of the image's smaller side.
SPOT_SCALE = 0.03

#: Pixels of a flat region with a cut edge that make it a hole at any value (not only black or white).
LARGE_FLAT = 400


class Detection(NamedTuple):
    """A detector's answer for one frame."""

    mask: np.ndarray
    """bool (H, W): True where damaged."""
    confidence: np.ndarray
    """float32 (H, W) in [0, 1]: how sure the detector is that the pixel is damaged."""


def gray_unit(image: np.ndarray, *, value_range=None) -> np.ndarray:
    """``image`` as float32 gray on the [0, 1] scale of ``value_range`` (luma for colour; alpha dropped; NaN kept)."""
    unit = to_unit(image, range_of(image, value_range))
    if unit.ndim == 3:
        unit = unit[..., :3] @ LUMA if unit.shape[2] >= 3 else unit[..., 0]
    return unit.astype(np.float32)


def _robust_sigma(values: np.ndarray) -> float:
    """Standard deviation from the median absolute deviation (robust to the damage itself)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1e-6
    if values.size > 2_000_000:  # a fixed subsample is as good and keeps big frames cheap
        values = values[:: values.size // 1_000_000]
    mad = float(np.median(np.abs(values - np.median(values))))
    return max(1.4826 * mad, 1e-6)


def noise_sigma_unit(gray: np.ndarray) -> float:
    """Noise sigma of a [0, 1] gray plane from its finest detail (Immerkaer's Laplacian mask, robust form).

    References
    ----------
    Immerkaer, "Fast noise variance estimation", CVIU 1996.
    """
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(gray, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
    return _robust_sigma(response[1:-1, 1:-1]) / 6.0


def _square(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def _top_hats(gray: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright and dark structures narrower than ``size`` pixels (white and black top-hats)."""
    element = _square(size)
    bright = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, element, borderType=cv2.BORDER_REFLECT)
    dark = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, element, borderType=cv2.BORDER_REFLECT)
    return bright, dark


def _line_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised one-pixel line kernel of ``length`` at ``angle`` (radians)."""
    centre = length // 2
    kernel = np.zeros((length, length), np.float32)
    dx, dy = math.cos(angle) * centre, math.sin(angle) * centre
    cv2.line(kernel, (int(round(centre - dx)), int(round(centre - dy))), (int(round(centre + dx)), int(round(centre + dy))), 1.0, 1)
    return kernel / kernel.sum()


def _shifted(values: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``values`` moved so that pixel (y, x) holds the value at (y + dy, x + dx); edges repeat."""
    pad = max(abs(dy), abs(dx))
    if pad == 0:
        return values
    padded = cv2.copyMakeBorder(values, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    h, w = values.shape
    return padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def _local_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of a non-negative response over ``window`` pixels around each pixel: the level of the texture there.

    A median, not a mean: damage is sparse, so it does not raise the level
    it is judged against. Computed on a copy a quarter the size, quantised
    to 8 bits (OpenCV's histogram median), and brought back to full size.
    """
    h, w = values.shape
    top = float(np.percentile(values, 99.5)) or 1e-6
    small = cv2.resize(values, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    eight = np.clip(small / top * 255, 0, 255).astype(np.uint8)
    size = max(3, (window // 4) | 1)
    level = _median(eight, size).astype(np.float32) * (top / 255)
    return cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR)


def _confidence(z: np.ndarray, threshold: float) -> np.ndarray:
    """A score in units of the threshold mapped to [0, 1]; 0.5 at the threshold."""
    return np.clip(0.5 * z / threshold, 0.0, 1.0).astype(np.float32)


def detect_scratches(image: np.ndarray, *, sensitivity: float = 1.0, value_range=None) -> Detection:
    """Thin scratches, cracks and hairs: ridges integrated along lines, hysteresis, length and shape filters.

    At 16 orientations, the mean along a 15-pixel line through each pixel is
    compared with the means along the parallel lines 4 pixels to either
    side: a scratch departs from both sides the same way, an edge from one
    side only, and averaging along the line raises a faint line above the
    texture (its departure adds up along the line, the texture's does not).
    The strongest departure over orientations is measured in robust sigmas
    of its own spread over the image, or against its median over the 41 x
    41 pixels around, where that is higher (busy texture, text). A hysteresis threshold follows a
    line through its faint parts; connected pieces shorter than 3 % of the
    image's smaller side (at least 12 pixels), or not elongated, are
    dropped, and of the rest only the pixels that stand out from their
    7-pixel surroundings (top-hats) by half the line's contrast are kept.

    References
    ----------
    Kokaram, "Motion picture restoration", Springer 1998 (line scratches);
    Steger, "An unbiased detector of curvilinear structures", IEEE PAMI 1998.
    """
    gray = np.nan_to_num(gray_unit(image, value_range=value_range))
    h, w = gray.shape
    length = 15 if min(h, w) >= 64 else 7
    response = np.zeros_like(gray)
    offset = 4
    for k in range(16):
        angle = math.pi * k / 16
        along = cv2.filter2D(gray, cv2.CV_32F, _line_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
        # The parallel lines to either side are the same means, moved across the line.
        ny, nx = int(round(math.cos(angle) * offset)), int(round(-math.sin(angle) * offset))
        a = cv2.subtract(along, _shifted(along, ny, nx))
        b = cv2.subtract(along, _shifted(along, -ny, -nx))
        # A line stands out from both sides the same way; an edge from one side only:
        # min(|a|, |b|) where a and b agree in sign, else 0 (OpenCV's element-wise ops: threaded, no temporaries of numpy's).
        line = cv2.add(cv2.max(cv2.min(a, b), 0.0), cv2.max(-cv2.max(a, b), 0.0))
        cv2.max(response, line, dst=response)
    noise = noise_sigma_unit(gray)
    spread = max(_robust_sigma(response), 1.5 * noise / math.sqrt(length))
    texture = _local_median(response, 41)  # busy surroundings (grass, text) need a stronger line
    z = (response - texture) / np.maximum(spread, 1.5 * texture) * sensitivity
    high, low = 12.0, 5.0
    candidates = apply_hysteresis_threshold(z, low, high)
    min_length = max(12, int(0.03 * min(h, w)))
    mask = _keep_elongated(candidates, min_length=min_length, elongation=4.0)
    bright, dark = _top_hats(gray, 7)
    mask &= np.maximum(bright, dark) > 0.5 * response  # the line's own pixels, not the band its response spreads over
    return Detection(mask, np.where(mask, np.maximum(_confidence(z, high), 0.5), np.minimum(_confidence(z, high), 0.49)).astype(np.float32))


def _keep_elongated(candidates: np.ndarray, *, min_length: int, elongation: float) -> np.ndarray:
    """Connected pieces whose longer extent reaches ``min_length`` and that are ``elongation`` times longer than wide."""
    labels, count = ndimage.label(candidates, structure=np.ones((3, 3)))
    if count == 0:
        return np.zeros_like(candidates, bool)
    keep = np.zeros(count + 1, bool)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    for index, region in enumerate(ndimage.find_objects(labels), start=1):
        if region is None:
            continue
        extent = math.hypot(region[0].stop - region[0].start, region[1].stop - region[1].start)
        width = areas[index] / max(extent, 1.0)  # mean width of a thin piece
        keep[index] = extent >= min_length and extent >= elongation * width
    return keep[labels]


def detect_spots(image: np.ndarray, *, sensitivity: float = 1.0, value_range=None) -> Detection:
    """Dust, specks and spots: compact dark or bright blobs against their surroundings (top-hats with an area filter).

    The structuring element is about 3 % of the image's smaller side (at
    least 7 pixels), so blobs up to that size stand out; a blob is kept
    when its contrast is well above the local texture, its area between 2
    pixels and a quarter of the element's, and it is not elongated (thin
    lines are :func:`detect_scratches`').
    """
    gray = np.nan_to_num(gray_unit(image, value_range=value_range))
    h, w = gray.shape
    size = max(7, int(SPOT_SCALE * min(h, w)) | 1)
    bright, dark = _top_hats(gray, size)
    contrast = np.maximum(bright, dark)
    noise = noise_sigma_unit(gray)
    level = np.maximum(_local_median(contrast, 4 * size + 1), 1.5 * noise)
    z = contrast / level * sensitivity
    high = 10.0
    candidates = apply_hysteresis_threshold(z, high / 2, high) & (contrast > 4.0 * noise / sensitivity)
    labels, count = ndimage.label(candidates, structure=np.ones((3, 3)))
    mask = np.zeros((h, w), bool)
    if count:
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        keep = np.zeros(count + 1, bool)
        for index, region in enumerate(ndimage.find_objects(labels), start=1):
            if region is None:
                continue
            extent = max(region[0].stop - region[0].start, region[1].stop - region[1].start)
            keep[index] = 2 <= areas[index] <= size * size and extent <= size and areas[index] >= 0.25 * extent * extent / 2
        mask = keep[labels]
        mask = cv2.dilate(mask.astype(np.uint8), _square(3)).astype(bool) & (z > high / 4)  # the soft rim of each speck
    return Detection(mask, np.where(mask, np.maximum(_confidence(z, high), 0.5), np.minimum(_confidence(z, high), 0.49)).astype(np.float32))


def detect_stains(image: np.ndarray, *, sensitivity: float = 1.0, value_range=None) -> Detection:
    """Stains, foxing and blotches: broad regions that depart from a smooth local background in tone or tint.

    Works on a copy at most 512 pixels a side. The background is a median
    over about a third of the image; the departure is smoothed, so that
    texture (which departs both ways at fine scale) averages out while a
    stain (which shifts a whole region one way) does not. Colour images add
    the departure of the tint (the a*, b* chroma of CIELAB). Regions
    smaller than 0.2 % of the image are dropped.
    """
    unit = to_unit(image, range_of(image, value_range))
    h, w = unit.shape[:2]
    factor = max(1, int(math.ceil(max(h, w) / 512)))
    small_size = (max(1, w // factor), max(1, h // factor))
    gray = np.nan_to_num(gray_unit(image, value_range=value_range))
    small = cv2.resize(gray, small_size, interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    window = max(5, int(min(sh, sw) / 3) | 1)
    smooth = max(1.0, min(sh, sw) / 80)

    def departure(plane: np.ndarray) -> np.ndarray:
        eight = np.clip(plane * 255, 0, 255).astype(np.uint8)
        background = _median(eight, window).astype(np.float32) / 255
        return cv2.GaussianBlur(plane - background, (0, 0), smooth)

    d = departure(small)
    spread = _robust_sigma(d)
    score = np.abs(d) / max(spread, 0.01)
    if unit.ndim == 3 and unit.shape[2] >= 3:
        rgb = cv2.resize(np.nan_to_num(np.clip(unit[..., :3], 0, 1)).astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        tint = np.hypot(departure(lab[..., 1] / 255 + 0.5), departure(lab[..., 2] / 255 + 0.5))
        score = np.maximum(score, tint / max(_robust_sigma(tint), 0.005))
    z = score * sensitivity
    high = 8.0
    candidates = apply_hysteresis_threshold(z, high / 2, high)
    labels, count = ndimage.label(candidates)
    if count:
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        keep = areas >= 0.002 * sh * sw
        keep[0] = False
        candidates = keep[labels]
    z_full = cv2.resize(z.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(candidates.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return Detection(mask, np.where(mask, np.maximum(_confidence(z_full, high), 0.5), np.minimum(_confidence(z_full, high), 0.49)).astype(np.float32))


def _median(eight: np.ndarray, window: int) -> np.ndarray:
    """Median over a square ``window`` of a uint8 plane (OpenCV's histogram median takes any odd size on uint8)."""
    if window <= 255:
        return cv2.medianBlur(eight, window)
    return ndimage.median_filter(eight, size=window, mode="reflect")


def detect_holes(image: np.ndarray, *, sensitivity: float = 1.0, value_range=None) -> Detection:
    """Holes, tears and missing corners: flat regions where the image holds no detail at all.

    A pixel whose 3 x 3 neighbourhood is constant (to a quarter of the
    quantisation step) is flat. A flat region is a hole when its edge is a
    cut: nearly all the pixels just outside it jump away from its value (at
    most 35 % within 8 % of the range of it) and are not flat themselves (a
    clipped highlight creeps up to the extreme; a drawing's flat areas meet
    other flat areas); and when it sits at an end of the range (paper white,
    backing black) with at least 16 pixels, or covers at least
    :data:`LARGE_FLAT` pixels divided by ``sensitivity`` at any value. Real content is never
    that flat in a scan: grain and noise see to it. An image of fewer than
    16 distinct values (bitonal, posterised) is all flat regions: nothing is
    flagged in it.
    """
    gray = gray_unit(image, value_range=value_range)
    finite = np.isfinite(gray)
    gray = np.nan_to_num(gray)
    h, w = gray.shape
    step = 1.0 / 255 if not np.issubdtype(image.dtype, np.integer) else 1.0 / max(range_of(image, value_range).span, 1.0)
    tolerance = 0.25 * step * sensitivity  # constant to within a quarter of a quantisation step: no grain at all
    element = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(gray, element) - cv2.erode(gray, element)
    flat = (spread <= tolerance) & finite  # constant 3 x 3 neighbourhoods: regions of different values never touch
    labels, count = ndimage.label(flat)
    mask = np.zeros((h, w), bool)
    if count and len(np.unique(gray[:: max(1, h // 256), :: max(1, w // 256)])) < 16:
        count = 0  # a bitonal or posterised image (a line drawing, a fax): flat regions are its content
    if count:
        index = np.arange(count + 1)
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        fills = np.asarray(ndimage.mean(gray, labels, index=index))
        # The ring of pixels just outside each flat region: a hole's is the image's
        # content, cut off with a jump; a clipped highlight's creeps up to the
        # extreme, and the ring of a flat area in a drawing is flat itself.
        grown = cv2.dilate(labels.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int64)
        ring = (grown > 0) & ~cv2.dilate((labels > 0).astype(np.uint8), element).astype(bool)  # outside the region's own rim
        ring_labels = np.where(ring, grown, 0)
        outer = cv2.dilate(labels.astype(np.float32), np.ones((7, 7), np.uint8)).astype(np.int64)
        outer_labels = np.where((outer > 0) & (grown == 0), outer, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            close = np.abs(gray - fills[grown.clip(0, count)]) < 0.08 / sensitivity
            creeping = np.asarray(ndimage.mean(close, ring_labels, index=index))
            ring_flat = np.asarray(ndimage.mean(spread <= 4 * tolerance + step, outer_labels, index=index))
        cut = (np.nan_to_num(creeping, nan=1.0) < 0.35) & (np.nan_to_num(ring_flat, nan=1.0) < 0.5)
        extreme = (fills <= 0.02) | (fills >= 0.98)
        large = areas >= LARGE_FLAT / sensitivity
        keep = cut & ((extreme & (areas >= 16)) | large)
        keep[0] = False
        mask = cv2.dilate(keep[labels].astype(np.uint8), element).astype(bool)  # the region's own rim
    confidence = np.where(mask, 1.0, np.where(flat, 0.3, 0.0)).astype(np.float32)
    return Detection(mask, confidence)


def detect_dead_pixels(image: np.ndarray, *, sensitivity: float = 1.0, value_range=None) -> Detection:
    """Detector faults: dead or stuck rows and columns, and stuck, hot or dead single pixels (impulse noise).

    A row (column) is dead when it departs from the mean of its two
    neighbours consistently along its length (the median of the departure
    is above 6 noise sigmas and 3 % of the range, and 80 % of its pixels
    agree in sign). A single pixel is stuck when it departs from the median
    of its 3 x 3 neighbourhood by more than 8 noise sigmas and a quarter of
    the range (fine texture departs less), and from every one of its 8
    neighbours in the same direction.
    """
    gray = np.nan_to_num(gray_unit(image, value_range=value_range))
    h, w = gray.shape
    mask = np.zeros((h, w), bool)
    score = np.zeros((h, w), np.float32)
    noise = max(noise_sigma_unit(gray), 1.0 / 255)
    for axis in (0, 1):
        if gray.shape[axis] < 5:
            continue
        plane = gray if axis == 0 else gray.T
        departure = plane[1:-1] - 0.5 * (plane[:-2] + plane[2:])
        typical = np.median(departure, axis=1)
        agreeing = np.mean(np.sign(departure) == np.sign(typical)[:, None], axis=1)
        strong = np.abs(typical) > max(6.0 * noise, 0.03) / sensitivity
        rows = np.flatnonzero(strong & (agreeing >= 0.8)) + 1
        line = np.zeros(plane.shape, bool)
        line[rows] = True
        mask |= line if axis == 0 else line.T
    if mask.any():
        score[mask] = 1.0
    ring = np.ones((3, 3), np.uint8)
    ring[1, 1] = 0  # the 8 neighbours, not the pixel itself
    lowest = cv2.erode(gray, ring, borderType=cv2.BORDER_REFLECT)
    highest = cv2.dilate(gray, ring, borderType=cv2.BORDER_REFLECT)
    departure = np.abs(gray - cv2.medianBlur(gray, 3))
    z = departure / max(8.0 * noise, 0.25) * 8.0 * sensitivity
    isolated = (gray > highest) | (gray < lowest)
    stuck = isolated & (z > 8.0)
    stuck[[0, -1], :] = False
    stuck[:, [0, -1]] = False
    mask |= stuck
    score = np.maximum(score, np.where(isolated, _confidence(z, 8.0), 0.0))
    return Detection(mask, score.astype(np.float32))


DETECTORS = {
    "holes": detect_holes,
    "scratches": detect_scratches,
    "spots": detect_spots,
    "stains": detect_stains,
    "dead-pixels": detect_dead_pixels,
}


def detect_by_kind(image: np.ndarray, *, kinds: tuple[str, ...] = tuple(DETECTORS), sensitivity: float = 1.0, value_range=None) -> dict[str, Detection]:
    """Each classical detector of ``kinds`` on ``image``: its detection by kind (for a condition report)."""
    unknown = [k for k in kinds if k not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown damage kind(s) {', '.join(unknown)}; choose from: {', '.join(DETECTORS)}")
    return {kind: DETECTORS[kind](image, sensitivity=sensitivity, value_range=value_range) for kind in kinds}


def combine(detections) -> Detection:
    """The union of several detections: a pixel is damaged when any says so; confidence is the highest."""
    detections = list(detections)
    mask = np.logical_or.reduce([d.mask for d in detections])
    confidence = np.maximum.reduce([d.confidence for d in detections])
    return Detection(mask, confidence.astype(np.float32))


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` grown by ``pixels`` in every direction (a square neighbourhood)."""
    if pixels <= 0:
        return mask
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)).astype(bool)


def detect_classical(image: np.ndarray, *, kinds: str = ",".join(CLASSICAL_KINDS), sensitivity: float = 1.0, grow: int = 0, value_range=None) -> Detection:
    """Every classical detector named in ``kinds`` (comma-separated), combined (:func:`combine`), the mask grown by ``grow`` pixels.

    Growing takes in the soft rim of a speck or the edge of a scratch, which
    an inpainter should replace too.
    """
    names = tuple(k.strip() for k in kinds.split(",") if k.strip())
    found = combine(detect_by_kind(image, kinds=names, sensitivity=sensitivity, value_range=value_range).values())
    return Detection(grow_mask(found.mask, grow), found.confidence)
