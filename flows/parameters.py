"""Flow parameters as pydantic models: validated on every call, and a form in the Prefect UI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RestoreOptions(BaseModel):
    """Options of a restorer; leave a field empty for the method's default.

    A method refuses an option it does not take (``archive-restore methods``
    lists which take what).
    """

    model_config = ConfigDict(extra="forbid")

    sigma: float | None = Field(None, ge=0, description="Noise sigma on the 0-255 scale (denoisers; estimated when empty).")
    radius: float | None = Field(None, gt=0, description="Inpainting radius in pixels (telea, navier-stokes).")
    scale: int | None = Field(None, ge=2, le=8, description="Upscaling factor (bicubic, lanczos, cnn-sr).")
    model: str | None = Field(None, description="Model directory of a learned method (default: the shipped model).")
    tile: int | None = Field(None, ge=64, description="Largest square a learned network sees at once.")
    quality: str | None = Field(None, description="fsr: 'fast' or 'best'.")
    patch_size: int | None = Field(None, ge=3, description="exemplar: side of the copied patches (odd).")
    search_radius: int | None = Field(None, ge=1, description="exemplar: how far to look for source patches, in pixels.")

    def given(self) -> dict[str, Any]:
        """The options that were set."""
        return self.model_dump(exclude_none=True)
