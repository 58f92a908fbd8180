"""Damage masks: written and read beside the images they belong to, and paired with them by path."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import tifffile

from restoration.io.base import ImageFile, format_of, stem_of
from restoration.io.files import atomic_write, write_bytes_atomic
from restoration.io.images import read_image_file


def write_mask_file(masks: list[np.ndarray], path: os.PathLike | str) -> Path:
    """Write damage masks (nonzero = damaged) as 0/255 uint8.

    One mask goes to a PNG; several (one per frame of a multi-frame file) go
    to a multi-page TIFF, whatever suffix ``path`` has.
    """
    return write_map_file([np.where(np.asarray(m) > 0, 255, 0).astype(np.uint8) for m in masks], path)


def write_map_file(planes: list[np.ndarray], path: os.PathLike | str) -> Path:
    """Write uint8 maps (confidence scaled to 0-255, maps of synthesised pixels) as a PNG, or a multi-page TIFF for several frames."""
    path = Path(path)
    planes = [np.asarray(p, np.uint8) for p in planes]
    if len(planes) == 1:
        path = path.with_suffix(".png")
        ok, encoded = cv2.imencode(".png", planes[0])
        if not ok:
            raise OSError(errno.EIO, f"{path}: cannot encode map")
        return write_bytes_atomic(path, encoded.tobytes())
    path = path.with_suffix(".tif")
    return atomic_write(path, lambda tmp: tifffile.imwrite(tmp, np.stack(planes), photometric="minisblack", compression="zlib"))


def read_mask_file(path: os.PathLike | str, image: ImageFile) -> list[np.ndarray]:
    """Masks for each frame of ``image`` from a mask file (nonzero = damaged).

    A single-frame mask applies to every frame; otherwise the mask file must
    have one frame per image frame. Colour masks count any nonzero channel.

    Raises
    ------
    ValueError
        When the frame count or the shape does not match the image.
    """
    mask_file = read_image_file(path)
    planes = [m != 0 if m.ndim == 2 else (m != 0).any(axis=2) for m in mask_file.frames]
    del mask_file  # the decoded mask image is not needed once it is boolean
    if len(planes) == 1:
        planes = planes * len(image.frames)
    if len(planes) != len(image.frames):
        raise ValueError(f"{image.path}: mask {path} has {len(planes)} frames for {len(image.frames)} image frames")
    for mask, frame in zip(planes, image.frames):
        if mask.shape != frame.shape[:2]:
            raise ValueError(f"{image.path}: mask {path} is {mask.shape[0]}x{mask.shape[1]} but the image is {frame.shape[0]}x{frame.shape[1]}")
    return planes


class MaskIndex:
    """The supplied masks under a folder, listed once: ``masks_dir/<rel dir>/<stem>.*`` by archive path.

    Pairing 10,000 files with their masks reads the folder tree once
    (one ``scandir`` per subfolder), rather than listing a folder per file.
    Any image format with the file's stem counts; PNG is preferred when
    several exist, then the first name in sorted order.
    """

    def __init__(self, masks_dir: os.PathLike | str | None):
        self.root = Path(masks_dir) if masks_dir else None
        self._by_key: dict[tuple[str, str], Path] = {}
        if self.root is None or not self.root.is_dir():
            return
        for folder, subfolders, names in os.walk(self.root):
            subfolders.sort()
            parent = PurePosixPath(Path(folder).relative_to(self.root).as_posix())
            for name in sorted(names):
                fmt = format_of(name)
                if fmt is None:
                    continue
                key = (str(parent), stem_of(name))
                known = self._by_key.get(key)
                if known is None or (format_of(known) != "png" and fmt == "png"):
                    path = Path(folder) / name
                    if path.is_file():
                        self._by_key[key] = path

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, rel: str) -> Path | None:
        """The mask of archive file ``rel``, or None."""
        rel_path = PurePosixPath(rel)
        return self._by_key.get((str(rel_path.parent), stem_of(rel_path.name)))


def find_mask(masks_dir: os.PathLike | str, rel: str) -> Path | None:
    """Supplied mask for archive file ``rel``: ``masks_dir/<rel dir>/<stem>.*`` (one lookup; :class:`MaskIndex` for many).

    Any image format with that stem counts; PNG is preferred when several exist.
    """
    folder = Path(masks_dir) / PurePosixPath(rel).parent
    if not folder.is_dir():
        return None
    stem = stem_of(rel)
    found = sorted(p for p in folder.iterdir() if p.is_file() and format_of(p) and stem_of(p.name) == stem)
    found.sort(key=lambda p: format_of(p) != "png")
    return found[0] if found else None
