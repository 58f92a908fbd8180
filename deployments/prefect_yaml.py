"""Write ``prefect.yaml`` from the schedule file: ``python -m deployments.prefect_yaml [--schedule FILE] [--check]``.

``prefect.yaml`` is what ``prefect deploy --all`` reads to register the
deployments for a process work pool. It is generated from the same
:func:`deployments.definitions.deployment_specs` that ``serve`` uses, so the
two cannot drift: ``--check`` exits 1 when the file on disk differs from
what the schedule file gives (the tests run it). Paths become relative to
the project root, where the worker runs the flows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from deployments.definitions import ScheduleConfig, deployment_specs, load_config, runner_environment

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "prefect.yaml"
POOL = "archive-restoration"
PATH_PARAMETERS = ("input", "archive", "output", "masks", "data")

HEADER = f"""\
# Generated from deployments/schedule.toml by `python -m deployments.prefect_yaml`;
# edit the schedule file and run that again, not this file.
# The same deployments as `python -m deployments.serve`, for a process work pool:
#   prefect work-pool create {POOL} --type process
#   prefect deploy --all                # from the project root
#   prefect worker start --pool {POOL}
# Paths are relative to the project root, where the worker runs the flows.
"""


def _relative(value: str | None, root: Path) -> str | None:
    if not value:
        return value
    path = Path(value)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(path, root) if path.is_absolute() and path.anchor == root.anchor else str(path)


def render(config: ScheduleConfig, *, root: Path = ROOT) -> str:
    """The text of ``prefect.yaml`` for ``config``."""
    env = {**runner_environment(config), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    deployments = []
    for spec in deployment_specs(config):
        parameters = {k: (_relative(v, root) if k in PATH_PARAMETERS else v) for k, v in spec.parameters.items()}
        deployments.append(
            {
                "name": spec.name,
                "description": spec.description.replace(str(root) + os.sep, ""),
                "entrypoint": spec.entrypoint,
                "tags": ["archive-restoration", spec.name],
                "concurrency_limit": 1,
                "schedules": [{"cron": spec.cron, "timezone": config.timezone}] if spec.cron else [],
                "parameters": parameters,
                "work_pool": {"name": POOL, "work_queue_name": "default", "job_variables": {"env": dict(env)}},
            }
        )
    body = {
        "name": "archive-restoration",
        "prefect-version": "3.8.8",
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
        "deployments": deployments,
    }
    return HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments.prefect_yaml", description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", help="Schedule file (default: $ARCHIVE_RESTORE_SCHEDULE or deployments/schedule.toml).")
    parser.add_argument("--out", default=str(TARGET), help="Where to write (default: prefect.yaml at the project root).")
    parser.add_argument("--check", action="store_true", help="Write nothing; exit 1 when the file differs from the schedule file.")
    args = parser.parse_args(argv)
    try:
        text = render(load_config(args.schedule))
    except ValueError as exc:
        print(f"prefect_yaml: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.check:
        same = out.is_file() and out.read_text() == text
        if not same:
            print(f"{out} is not what the schedule file gives: run python -m deployments.prefect_yaml", file=sys.stderr)
        return 0 if same else 1
    from restoration.io import write_bytes_atomic

    write_bytes_atomic(out, text.encode())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
