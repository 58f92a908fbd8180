"""Name scheduled runs of the served deployments as they will be named when they run.

Prefect's scheduler creates a deployment's future runs under random names
(``bright-otter``); the flow's ``flow_run_name`` applies only once a run
starts. So that the runs list says what will run from the moment a run is
scheduled, ``deployments.serve`` renames the scheduled and pending runs of
its deployments with the flow's own name template and the run's parameters
(:func:`flows.naming.format_run_name`), every :data:`INTERVAL` seconds.
Written here because Prefect has no hook for a scheduled run's name.
"""

from __future__ import annotations

import logging
import threading
from uuid import UUID

from flows.naming import format_run_name

logger = logging.getLogger(__name__)
INTERVAL = 10.0


def name_templates(specs) -> dict[str, str]:
    """``{"flow/deployment": template}`` of the deployments (:class:`deployments.definitions.DeploymentSpec`) whose flows name their runs with :func:`flows.naming.run_name`."""
    from deployments.definitions import load_flow

    found = {}
    for spec in specs:
        flow = load_flow(spec.entrypoint)
        template = getattr(flow.flow_run_name, "template", None)
        if template:
            found[f"{flow.name}/{spec.name}"] = template
    return found


def name_scheduled_runs(client, templates: dict[str, str]) -> int:
    """Rename the scheduled and pending runs of the deployments in ``templates`` (``"flow/deployment"``) that are not yet named; the number renamed."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    by_id: dict[UUID, str] = {}
    for name, template in templates.items():
        try:
            by_id[client.read_deployment_by_name(name).id] = template
        except ObjectNotFound:
            continue
    if not by_id:
        return 0
    waiting = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])))
    runs = client.read_flow_runs(flow_run_filter=waiting, deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=list(by_id))), limit=200)
    renamed = 0
    for run in runs:
        wanted = format_run_name(by_id[run.deployment_id], run.parameters)
        if run.name != wanted:
            client.update_flow_run(run.id, name=wanted)
            renamed += 1
    return renamed


def keep_naming(templates: dict[str, str], stop: threading.Event, *, interval: float = INTERVAL) -> threading.Thread:
    """A daemon thread calling :func:`name_scheduled_runs` every ``interval`` seconds until ``stop`` is set."""
    from prefect.client.orchestration import get_client

    def loop() -> None:
        while not stop.is_set():
            try:
                with get_client(sync_client=True) as client:
                    name_scheduled_runs(client, templates)
            except Exception as exc:  # the server restarting must not end the naming for good
                logger.warning("could not name the scheduled runs: %s", exc)
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="name-scheduled-runs", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    """``python -m deployments.run_names [--schedule FILE]``: keep naming the scheduled runs, beside a worker that runs prefect.yaml's deployments."""
    import argparse
    import sys

    from deployments.definitions import deployment_specs, load_config

    parser = argparse.ArgumentParser(prog="python -m deployments.run_names", description=main.__doc__.splitlines()[0])
    parser.add_argument("--schedule", help="Schedule file (default: $ARCHIVE_RESTORE_SCHEDULE or deployments/schedule.toml).")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.schedule)
    except ValueError as exc:
        print(f"run_names: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    thread = keep_naming(name_templates(deployment_specs(config)), stop)
    try:
        thread.join()
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
