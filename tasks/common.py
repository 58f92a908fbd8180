"""What every task shares: cache keys on file fingerprints, per-file error capture."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger

from restoration import __version__
from restoration.pipeline import FileStepError

#: Job keys that name files a task reads; their fingerprints enter the cache key.
INPUT_KEYS = ("src", "mask", "reference", "test")
RETRIES = 2
RETRY_DELAY_SECONDS = 1


def fingerprint(path: str | None) -> str:
    """Size and modification time of a file ('-' for none, 'missing' if absent)."""
    if not path:
        return "-"
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def file_cache_key(context, parameters: dict[str, Any]) -> str:
    """Cache key: task, library version, parameters, and the fingerprint of every input file.

    Unlike Prefect's default policy it leaves out the run id, so a rerun over
    unchanged files with the same method and options reuses the results.
    """
    digest = hashlib.sha256()
    digest.update(f"{context.task.name}\0{__version__}\0".encode())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    model = (parameters.get("options") or {}).get("model")
    if model:  # a retrained model in the same directory invalidates the cache
        digest.update(f"model={fingerprint(os.path.join(model, 'weights.pt'))};".encode())
    for job in parameters.get("jobs", []):
        for key in INPUT_KEYS:
            digest.update(f"{key}={fingerprint(job.get(key))};".encode())
    return digest.hexdigest()


def run_jobs(jobs: list[dict], step: Callable[[dict], dict | list[dict]]) -> list[dict]:
    """Run ``step`` on each job; a file's content error becomes a failed record.

    Operating-system errors propagate, so Prefect retries the whole batch
    (every step is idempotent: outputs are rewritten atomically).
    """
    logger = get_run_logger()
    records: list[dict] = []
    for job in jobs:
        try:
            result = step(job)
        except (FileStepError, KeyError, ValueError) as exc:
            message = str(exc).strip("'\"")
            logger.warning("failed: %s", message)
            records.append({"path": job["rel"], "status": "failed", "error": message, **job.get("labels", {})})
            continue
        for record in result if isinstance(result, list) else [result]:
            records.append({**record, **job.get("labels", {}), "status": "ok", "error": ""})
    return records


TASK_OPTIONS: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAY_SECONDS,
    "cache_key_fn": file_cache_key,
    "persist_result": True,
}
