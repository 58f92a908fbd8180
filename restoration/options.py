"""Bounds and help of every option a user can set, in one table.

The registry checks options against it (:meth:`restoration.registry.Entry.check_options`),
and the library, the command line and runs started from the UI all go
through that one check: a bad value is refused before any work, with one
line saying which option, what it must be and what was given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Largest file decoded or produced, in pixels of all its frames (an upscaled
#: output counts too): e.g. 24000 x 22000. Restoring holds the input and
#: output arrays and the mask and works in tiles: a 16-bit RGB file at this
#: size needs about 7 GB, a 16-bit gray one about 2.7 GB (BENCHMARKS.md), so
#: two workers fit a 2-core 24 GiB machine. ``ARCHIVE_RESTORE_MAX_PIXELS``
#: (or ``archive-restore --max-pixels``) sets another.
DEFAULT_MAX_PIXELS = 2**29
MAX_PIXELS_ENV = "ARCHIVE_RESTORE_MAX_PIXELS"


@dataclass(frozen=True)
class Bound:
    """What values one option accepts.

    Attributes
    ----------
    kind : str
        ``float``, ``int``, ``str``, ``path``, ``bool`` or ``range`` (a pair ``low <= high``).
    low, high : float, optional
        Inclusive limits (for a range: of both ends).
    above : float, optional
        Exclusive lower limit (``radius > 0``).
    choices : tuple, optional
        The only values accepted.
    odd : bool
        Integers must be odd.
    multiple : int
        Integers must be a multiple of this.
    help : str
        One line for ``--help`` and the UI form.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    above: float | None = None
    choices: tuple | None = None
    odd: bool = False
    multiple: int = 1
    help: str = ""

    @property
    def value_type(self) -> type:
        """The Python type a command-line flag or a form field of this option takes (a range is text such as ``0.2-0.3``)."""
        return {"float": float, "int": int, "str": str, "path": Path, "range": str, "bool": bool}[self.kind]

    def describe(self) -> str:
        """What the option must be, in words."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        parts = {"float": "a finite number", "int": "a whole number", "str": "text", "path": "a path", "range": "a range low-high", "bool": "true or false"}[
            self.kind
        ]
        limits = []
        if self.above is not None:
            limits.append(f"above {self.above:g}")
        if self.low is not None:
            limits.append(f"at least {self.low:g}")
        if self.high is not None:
            limits.append(f"at most {self.high:g}")
        if limits:
            parts += " " + " and ".join(limits)
        if self.odd:
            parts += ", odd"
        if self.multiple > 1:
            parts += f", a multiple of {self.multiple}"
        return parts

    def check(self, name: str, value: Any) -> Any:
        """``value`` as the option's type, or ValueError naming the option and the rule."""
        try:
            checked = self._coerce(value)
        except (TypeError, ValueError):
            checked = None
        if checked is None or not self._within(checked):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return checked

    def _coerce(self, value: Any) -> Any:
        if self.kind == "bool":  # a schedule file may say "true"; a number is not a yes or a no
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False}.get(value.lower()) if isinstance(value, str) else None
        if isinstance(value, bool):
            return None
        if self.kind == "float":
            number = float(value)
            return number if math.isfinite(number) else None
        if self.kind == "int":
            number = float(value)
            return int(number) if math.isfinite(number) and number == int(number) else None
        if self.kind == "range":
            if isinstance(value, str):
                low, _, high = value.partition("-")
                value = (low, high or low)
            if not isinstance(value, Sequence) or len(value) != 2:
                return None
            low, high = float(value[0]), float(value[1])
            return (low, high) if math.isfinite(low) and math.isfinite(high) and low <= high else None
        if self.kind in ("str", "path"):
            return str(value) if isinstance(value, str) and value else None
        raise AssertionError(f"unknown option kind {self.kind!r}")

    def _within(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        values = value if self.kind == "range" else (value,) if self.kind in ("float", "int") else ()
        for v in values:
            if self.low is not None and v < self.low or self.high is not None and v > self.high:
                return False
            if self.above is not None and v <= self.above:
                return False
            if self.odd and v % 2 == 0 or self.multiple > 1 and v % self.multiple:
                return False
        return True


#: Every option by name. An entry of the registry may narrow one (its ``bounds``).
OPTIONS: dict[str, Bound] = {
    "sigma": Bound("float", low=0, high=255, help="Noise sigma on the 0-255 scale at any bit depth (denoisers: estimated when absent)."),
    "radius": Bound("float", above=0, high=100, help="Inpainting neighbourhood radius in pixels."),
    "scale": Bound("int", low=2, high=8, help="Integer upscaling factor."),
    "model": Bound("path", help="Model directory of a learned method (default: the shipped model)."),
    "tile": Bound("int", low=64, high=4096, multiple=8, help="Largest square a learned network sees at once."),
    "self_ensemble": Bound("bool", help="Average a learned network over the 8 flips and quarter turns of the image (8x the time)."),
    "quality": Bound("str", choices=("fast", "best"), help="Frequency-selective reconstruction's quality."),
    "patch_size": Bound("int", low=3, high=31, odd=True, help="Side of the copied patches (odd)."),
    "search_radius": Bound("int", low=1, high=1024, help="How far to look for source patches, in pixels."),
    "ratio": Bound("range", low=0, high=1, help="Damaged fraction, drawn from low-high (e.g. 0.2-0.3)."),
    "data_range": Bound("float", above=0, help="The data range PSNR and SSIM are computed at."),
    "sensitivity": Bound(
        "float", above=0, high=10, help="How readily a classical detector flags damage: above 1 finds fainter damage and flags more clean pixels."
    ),
    "threshold": Bound("float", above=0, high=1, help="A learned detector's decision threshold on its confidence (default: its model card's)."),
    "kinds": Bound("str", help="Comma-separated damage kinds for detect-classical: holes, scratches, spots, stains, dead-pixels."),
    "grow": Bound("int", low=0, high=10, help="Pixels a detected mask is grown by, to cover the soft rim of the damage."),
    "tolerance": Bound("int", low=0, high=10, help="Distance in pixels within which a predicted damaged pixel counts as correct."),
}

#: Narrower or different bounds of some damage kinds' options.
BLUR_SIGMA = Bound("float", above=0, high=100, help="Blur sigma in pixels.")
JPEG_QUALITY = Bound("int", low=1, high=100, help="JPEG quality (1-100).")


def check_options(options: dict[str, Any], *, bounds: dict[str, Bound] | None = None) -> dict[str, Any]:
    """Each option checked against ``bounds`` (default :data:`OPTIONS`); None values are dropped."""
    table = {**OPTIONS, **(bounds or {})}
    return {name: table[name].check(name, value) if name in table else value for name, value in options.items() if value is not None}
