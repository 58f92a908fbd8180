"""Where a flow's tasks run: a bounded thread pool, or a Dask cluster (local or remote)."""

from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

from flows.steps import default_workers

TASK_RUNNERS = ("threads", "dask")
#: Environment that sets the runner a flow gets when its module is imported:
#: how a served or worker-run deployment (a fresh process per flow run) is
#: sent to Dask. The command line's --task-runner/--dask-address override it.
RUNNER_ENV = "ARCHIVE_RESTORE_TASK_RUNNER"
ADDRESS_ENV = "ARCHIVE_RESTORE_DASK_ADDRESS"


def task_runner(workers: int | None = None, *, kind: str | None = None, dask_address: str | None = None):
    """The task runner of a flow run.

    ``kind`` and ``dask_address`` default to the environment variables
    :data:`RUNNER_ENV` and :data:`ADDRESS_ENV` (else ``threads``).

    ``threads``: a pool of ``workers`` threads (default: the machine's
    cores); never unbounded. ``dask``: prefect-dask's ``DaskTaskRunner`` on
    the cluster at ``dask_address`` (``tcp://host:8786``), or, without an
    address, on a LocalCluster of ``workers`` single-threaded worker
    processes started for this run (no dashboard: nothing listens beyond
    the run).
    """
    kind = kind or os.environ.get(RUNNER_ENV) or "threads"
    dask_address = dask_address or os.environ.get(ADDRESS_ENV) or None
    if kind == "threads":
        if dask_address:
            raise ValueError("--dask-address needs --task-runner dask")
        return ThreadPoolTaskRunner(max_workers=workers or default_workers())
    if kind != "dask":
        raise ValueError(f"unknown task runner {kind!r}; choose from: {', '.join(TASK_RUNNERS)}")
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": workers or default_workers(), "threads_per_worker": 1, "processes": True, "dashboard_address": None},
    )


def with_runner(flow, *, workers: int | None = None, kind: str | None = None, dask_address: str | None = None):
    """``flow`` set to run its tasks on :func:`task_runner`."""
    return flow.with_options(task_runner=task_runner(workers, kind=kind, dask_address=dask_address))
