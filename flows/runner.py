"""Where a flow's tasks run: a bounded thread pool, or a Dask cluster (local or remote)."""

from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

TASK_RUNNERS = ("threads", "dask")
#: Environment read when a flow run starts (:class:`RunnerFromEnvironment`):
#: how a served or worker-run deployment (a fresh process per flow run) gets
#: its task runner and workers from the schedule file
#: (:func:`deployments.definitions.runner_environment`). The command line's
#: --task-runner/--dask-address/--workers override it.
RUNNER_ENV = "ARCHIVE_RESTORE_TASK_RUNNER"
ADDRESS_ENV = "ARCHIVE_RESTORE_DASK_ADDRESS"
WORKERS_ENV = "ARCHIVE_RESTORE_WORKERS"


def check_runner_choice(kind: str | None, dask_address: str | None) -> None:
    """A ValueError naming the choices for an unknown runner ``kind``, or for a Dask address given to threads."""
    if kind is not None and kind not in TASK_RUNNERS:
        raise ValueError(f"unknown task runner {kind!r}; choose from: {', '.join(TASK_RUNNERS)}")
    if kind == "threads" and dask_address:
        raise ValueError("--dask-address needs --task-runner dask")


def task_runner(workers: int | None = None, *, kind: str | None = None, dask_address: str | None = None):
    """The task runner of a flow run.

    ``workers``, ``kind`` and ``dask_address`` default to the environment
    variables :data:`WORKERS_ENV`, :data:`RUNNER_ENV` and :data:`ADDRESS_ENV`
    (else the machine's cores, ``threads``, no address).

    ``threads``: a pool of ``workers`` threads (default: the machine's
    cores); never unbounded. ``dask``: prefect-dask's ``DaskTaskRunner`` on
    the cluster at ``dask_address`` (``tcp://host:8786``), or, without an
    address, on a LocalCluster of ``workers`` single-threaded worker
    processes started for this run (no dashboard: nothing listens beyond
    the run).
    """
    kind = kind or os.environ.get(RUNNER_ENV) or "threads"
    dask_address = dask_address or os.environ.get(ADDRESS_ENV) or None
    workers = workers or default_workers()
    check_runner_choice(kind, dask_address)
    if kind == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    # The worker processes report to the API this process uses (the command's temporary server, or the one configured):
    # without it each would start a temporary server of its own (a few seconds each, and runs the UI never sees).
    from prefect.settings import PREFECT_API_URL

    api = {"PREFECT_API_URL": PREFECT_API_URL.value()} if PREFECT_API_URL.value() else {}
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None, "env": api},
    )


def with_runner(flow, *, workers: int | None = None, kind: str | None = None, dask_address: str | None = None):
    """``flow`` set to run its tasks on :func:`task_runner`."""
    return flow.with_options(task_runner=task_runner(workers, kind=kind, dask_address=dask_address))


def default_workers() -> int:
    """Workers of a run that names none: :data:`WORKERS_ENV` (the schedule file's ``workers``), else the machine's cores."""
    return _environment_workers() or max(1, os.cpu_count() or 1)


def _environment_workers() -> int | None:
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{WORKERS_ENV}={text!r}: workers must be a whole number >= 1")
    return int(text)


class RunnerFromEnvironment(ThreadPoolTaskRunner):
    """The task runner a flow is declared with: :func:`task_runner` chosen when each run starts.

    Prefect enters ``flow.task_runner.duplicate()`` at the start of every
    flow run; this one returns the runner the environment asks for then
    (threads or Dask, and how many workers), so that importing a flow reads
    no environment and a served deployment follows its schedule file.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)  # never entered itself: only its duplicates run tasks

    def duplicate(self):
        return task_runner()
