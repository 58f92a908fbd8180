"""Flow-run names that say what runs, short enough to read in the runs list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

#: Flow parameters that hold a path: shown in run names by their base name.
PATH_PARAMETERS = ("input", "archive", "output", "masks", "data", "restored", "reference", "table")


def short_path(value) -> str:
    """A path as a run name shows it: its base name (``/srv/archives/scans`` -> ``scans``); a list joined with ``+``."""
    if isinstance(value, (list, tuple)):
        return "+".join(short_path(v) for v in value)
    text = str(value)
    return Path(text).name or text


def format_run_name(template: str, parameters: Mapping) -> str:
    """``template`` filled from a run's ``parameters``, paths by their base name; a parameter it names but the run lacks shows as ``?``."""

    class Shown(dict):
        def __missing__(self, key):
            return "?"

    return template.format_map(Shown({k: short_path(v) if k in PATH_PARAMETERS and v else v for k, v in parameters.items()}))


def run_name(template: str) -> Callable[[], str]:
    """A ``flow_run_name`` callable: :func:`format_run_name` of ``template`` with the run's parameters.

    ``run_name("restore-{method}-{input}")`` names a run on
    ``/srv/archives/scans`` ``restore-nlm-scans``, not the whole absolute
    path a deployment passes. The template is kept as the callable's
    ``template``, so a scheduled run can be given the same name before it
    starts (:mod:`deployments.run_names`).
    """

    def name() -> str:
        from prefect.runtime import flow_run

        return format_run_name(template, flow_run.parameters)

    name.template = template
    name.__name__ = f"run_name({template!r})"
    return name
