"""Exemplar-based (patch-priority) inpainting after Criminisi et al.

Written here because neither scikit-image nor OpenCV ships it: OpenCV's
``xphoto`` has shift-map and FSR, scikit-image only biharmonic.
"""

from __future__ import annotations

import cv2
import numpy as np

from restoration.methods.inpaint import hole_of
from restoration.pixels import from_unit, known_range, to_unit


def inpaint_exemplar(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    patch_size: int = 9,
    search_radius: int = 48,
) -> np.ndarray:
    """Fill holes by copying whole patches from the known image, most confident edge first.

    The fill front is processed in priority order ``P = C * D``: the
    confidence ``C`` of the patch (how much of it is known) times the data
    term ``D`` (how strongly an isophote hits the front), so that linear
    structures are continued into the hole before flat areas are filled. The
    best source patch is the one with the smallest sum of squared differences
    over the target's known pixels.

    The fill itself is sequential (each patch changes the next priorities),
    but each step is vectorised: the patch search is one masked
    ``cv2.matchTemplate`` over a window, and priorities are updated only in
    the neighbourhood of the patch just filled.

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, C) image of any dtype.
    mask : ndarray
        Nonzero where pixels are damaged.
    patch_size : int
        Side of the square patches, odd.
    search_radius : int
        Source patches are searched within this many pixels of the target;
        where a large hole leaves that window without a complete patch, it
        grows until it holds a quarter as many as a full window would.

    Returns
    -------
    ndarray
        The filled image, same dtype; known pixels unchanged.

    References
    ----------
    Criminisi, Pérez and Toyama, "Region Filling and Object Removal by
    Exemplar-Based Image Inpainting", IEEE Transactions on Image Processing
    13(9):1200-1212, 2004.
    """
    if patch_size < 3 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd and at least 3, got {patch_size}")
    hole0 = hole_of(image, mask)
    if not hole0.any():
        return image.copy()

    # float32 SSDs need the known values spread over [0, 1].
    prange = known_range(image, hole0)
    unit = to_unit(image, prange).astype(np.float32)
    if unit.ndim == 2:
        unit = unit[..., None]
    h = patch_size // 2
    pad = ((h, h), (h, h), (0, 0))
    img = np.pad(unit, pad, mode="reflect")
    hole = np.pad(hole0, h, mode="constant", constant_values=False)
    H, W = hole.shape
    inside_image = np.zeros((H, W), bool)
    inside_image[h:-h, h:-h] = True

    # Valid source centres: the whole patch lies in the image and was known
    # from the start (Criminisi's source region never includes filled pixels).
    box = np.ones((patch_size, patch_size), np.float32)
    holed = cv2.filter2D((hole | ~inside_image).astype(np.float32), -1, box, borderType=cv2.BORDER_CONSTANT)
    valid_source = (holed < 0.5) & inside_image
    if not valid_source.any():
        return _fallback_fill(image, hole0)

    confidence = (~hole).astype(np.float32)
    gray = img.mean(axis=2)
    priority = np.full((H, W), -1.0, np.float32)
    confidence_cache = np.zeros((H, W), np.float32)  # C(p) from the last update

    def update(y0: int, y1: int, x0: int, x1: int) -> None:
        """Recompute fill-front priorities inside [y0:y1, x0:x1]."""
        m = 2 * h + 2
        ya, yb, xa, xb = max(y0 - m, 0), min(y1 + m, H), max(x0 - m, 0), min(x1 + m, W)
        hl = hole[ya:yb, xa:xb]
        known = (~hl).astype(np.float32)
        front = hl & (cv2.dilate(known, np.ones((3, 3), np.uint8)) > 0)
        conf = cv2.boxFilter(confidence[ya:yb, xa:xb], -1, (patch_size, patch_size), normalize=True, borderType=cv2.BORDER_CONSTANT)
        # Front normal from the smoothed mask; isophote from known gradients,
        # spread into the hole by normalised convolution.
        smooth = cv2.GaussianBlur(known, (0, 0), 1.0)
        ny = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
        nx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
        norm = np.hypot(nx, ny) + 1e-8
        g = gray[ya:yb, xa:xb].astype(np.float32)
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
        reliable = cv2.erode(known, np.ones((3, 3), np.uint8))
        weight = cv2.GaussianBlur(reliable, (0, 0), h / 2 + 0.5) + 1e-6
        gx = cv2.GaussianBlur(gx * reliable, (0, 0), h / 2 + 0.5) / weight
        gy = cv2.GaussianBlur(gy * reliable, (0, 0), h / 2 + 0.5) / weight
        data = np.abs(-gy * nx / norm + gx * ny / norm) + 1e-3
        local = np.where(front, conf * data, -1.0)
        oy0, oy1, ox0, ox1 = y0 - ya, y1 - ya, x0 - xa, x1 - xa
        priority[y0:y1, x0:x1] = local[oy0:oy1, ox0:ox1]
        confidence_cache[y0:y1, x0:x1] = conf[oy0:oy1, ox0:ox1]

    update(0, H, 0, W)
    remaining = int(hole.sum())
    for _ in range(hole.size):
        if remaining == 0:
            break
        flat = int(np.argmax(priority))
        py, px = divmod(flat, W)
        if priority[py, px] < 0:  # front lost (should not happen): refresh everything
            update(0, H, 0, W)
            flat = int(np.argmax(priority))
            py, px = divmod(flat, W)
        ty, tx = slice(py - h, py + h + 1), slice(px - h, px + h + 1)
        if py - h < 0 or px - h < 0 or py + h >= H or px + h >= W:
            # A front pixel in the padding margin cannot exist: holes are only inside.
            priority[py, px] = -1.0
            continue
        target = img[ty, tx]
        target_hole = hole[ty, tx]
        sy, sx = _best_source(img, valid_source, target, target_hole, py, px, h, search_radius)
        source = img[sy - h : sy + h + 1, sx - h : sx + h + 1]
        target[target_hole] = source[target_hole]
        confidence[ty, tx][target_hole] = confidence_cache[py, px]
        remaining -= int(target_hole.sum())
        hole[ty, tx][target_hole] = False
        gray[ty, tx] = target.mean(axis=2)
        update(py - h, py + h + 1, px - h, px + h + 1)

    filled = img[h:-h, h:-h]
    if image.ndim == 2:
        filled = filled[..., 0]
    out = from_unit(filled.astype(np.float64), prange, image.dtype)
    known = ~hole0 if image.ndim == 2 else ~hole0[..., None]
    return np.where(known, image, out).astype(image.dtype)


def _best_source(img, valid_source, target, target_hole, py, px, h, search_radius):
    """Centre of the valid source patch with the least masked SSD to ``target``.

    The window around the target is ``search_radius`` first; where a large
    hole leaves it without a complete patch, it grows by ``search_radius``
    at a time until it holds a quarter of a full window's candidates (or
    covers the image). Searching the whole image instead made one wide hole
    cost minutes per megapixel.
    """
    H, W = valid_source.shape
    weights = np.repeat((~target_hole).astype(np.float32)[..., None], img.shape[2], axis=2)
    wanted = (2 * search_radius + 1) ** 2 // 4
    radius = search_radius
    while True:
        y0, y1 = max(py - radius - h, 0), min(py + radius + h + 1, H)
        x0, x1 = max(px - radius - h, 0), min(px + radius + h + 1, W)
        window_valid = valid_source[y0 + h : y1 - h, x0 + h : x1 - h]
        whole = y0 == 0 and x0 == 0 and y1 == H and x1 == W
        count = int(window_valid.sum()) if window_valid.size else 0
        if count and (radius == search_radius or count >= wanted or whole):
            break
        if whole:
            raise ValueError("no fully known patch to copy from")
        radius += search_radius
    ssd = cv2.matchTemplate(img[y0:y1, x0:x1], target, cv2.TM_SQDIFF, mask=weights)
    ssd = np.where(window_valid, ssd, np.inf)
    iy, ix = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
    return y0 + h + iy, x0 + h + ix


def _fallback_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Too little known image for a single whole patch: use fast marching."""
    from restoration.methods.inpaint import inpaint_telea

    return inpaint_telea(image, hole, radius=5.0)
