"""Seeded damage simulation for benchmarks.

Every function takes an image of any dtype and returns ``(damaged, mask)``:
``damaged`` has the input's dtype and shape (except :func:`simulate_downscale`),
``mask`` is a bool (H, W) array, True where pixels were damaged. Noise damages
every pixel, so its mask is all True. ``sigma`` for noise is on the 0-255
scale of ``value_range``, the frame's stored range (default: the dtype's;
the pipeline passes the bit depth's, so that 25 means 25/255 of 0..4095 on
a 12-bit DICOM). The same ``rng`` seed gives the same result.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from restoration.pixels import PixelRange, from_unit, range_of, to_unit

Ratio = tuple[float, float]


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _unit(image: np.ndarray, value_range) -> tuple[np.ndarray, PixelRange]:
    prange = range_of(image, value_range)
    return to_unit(image, prange), prange


def _check_ratio(ratio: Ratio) -> Ratio:
    low, high = float(ratio[0]), float(ratio[1])
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"ratio must be 0 <= low <= high <= 1, got {ratio}")
    return low, high


def _grow_mask(shape, ratio: Ratio, rng: np.random.Generator, draw_one, *, max_tries: int = 400) -> np.ndarray:
    """Add shapes from ``draw_one`` until the damaged fraction lies in ``ratio``.

    A shape that would push the fraction past the upper bound is discarded
    and another is drawn, so the result stays inside the range whenever the
    shapes are small enough to fit.
    """
    low, high = _check_ratio(ratio)
    target = rng.uniform(low, high)
    mask = np.zeros(shape, np.uint8)
    area = mask.size
    for _ in range(max_tries):
        if mask.sum() / area >= target:
            break
        candidate = mask.copy()
        draw_one(candidate)
        if candidate.sum() / area > high:
            continue
        mask = candidate
    return mask.astype(bool)


def _paint(image: np.ndarray, mask: np.ndarray, unit_value, value_range) -> np.ndarray:
    unit, prange = _unit(image, value_range)
    value = np.broadcast_to(np.asarray(unit_value, np.float64), unit.shape[2:] or ())
    unit[mask] = value
    return from_unit(unit, prange, image.dtype)


def _size_scale(shape) -> float:
    return max(min(shape[:2]) / 256.0, 0.05)


def simulate_holes(image: np.ndarray, *, ratio: Ratio = (0.1, 0.3), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Free-form brush-stroke holes (filled with the lowest value).

    Strokes are thick random walks, in the manner of the free-form masks of
    Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019.

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, C) image.
    ratio : (float, float)
        Range the damaged fraction is drawn from.
    rng : int or Generator, optional
        Seed.
    """
    rng = _rng(rng)
    h, w = image.shape[:2]
    s = _size_scale(image.shape)

    def stroke(canvas):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        width = max(1, int(rng.uniform(6, 24) * s))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(3, 10)):
            angle += rng.normal(0, 0.9)
            length = rng.uniform(10, 50) * s
            nx = float(np.clip(x + length * np.cos(angle), 0, w - 1))
            ny = float(np.clip(y + length * np.sin(angle), 0, h - 1))
            cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, width)
            cv2.circle(canvas, (int(nx), int(ny)), width // 2, 1, -1)
            x, y = nx, ny

    mask = _grow_mask((h, w), ratio, rng, stroke)
    return _paint(image, mask, 0.0, value_range), mask


def simulate_scratches(image: np.ndarray, *, ratio: Ratio = (0.005, 0.03), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Long thin scratches, bright or dark, slightly curved.

    Mostly near-vertical, as film and print scratches run along the
    transport direction; some at any angle.
    """
    rng = _rng(rng)
    h, w = image.shape[:2]
    s = _size_scale(image.shape)
    unit, prange = _unit(image, value_range)
    values = np.zeros((h, w), np.float64)

    def scratch(canvas):
        vertical = rng.random() < 0.7
        length = rng.uniform(0.5, 1.0) * (h if vertical else max(h, w))
        angle = rng.normal(np.pi / 2, 0.15) if vertical else rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.linspace(-0.5, 0.5, 64)[:, None]
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        bend = rng.normal(0, 0.04) * length
        points = np.array([cx, cy]) + t * length * direction + (1 - 4 * t**2) * bend * normal
        width = max(1, int(round(rng.uniform(1, 2.5) * s)))
        before = canvas.copy()
        cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 1, width)
        new = (canvas > 0) & (before == 0)
        values[new] = rng.uniform(0.85, 1.0) if rng.random() < 0.5 else rng.uniform(0.0, 0.15)

    mask = _grow_mask((h, w), ratio, rng, scratch)
    shade = values[mask]
    unit[mask] = shade[:, None] if unit.ndim == 3 else shade
    return from_unit(unit, prange, image.dtype), mask


def simulate_blotches(image: np.ndarray, *, ratio: Ratio = (0.05, 0.15), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Soft-edged tinted stains (water, foxing); mask where the tint is visible."""
    rng = _rng(rng)
    h, w = image.shape[:2]
    unit, prange = _unit(image, value_range)
    channels = unit.shape[2] if unit.ndim == 3 else 1
    alpha = np.zeros((h, w), np.float64)
    tint = np.zeros((h, w, channels), np.float64)

    def blotch(canvas):
        blob = np.zeros((h, w), np.float32)
        axes = (max(1, int(rng.uniform(0.03, 0.12) * w)), max(1, int(rng.uniform(0.03, 0.12) * h)))
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.ellipse(blob, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(axes) / 3.0 + 0.5)
        strength = blob.astype(np.float64) * rng.uniform(0.7, 0.98)
        visible = strength > 0.15
        if channels >= 3:
            colour = np.array([0.55, 0.40, 0.22] + [1.0] * (channels - 3)) * rng.uniform(0.8, 1.2)
        else:
            colour = np.full(channels, rng.uniform(0.2, 0.6))
        take = visible & (strength > alpha)
        alpha[take] = strength[take]
        tint[take] = np.clip(colour, 0, 1)
        canvas[visible] = 1

    mask = _grow_mask((h, w), ratio, rng, blotch)
    a = alpha[..., None] if unit.ndim == 3 else alpha
    t = tint if unit.ndim == 3 else tint[..., 0]
    damaged = np.where(mask[..., None] if unit.ndim == 3 else mask, (1 - a) * unit + a * t, unit)
    return from_unit(damaged, prange, image.dtype), mask


def simulate_tears(image: np.ndarray, *, ratio: Ratio = (0.05, 0.2), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Missing pieces: jagged blocks, some torn in from an edge (filled white)."""
    rng = _rng(rng)
    h, w = image.shape[:2]

    def tear(canvas):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < 0.4:  # anchored on an edge
            if rng.random() < 0.5:
                cx = rng.choice([0.0, w - 1.0])
            else:
                cy = rng.choice([0.0, h - 1.0])
        radius = rng.uniform(0.04, 0.15) * min(h, w) + 1
        n = int(rng.integers(7, 14))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.5, 1.3, n)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)

    mask = _grow_mask((h, w), ratio, rng, tear)
    return _paint(image, mask, 1.0, value_range), mask


def simulate_dust(image: np.ndarray, *, ratio: Ratio = (0.002, 0.01), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Dust and specks: small dark or bright soft-edged blobs and short curled hairs.

    Film and print dust is a few pixels across; each speck is opaque at its
    centre and fades over a pixel or two. The mask covers every pixel the
    speck changed visibly (more than 10 % of its opacity).
    """
    rng = _rng(rng)
    h, w = image.shape[:2]
    s = _size_scale(image.shape)
    unit, prange = _unit(image, value_range)
    alpha = np.zeros((h, w), np.float64)
    shade = np.zeros((h, w), np.float64)

    def speck(canvas):
        blob = np.zeros((h, w), np.float32)
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        if rng.random() < 0.75:  # a speck
            axes = (max(1, int(rng.uniform(0.5, 3.0) * s)), max(1, int(rng.uniform(0.5, 3.0) * s)))
            cv2.ellipse(blob, (cx, cy), axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
        else:  # a hair: a short curled stroke
            angle, x, y = rng.uniform(0, 2 * np.pi), float(cx), float(cy)
            for _ in range(int(rng.integers(3, 8))):
                angle += rng.normal(0, 0.8)
                nx, ny = x + 4 * s * np.cos(angle), y + 4 * s * np.sin(angle)
                cv2.line(blob, (int(x), int(y)), (int(nx), int(ny)), 1.0, 1)
                x, y = nx, ny
        blob = cv2.GaussianBlur(blob, (0, 0), 0.6)
        strength = np.clip(blob * 1.4, 0, 1).astype(np.float64) * rng.uniform(0.6, 1.0)
        visible = strength > 0.1
        take = visible & (strength > alpha)
        alpha[take] = strength[take]
        shade[take] = rng.uniform(0.0, 0.12) if rng.random() < 0.7 else rng.uniform(0.88, 1.0)
        canvas[visible] = 1

    mask = _grow_mask((h, w), ratio, rng, speck, max_tries=2000)
    a = alpha[..., None] if unit.ndim == 3 else alpha
    t = shade[..., None] if unit.ndim == 3 else shade
    damaged = np.where(mask[..., None] if unit.ndim == 3 else mask, (1 - a) * unit + a * t, unit)
    return from_unit(damaged, prange, image.dtype), mask


def simulate_cracks(image: np.ndarray, *, ratio: Ratio = (0.005, 0.03), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Cracks in emulsion or paint: branching jagged dark lines, one or two pixels wide.

    Each crack is a random walk that changes direction sharply and forks;
    its pixels are pulled towards a dark ground by a random amount.
    """
    rng = _rng(rng)
    h, w = image.shape[:2]
    s = _size_scale(image.shape)
    unit, prange = _unit(image, value_range)
    depth = np.zeros((h, w), np.float64)

    def crack(canvas):
        before = canvas.copy()
        stack = [(rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * np.pi), int(rng.integers(8, 30)))]
        width = max(1, int(round(rng.uniform(1, 2) * s)))
        while stack:
            x, y, angle, steps = stack.pop()
            for _ in range(steps):
                angle += rng.normal(0, 0.5)
                nx, ny = x + rng.uniform(3, 8) * s * np.cos(angle), y + rng.uniform(3, 8) * s * np.sin(angle)
                cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, width)
                x, y = nx, ny
                if rng.random() < 0.08 and len(stack) < 4:
                    stack.append((x, y, angle + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2), int(rng.integers(4, 15))))
        new = (canvas > 0) & (before == 0)
        depth[new] = rng.uniform(0.5, 0.95)

    mask = _grow_mask((h, w), ratio, rng, crack)
    d = depth[..., None] if unit.ndim == 3 else depth
    damaged = np.where(mask[..., None] if unit.ndim == 3 else mask, unit * (1 - d) + d * 0.04, unit)  # the dark ground shows through
    return from_unit(damaged, prange, image.dtype), mask


def _full(image: np.ndarray) -> np.ndarray:
    return np.ones(image.shape[:2], bool)


def simulate_gaussian_noise(image: np.ndarray, *, sigma: float = 25.0, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Additive white Gaussian noise, ``sigma`` on the 0-255 scale (clipped to range)."""
    rng = _rng(rng)
    unit, prange = _unit(image, value_range)
    noisy = unit + rng.normal(0.0, sigma / 255.0, unit.shape)
    return from_unit(noisy, prange, image.dtype), _full(image)


def simulate_poisson_noise(image: np.ndarray, *, sigma: float = 25.0, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Shot noise whose standard deviation at mid-grey is ``sigma`` (0-255 scale)."""
    rng = _rng(rng)
    unit, prange = _unit(image, value_range)
    photons = 0.5 / max(sigma / 255.0, 1e-6) ** 2  # std at 0.5 is sqrt(0.5 / photons)
    noisy = rng.poisson(np.clip(unit, 0, 1) * photons) / photons
    return from_unit(noisy, prange, image.dtype), _full(image)


def simulate_speckle_noise(image: np.ndarray, *, sigma: float = 25.0, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative noise ``x + x * n``, ``n`` of std ``sigma``/255."""
    rng = _rng(rng)
    unit, prange = _unit(image, value_range)
    noisy = unit * (1.0 + rng.normal(0.0, sigma / 255.0, unit.shape))
    return from_unit(noisy, prange, image.dtype), _full(image)


def simulate_salt_pepper(image: np.ndarray, *, ratio: Ratio = (0.02, 0.1), rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Impulse noise: a fraction drawn from ``ratio`` of pixels set to black or white."""
    rng = _rng(rng)
    low, high = _check_ratio(ratio)
    amount = rng.uniform(low, high)
    hit = rng.random(image.shape[:2])
    mask = hit < amount
    salt = hit < amount / 2
    unit, prange = _unit(image, value_range)
    unit[mask & salt] = 1.0
    unit[mask & ~salt] = 0.0
    return from_unit(unit, prange, image.dtype), mask


def simulate_blur(image: np.ndarray, *, sigma: float = 2.0, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blur of ``sigma`` pixels (defocus, soft scans). ``rng`` is unused."""
    unit, prange = _unit(image, value_range)
    blurred = cv2.GaussianBlur(unit.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return from_unit(blurred.reshape(unit.shape), prange, image.dtype), _full(image)


def simulate_jpeg(image: np.ndarray, *, quality: int = 20, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """JPEG compression artefacts at ``quality`` (an 8-bit round trip). ``rng`` is unused."""
    unit, prange = _unit(image, value_range)
    eight = np.clip(np.rint(unit * 255), 0, 255).astype(np.uint8)
    if eight.ndim == 3 and eight.shape[2] == 3:
        eight = cv2.cvtColor(eight, cv2.COLOR_RGB2BGR)
        decoded = cv2.cvtColor(_jpeg_round_trip(eight, quality), cv2.COLOR_BGR2RGB)
    elif eight.ndim == 3:
        decoded = np.stack([_jpeg_round_trip(eight[..., c], quality) for c in range(eight.shape[2])], axis=2)
    else:
        decoded = _jpeg_round_trip(eight, quality)
    return from_unit(decoded / 255.0, prange, image.dtype), _full(image)


def _jpeg_round_trip(plane: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", plane, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def modcrop(image: np.ndarray, multiple: int) -> np.ndarray:
    """``image`` cropped at the bottom and right so that its height and width are multiples of ``multiple`` (a view).

    An image smaller than ``multiple`` on a side is returned whole (nothing would be left).
    """
    h, w = image.shape[:2]
    if min(h, w) < multiple:
        return image
    return image[: h - h % multiple, : w - w % multiple]


def simulate_downscale(image: np.ndarray, *, scale: int = 2, rng=None, value_range=None) -> tuple[np.ndarray, np.ndarray]:
    """Antialiased bicubic downscaling by ``scale`` (the smaller image is the damaged one).

    Pillow's bicubic resampling widens the kernel by the factor, as MATLAB's
    ``imresize`` does, which is how the published super-resolution test sets
    (Set5, Set14) were made. Where a side is not a multiple of ``scale``,
    the image is first cropped at the bottom and right to one ("modcrop", as
    those test sets are), so the small image is exactly 1/``scale`` of it and
    upscaling by ``scale`` gives back the cropped size: the size the
    upscalers' outputs are scored at (:func:`modcrop`). The mask is at the
    original resolution and all True. ``rng`` is unused.
    """
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    mask = _full(image)
    image = modcrop(image, int(scale))
    h, w = image.shape[:2]
    size = (max(1, w // int(scale)), max(1, h // int(scale)))
    unit, prange = _unit(image, value_range)
    planes = unit.reshape(h, w, -1).astype(np.float32)
    small = np.stack(
        [np.asarray(Image.fromarray(planes[..., c], mode="F").resize(size, Image.Resampling.BICUBIC)) for c in range(planes.shape[2])],
        axis=2,
    )
    small = small.reshape(size[::-1] + unit.shape[2:])
    return from_unit(small, prange, image.dtype), mask
