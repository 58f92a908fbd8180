"""The manifest of an archive: one row per item (frame) of every file, or one row saying why a file was not read."""

from __future__ import annotations

import os
from pathlib import Path

from restoration.archive import describe_os_error
from restoration.io import UnreadableImageError, atomic_write, file_sha256, format_of, is_transient, read_image_file

MANIFEST_COLUMNS = [
    "item_id", "sha256", "path", "index", "format", "modality", "shape",
    "dtype", "bit_depth", "status", "reason",
]  # fmt: skip


def describe_file(root: os.PathLike | str, rel: str, *, problem: str | None = None, status: str = "quarantined") -> list[dict]:
    """Manifest rows for one archive file: one per frame, or one row saying why it was not read.

    Parameters
    ----------
    root : path-like
        Archive folder.
    rel : str
        File path relative to ``root``.
    problem : str, optional
        A reason already known not to read the file (unsafe link...).
    status : str
        Status of a row with a known ``problem`` (``quarantined`` or ``left-out``).
    """
    path = Path(root) / rel
    fmt = format_of(rel)
    base = {"path": rel, "format": fmt or "", "modality": "", "shape": "", "dtype": "", "bit_depth": 0}

    def not_read(sha: str, reason: str, status: str = "quarantined") -> list[dict]:
        return [{**base, "item_id": f"{sha}:0", "sha256": sha, "index": 0, "status": status, "reason": reason}]

    if problem is not None:
        return not_read("", problem, status)
    sha = ""
    try:
        sha = file_sha256(path)
        image = read_image_file(path)
    except UnreadableImageError as exc:
        return not_read(sha, exc.reason)
    except OSError as exc:
        if is_transient(exc):
            raise  # the caller retries
        return not_read(sha, f"cannot read file: {describe_os_error(exc)}")
    return [
        {
            **base,
            "item_id": f"{sha}:{index}",
            "sha256": sha,
            "index": index,
            "modality": image.modality,
            "shape": "x".join(str(s) for s in frame.shape),
            "dtype": str(frame.dtype),
            "bit_depth": image.bit_depth,
            "status": "ok",
            "reason": "",
        }
        for index, frame in enumerate(image.frames)
    ]


def write_manifest(rows: list[dict], out_dir: os.PathLike | str) -> tuple[Path, Path]:
    """Write manifest rows as ``manifest.parquet`` and ``manifest.csv``."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS).sort_values(["path", "index"], kind="stable")
    out_dir = Path(out_dir)
    parquet = atomic_write(out_dir / "manifest.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    csv = atomic_write(out_dir / "manifest.csv", lambda tmp: frame.to_csv(tmp, index=False))
    return parquet, csv
