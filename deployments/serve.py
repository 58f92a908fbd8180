"""Serve the deployments from this process: ``python -m deployments.serve [--schedule FILE]``.

Needs a Prefect server (``prefect server start``, then ``PREFECT_API_URL``
set to its ``/api``). Each flow run is a fresh process that inherits the
task-runner choice and the extra loggers from here. Stop with Ctrl-C: the
schedules are paused until the next serve.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", help="Schedule file (default: $ARCHIVE_RESTORE_SCHEDULE or deployments/schedule.toml).")
    parser.add_argument("--limit", type=int, default=1, help="Flow runs at once (default 1: runs queue, they do not compete for the cores).")
    args = parser.parse_args(argv)

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from deployments.definitions import build_deployments, deployment_specs, load_config, runner_environment

    try:
        config = load_config(args.schedule)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    os.environ.update(runner_environment(config))  # before the flows (and Prefect's logging) are imported

    import threading

    from prefect import serve

    from deployments.run_names import keep_naming, name_templates

    deployments = build_deployments(config)
    stop = threading.Event()
    keep_naming(name_templates(deployment_specs(config)), stop)  # scheduled runs named as they will run, not bright-otter
    try:
        serve(*deployments, limit=args.limit)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
