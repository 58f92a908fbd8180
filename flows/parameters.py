"""Flow parameters as pydantic models: a form in the Prefect UI, checked by the registry on every run."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from restoration.options import OPTIONS


def _field(name: str) -> Any:
    """A form field with the option's help; its bounds are checked by the registry, the one place for them."""
    return Field(None, description=OPTIONS[name].help)


class RestoreOptions(BaseModel):
    """Options of a restorer; leave a field empty for the method's default.

    A method refuses an option it does not take, and every value is checked
    against its bounds when the run starts (``archive-restore methods``
    lists which method takes what; ``restoration/options.py`` the bounds).
    """

    model_config = ConfigDict(extra="forbid")

    sigma: float | None = _field("sigma")
    radius: float | None = _field("radius")
    scale: int | None = _field("scale")
    model: str | None = _field("model")
    tile: int | None = _field("tile")
    quality: str | None = _field("quality")
    patch_size: int | None = _field("patch_size")
    search_radius: int | None = _field("search_radius")

    def given(self) -> dict[str, Any]:
        """The options that were set."""
        return self.model_dump(exclude_none=True)
