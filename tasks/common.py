"""What every task shares: cache keys on file content, per-file error capture and provenance."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger

from restoration import __version__
from restoration.pipeline import FileStepError
from restoration.provenance import content_sha256, write_sidecar

# The library logs each file at INFO under "restoration". Prefect's root
# logger sits at WARNING, so without a level of its own those records would
# never reach the UI even with PREFECT_LOGGING_EXTRA_LOGGERS=restoration.
logging.getLogger("restoration").setLevel(os.environ.get("ARCHIVE_RESTORE_LOG_LEVEL", "INFO"))

#: Job keys that name files a task reads; their content hashes enter the job key.
INPUT_KEYS = ("src", "mask", "reference", "test")
RETRIES = 2
RETRY_DELAY_SECONDS = 1


def file_cache_key(context, parameters: dict[str, Any]) -> str:
    """Cache key: task, library version, parameters, and each job's content key.

    Jobs arrive keyed by :func:`flows.steps.key_jobs` (sha256 of every input
    file, the method, its options and the model's weights hash). Unlike
    Prefect's default policy the key leaves out the run id, so a rerun over
    unchanged files with the same settings reuses the results.
    """
    digest = hashlib.sha256()
    digest.update(f"{context.task.name}\0{__version__}\0".encode())
    digest.update(json.dumps({k: v for k, v in parameters.items() if k != "jobs"}, sort_keys=True, default=str).encode())
    for job in parameters.get("jobs", []):
        stable = {k: v for k, v in job.items() if k != "run"}  # new/changed says why a job runs, not what it makes
        if "key" not in stable:  # a job built by hand: key it on its inputs' content here
            stable["content"] = [content_sha256(job.get(k)) for k in INPUT_KEYS]
        digest.update(json.dumps(stable, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def run_jobs(jobs: list[dict], step: Callable[[dict], dict | list[dict]]) -> list[dict]:
    """Run ``step`` on each job; a file's content error becomes a failed record.

    A job with a ``sidecar`` path gets its provenance written there once its
    outputs are in place (see :mod:`restoration.provenance`).
    Operating-system errors propagate, so Prefect retries the whole batch
    (every step is idempotent: outputs are rewritten atomically).
    """
    logger = get_run_logger()
    records: list[dict] = []
    for job in jobs:
        run = job.get("run", "new")
        try:
            result = step(job)
        except (FileStepError, KeyError, ValueError) as exc:
            message = str(exc).strip("'\"")
            logger.warning("failed: %s", message)
            records.append({"path": job["rel"], "status": "failed", "error": message, "run": run, **job.get("labels", {})})
            continue
        done = [{**record, **job.get("labels", {}), "status": "ok", "error": "", "run": run} for record in (result if isinstance(result, list) else [result])]
        if job.get("sidecar"):
            write_sidecar(job["sidecar"], key=job["key"], job=job, records=done)
        records.extend(done)
    return records


TASK_OPTIONS: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAY_SECONDS,
    "cache_key_fn": file_cache_key,
    "persist_result": True,
}
