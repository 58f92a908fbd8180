"""What produced each output, and whether it must be produced again.

Every output of a per-file step gets a sidecar, ``<out>/.provenance/<rel>.json``,
written atomically *after* the output itself. It records the job key — a
sha256 over the inputs' content hashes, the step, the method, its options,
the model's weights hash and the library version — and the records the step
returned. A later run over the same archive skips a file when its sidecar
carries the same key and the outputs it names are still there with the
recorded size and sha256; an output truncated, edited or lost since is
redone. This is the only thing that decides what a rerun skips. A run
killed half way leaves finished files with sidecars, an output without a
sidecar (redone), or a temp file of :func:`restoration.io.atomic_write`
(removed by :func:`remove_partial_files`); none of these is mistaken for a
finished file.

Hand-written because no library keeps per-file content-addressed results
outside a workflow engine's own result store; Prefect's cache is keyed per
task run (a batch of files), so a batch that gains one new file would
recompute them all, and it does not look at the files it made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from restoration import __version__
from restoration.io import TEMP_MARKER, file_sha256, open_input, write_bytes_atomic
from restoration.io.files import content_sha256

__all__ = ["content_sha256", "finished_records", "job_key", "read_sidecar", "remove_partial_files", "sidecar_path", "write_sidecar"]

SIDECAR_DIR = ".provenance"
#: Temp files of :func:`restoration.io.atomic_write`, and only those:
#: ``.<name>.arestore-tmp-<pid>-<random><suffix>``.
PARTIAL_FILE = re.compile(r"^\..*" + re.escape(TEMP_MARKER) + r"\d+-[A-Za-z0-9_]+")


def job_key(step: str, inputs: dict[str, str | None], settings: dict[str, Any]) -> str:
    """Key of one file's job: step, library version, settings and input content hashes."""
    payload = {
        "step": step,
        "version": __version__,
        "settings": settings,
        "inputs": inputs,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def sidecar_path(out_root: os.PathLike | str, rel: str) -> Path:
    """Where the provenance of ``out_root/<rel>`` is kept."""
    return Path(out_root) / SIDECAR_DIR / f"{rel}.json"


def _stamp(path: str) -> dict[str, int]:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_sidecar(
    path: os.PathLike | str,
    *,
    key: str,
    rel: str,
    inputs: dict[str, dict[str, str | None]],
    settings: dict[str, Any],
    outputs: list[str],
    records: list[dict],
) -> Path:
    """Record that the job of ``rel`` finished with ``records``: its key, its inputs (path and sha256 by role), settings, and the stamps of its outputs."""
    body = {
        "key": key,
        "path": rel,
        "inputs": inputs,
        "settings": settings,
        "version": __version__,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "outputs": {p: {**_stamp(p), "sha256": content_sha256(p)} for p in sorted(set(outputs))},  # just written: hashed as they were
        "records": records,
    }
    return write_bytes_atomic(path, json.dumps(body, separators=(",", ":"), default=str).encode())  # compact: json's C encoder


def read_sidecar(path: os.PathLike | str) -> dict | None:
    """A sidecar's content, or None when it is missing or unreadable (the file is then redone)."""
    try:
        with open_input(path) as fh:
            body = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("records"), list) else None


def finished_records(path: os.PathLike | str, key: str) -> tuple[str, list[dict] | None]:
    """Whether the job with ``key`` is already done, by its sidecar at ``path``.

    Returns ``("done", records)`` when the sidecar has the same key and all
    its outputs are still there with the recorded size and sha256;
    otherwise ``("new", None)`` when no sidecar exists, or ``("changed",
    None)`` when the inputs, settings, model or outputs differ. Outputs are
    read in full to hash them: a file edited in place, even to the same
    size and time, is found.
    """
    body = read_sidecar(path)
    if body is None:
        return "new", None
    if body.get("key") != key:
        return "changed", None
    for output, stamp in (body.get("outputs") or {}).items():
        try:
            if os.stat(output).st_size != stamp.get("size") or file_sha256(output) != stamp.get("sha256"):
                return "changed", None
        except OSError:
            return "changed", None
    return "done", body["records"]


def remove_partial_files(root: os.PathLike | str) -> list[Path]:
    """Delete temp files that a killed :func:`~restoration.io.atomic_write` left under ``root``.

    Only names with that function's marker (:data:`PARTIAL_FILE`) are
    touched, never a user's file, and only inside ``root`` (an output
    folder, which never holds an input). Run it before a step starts
    writing into ``root``, never while another run writes there.
    """
    removed = []
    root = Path(root)
    if not root.is_dir():
        return removed
    for dirpath, _, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            if PARTIAL_FILE.match(name):
                path = Path(dirpath) / name
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
