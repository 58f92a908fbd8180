"""Flow parameters as pydantic models, built from the registry: a form in the Prefect UI, checked by the registry on every run.

``RestoreOptions`` (and ``DetectOptions``) has one field per option of the registered restorers (detectors)
(their functions' keyword-only parameters), with the help and bounds of
:data:`restoration.options.OPTIONS`. It is built when first asked for and
again whenever the registry's restorers change, so a restorer registered
later appears in the form with no edit here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from restoration.registry import DETECT, REGISTRY, RESTORER_KINDS


class OptionsForm(BaseModel):
    """Options of a restorer; leave a field empty for the method's default.

    A method refuses an option it does not take, and every value is checked
    against its bounds when the run starts (``archive-restore methods``
    lists which method takes what; ``restoration/options.py`` the bounds).
    """

    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """The options that were set."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.model_dump(exclude_none=True).items()}


_BUILT: dict[tuple, type[OptionsForm]] = {}


def options_model(name: str, kinds: str | tuple[str, ...]) -> type[OptionsForm]:
    """An options form called ``name`` with one field per option of the entries of ``kinds`` registered now (the same class while they stay the same)."""
    table = REGISTRY.option_bounds(kind=kinds)
    fields = {option: (bound.value_type, REGISTRY.option_help(option, kind=kinds)) for option, (bound, _) in table.items()}
    key = (name, *fields.items())
    if key not in _BUILT:
        _BUILT[key] = create_model(
            name,
            __base__=OptionsForm,
            __doc__=OptionsForm.__doc__,
            **{option: (Optional[kind], Field(None, description=text)) for option, (kind, text) in fields.items()},
        )
    return _BUILT[key]


def restore_options_model() -> type[OptionsForm]:
    """The ``RestoreOptions`` form of the restorers registered now."""
    return options_model("RestoreOptions", RESTORER_KINDS)


def detect_options_model() -> type[OptionsForm]:
    """The ``DetectOptions`` form of the detectors registered now."""
    return options_model("DetectOptions", DETECT)


def __getattr__(name: str):
    if name == "RestoreOptions":
        return restore_options_model()
    if name == "DetectOptions":
        return detect_options_model()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
