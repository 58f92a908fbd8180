"""The bounded thread pool every flow runs its tasks on."""

from prefect.task_runners import ThreadPoolTaskRunner

from flows.steps import default_workers


def task_runner(workers: int | None = None) -> ThreadPoolTaskRunner:
    """A thread pool of ``workers`` threads (default: the machine's cores); never unbounded."""
    return ThreadPoolTaskRunner(max_workers=workers or default_workers())
