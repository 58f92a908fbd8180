"""What every per-file task shares: skip-or-run by provenance, per-file error capture, retries of transient I/O.

A batch task gets jobs (paths and settings only). For each job it hashes
the inputs, checks the job's sidecar (:mod:`restoration.provenance`) and
either returns the recorded result (``run="skipped"``) or runs the step and
writes the sidecar. Whatever goes wrong with one file fails that file only,
with its reason; a transient OS error (:func:`restoration.io.is_transient`)
is tried again for that file, with a growing pause, before it fails it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE

from restoration.io import is_transient
from restoration.provenance import content_sha256, finished_records, job_key, write_sidecar

# The library logs under "restoration". Prefect's root logger sits at
# WARNING, so without a level of its own those records would never reach
# the UI even with PREFECT_LOGGING_EXTRA_LOGGERS=restoration.
logging.getLogger("restoration").setLevel(os.environ.get("ARCHIVE_RESTORE_LOG_LEVEL", "INFO"))

#: Job keys that name files a task reads; their content hashes enter the job key.
INPUT_KEYS = ("src", "mask", "reference", "test")
#: Tries of one file when its I/O fails transiently, and the first pause (doubling, at most 2 s).
FILE_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 0.05
#: Task-level retries: only for a transient OS error raised outside the per-file loop.
TASK_RETRIES = 2
TASK_RETRY_DELAY_SECONDS = 1


def failed_record(job: dict, error: str) -> dict:
    """The record of a job that could not be done."""
    return {"path": job["rel"], "status": "failed", "error": error, "run": job.get("run", "new"), **job.get("labels", {})}


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong: the message, with the error's type where the message alone is vague."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename or ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    message = str(exc).strip().strip("'\"")
    if isinstance(exc, ValueError) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _attempt(job: dict, step: Callable[[dict], dict | list[dict]]) -> list[dict]:
    hashes = {name: content_sha256(job.get(name)) for name in INPUT_KEYS if name in job}
    key = job_key(job["step"], hashes, job.get("settings", {}))
    state = "new"
    if job.get("sidecar"):
        state, done = finished_records(job["sidecar"], key)
        if done is not None:
            return [{**record, "run": "skipped"} for record in done]
    result = step(job)
    labels = job.get("labels", {})
    records = [{**record, **labels, "status": "ok", "error": "", "run": state} for record in (result if isinstance(result, list) else [result])]
    if job.get("sidecar"):
        write_sidecar(job["sidecar"], key=key, job={**job, "sha256": hashes}, records=records)
    return records


def run_job(job: dict, step: Callable[[dict], dict | list[dict]]) -> list[dict]:
    """Records of one job: skipped by its sidecar, done, or failed with the reason. Never raises for the file."""
    logger = get_run_logger()
    for attempt in range(1, FILE_ATTEMPTS + 1):
        try:
            return _attempt(job, step)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # one file's failure must not take its batch-mates with it
            if is_transient(exc) and attempt < FILE_ATTEMPTS:
                pause = min(2.0, RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
                logger.debug("transient error on %s (try %d): %s; again in %.2f s", job["rel"], attempt, exc, pause)
                time.sleep(pause)
                continue
            message = error_text(exc)
            logger.warning("failed: %s: %s", job["rel"], message)
            logger.debug("failure of %s", job["rel"], exc_info=True)
            return [failed_record(job, message)]
    raise AssertionError("unreachable")


def run_jobs(jobs: list[dict], step: Callable[[dict], dict | list[dict]]) -> list[dict]:
    """Run ``step`` on each job (see :func:`run_job`); one record per file, or per frame for evaluation."""
    records: list[dict] = []
    for job in jobs:
        records.extend(run_job(job, step))
    return records


def _retry_if_transient(task, task_run, state) -> bool:
    """Retry a batch only for a transient OS error; anything else would only fail again."""
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


TASK_OPTIONS: dict[str, Any] = {
    "retries": TASK_RETRIES,
    "retry_delay_seconds": TASK_RETRY_DELAY_SECONDS,
    "retry_condition_fn": _retry_if_transient,
    "cache_policy": NO_CACHE,  # what a rerun skips is decided by the sidecars, not by a second cache
}
