"""What every per-file task shares: per-file error capture and retries of transient I/O around :func:`restoration.jobs.run_recorded`.

A batch task gets typed jobs (:mod:`restoration.jobs`: paths and settings
only). Each job is hashed, checked against its sidecar and either skipped
or done, on the worker that runs the batch. Whatever goes wrong with one
file fails that file only, with its reason; a transient OS error
(:func:`restoration.io.is_transient`) is tried again for that file, with a
growing pause, before it fails it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE

from restoration.io import is_transient
from restoration.jobs import Job, Record, Records, failed, run_recorded

# The library logs under "restoration". Prefect's root logger sits at
# WARNING, so without a level of its own those records would never reach
# the UI even with PREFECT_LOGGING_EXTRA_LOGGERS=restoration.
logging.getLogger("restoration").setLevel(os.environ.get("ARCHIVE_RESTORE_LOG_LEVEL", "INFO"))

#: Tries of one file when its I/O fails transiently, and the first pause (doubling, at most 2 s).
FILE_ATTEMPTS = 10
RETRY_PAUSE_SECONDS = 0.05
#: Task-level retries: only for a transient OS error raised outside the per-file loop.
TASK_RETRIES = 2
TASK_RETRY_DELAY_SECONDS = 1


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong: the message, with the error's type where the message alone is vague."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename or ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    message = str(exc).strip()
    if isinstance(exc, KeyError):  # str() of a KeyError is the key's repr
        message = message.strip("'\"")
    if isinstance(exc, ValueError) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def run_job(job: Job) -> list[Record]:
    """Records of one job: skipped by its sidecar, done, or failed with the reason. Never raises for the file."""
    for attempt in range(1, FILE_ATTEMPTS + 1):
        try:
            return run_recorded(job)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # one file's failure must not take its batch-mates with it
            if is_transient(exc) and attempt < FILE_ATTEMPTS:
                pause = min(2.0, RETRY_PAUSE_SECONDS * 2 ** (attempt - 1))
                get_run_logger().debug("transient error on %s (try %d): %s; again in %.2f s", job.rel, attempt, exc, pause)
                time.sleep(pause)
                continue
            message = error_text(exc)
            logger = get_run_logger()  # asked for only here: run_job is called once per file
            logger.warning("failed: %s: %s", job.rel, message)
            logger.debug("failure of %s", job.rel, exc_info=True)
            return [failed(job.rel, message, labels=job.labels)]
    raise AssertionError("unreachable")


def run_jobs(jobs: Iterable[Job]) -> Records:
    """Run each job (see :func:`run_job`); one record per file, or per frame for scores."""
    return Records(record for job in jobs for record in run_job(job))


def batch_run_name(step: str):
    """A task-run namer: ``<step>-<first job's name>+<how many follow>``."""

    def name(parameters: dict[str, Any]) -> str:  # Prefect passes the resolved parameters to a namer that asks for them
        jobs = parameters.get("jobs") or []
        if not jobs:
            return step
        return f"{step}-{jobs[0].name}" + (f"+{len(jobs) - 1}" if len(jobs) > 1 else "")

    return name


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
