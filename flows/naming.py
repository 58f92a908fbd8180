"""Flow-run names that say what runs, short enough to read in the runs list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: Flow parameters that hold a path: shown in run names by their base name.
PATH_PARAMETERS = ("input", "archive", "output", "masks", "data", "restored", "reference", "table")


def short_path(value) -> str:
    """A path as a run name shows it: its base name (``/srv/archives/scans`` -> ``scans``); a list joined with ``+``."""
    if isinstance(value, (list, tuple)):
        return "+".join(short_path(v) for v in value)
    text = str(value)
    return Path(text).name or text


def run_name(template: str) -> Callable[[], str]:
    """A ``flow_run_name`` callable: ``template`` formatted with the run's parameters, paths by their base name.

    ``run_name("restore-{method}-{input}")`` names a run on
    ``/srv/archives/scans`` ``restore-nlm-scans``, not the whole absolute
    path a deployment passes.
    """

    def name() -> str:
        from prefect.runtime import flow_run

        params = dict(flow_run.parameters)
        return template.format(**{k: short_path(v) if k in PATH_PARAMETERS and v else v for k, v in params.items()})

    name.__name__ = f"run_name({template!r})"
    return name
