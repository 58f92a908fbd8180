"""The one registry: every restorer, damage simulator and metric by name.

Adding a restorer is one module with its function and one ``Entry`` line in
:func:`_builtin_entries`. A function's options are its keyword-only
parameters: the registry reads them from the signature, and the command
line's flags, the UI's form (:mod:`flows.parameters`) and the benchmark
all come from here. Each option's bounds and help live in one table
(:data:`restoration.options.OPTIONS`, or an entry's ``bounds``); a misspelt
option is an error, never silently ignored, and every value is checked in
:meth:`Entry.check_options`, the one check that the library, the command
line and the UI all go through.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from restoration.options import BLUR_SIGMA, JPEG_QUALITY, OPTIONS, Bound, check_options

#: Restorer kinds, and what each call looks like.
#:   inpaint: func(image, mask, *, options..., value_range=None)
#:   denoise: func(image, *, options..., value_range=None)   (sigma on the 0-255 scale of value_range)
#:   upscale: func(image, *, options..., value_range=None)   (integer scale)
#: Detectors (kind ``detect``): func(image, *, options..., value_range=None) -> Detection(mask, confidence)
#: ``value_range`` is optional: a function that declares it gets each frame's
#: stored range (its bit depth), computed once per frame by the pipeline.
RESTORER_KINDS = ("inpaint", "denoise", "upscale")
DETECT = "detect"
KINDS = (*RESTORER_KINDS, DETECT, "damage", "metric")
#: Keyword parameters that are not user options: the frame's value range,
#: a simulator's random generator, and the pixels a detection metric leaves out.
NOT_OPTIONS = ("value_range", "rng", "ignore")


class RegistryError(ValueError):
    """An unknown name, an unavailable entry or a bad option; the message is one plain line."""


@dataclass(frozen=True)
class Learned:
    """What makes a restorer learned: the model task it runs and its shipped default.

    Attributes
    ----------
    task : str
        The model task (``archive-restore train --task``): ``denoise``,
        ``sr``, ``inpaint``, ``vae`` or ``detect``; its training recipe is
        :func:`restoration.learned.recipes.recipe_for` of it.
    default_model : str
        The shipped model's folder under ``restoration/learned/default_models``;
        ``{scale}`` is filled in for models that depend on the scale.
    recipe : str
        ``module:Class`` of its training recipe (imported when training,
        so that the registry never imports torch).
    """

    task: str
    default_model: str
    recipe: str

    def default_name(self, options: Mapping[str, Any]) -> str:
        """The shipped model's name for ``options``."""
        from restoration.methods.upscale import DEFAULT_SCALE

        return self.default_model.format(scale=int(options.get("scale") or DEFAULT_SCALE))


@dataclass(frozen=True)
class Entry:
    """A named capability.

    Attributes
    ----------
    name : str
        Name used on the command line (``telea``, ``holes``, ``psnr``).
    kind : str
        One of :data:`KINDS`.
    func : callable
        The library function; its keyword-only parameters (less
        :data:`NOT_OPTIONS`) are the entry's options.
    summary : str
        One line for ``archive-restore methods``.
    requires : str, optional
        Module of an optional dependency; the entry is unavailable without it.
    repaired_by : str, optional
        For damage: the restorer kind that repairs it (None: none yet).
    context : int
        For restorers: pixels around a pixel that its result depends on;
        frames restored in tiles get this margin around each tile.
    whole_limit : int, optional
        For restorers: the largest frame, in pixels, the method is given
        whole (default :data:`restoration.frames.WHOLE_FRAME_PIXELS`);
        bigger ones are restored in tiles of about this size, to bound the
        memory of a method that needs much per pixel.
    bounds : mapping of str to Bound
        Bounds of this entry's options where they differ from
        :data:`restoration.options.OPTIONS`, or options not in it.
    learned : Learned, optional
        For learned restorers: model task and shipped default.
    finds : tuple of str
        For detectors: the simulated damage kinds it is made to find; the
        benchmark scores it on those (and on clean images). Empty: every
        kind that inpainting repairs.
    """

    name: str
    kind: str
    func: Callable[..., Any]
    summary: str = ""
    requires: str | None = None
    repaired_by: str | None = None
    context: int = 32
    whole_limit: int | None = None
    bounds: Mapping[str, Bound] = field(default_factory=dict)
    learned: Learned | None = None
    finds: tuple[str, ...] = ()

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The function's keyword-only parameters by name (options, ``value_range``, ``rng``)."""
        return _keyword_parameters(self.func)

    @property
    def options(self) -> tuple[str, ...]:
        """The options a user may set: the function's keyword-only parameters, in order."""
        return tuple(name for name in self.parameters if name not in NOT_OPTIONS)

    @property
    def takes_value_range(self) -> bool:
        """Whether the function takes the frame's ``value_range``."""
        return "value_range" in self.parameters

    def defaults(self) -> dict[str, Any]:
        """Each option's default value (None where it is chosen at run time)."""
        return {name: self.parameters[name].default for name in self.options}

    def bound(self, option: str) -> Bound:
        """Bounds and help of one of this entry's options."""
        return self.bounds.get(option) or OPTIONS[option]

    @property
    def available(self) -> bool:
        """Whether the optional dependency, if any, is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options without None values, each within its bounds; refuses any this entry does not take.

        Raises
        ------
        RegistryError
            One line naming the option and what it must be.
        """
        given = {k: v for k, v in options.items() if v is not None}
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "no options"
            raise RegistryError(f"{self.kind} {self.name!r} does not take {', '.join(unknown)} (it takes: {takes})")
        try:
            checked = check_options(given, bounds={name: self.bound(name) for name in self.options})
            if self.learned is not None:
                from restoration.learned.catalog import check_model_choice

                check_model_choice(self, checked)
        except RegistryError:
            raise
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        return checked


@functools.lru_cache(maxsize=1024)
def _keyword_parameters(func: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """Keyword-only parameters of ``func``, read once per function (every file's call asks)."""
    params = inspect.signature(func).parameters.values()
    return {p.name: p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


class Registry:
    """Entries by unique name."""

    def __init__(self, entries: list[Entry] = ()):
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        """Register ``entry``; names are unique across kinds, and every option has bounds and help.

        Raises
        ------
        RegistryError
            For an unknown kind, a name taken, or an option that neither
            :data:`restoration.options.OPTIONS` nor the entry's ``bounds`` describes.
        """
        if entry.kind not in KINDS:
            raise RegistryError(f"unknown kind {entry.kind!r} for {entry.name!r}")
        if entry.name in self._entries:
            raise RegistryError(f"{entry.name!r} is already registered")
        undescribed = [name for name in entry.options if name not in entry.bounds and name not in OPTIONS]
        if undescribed:
            raise RegistryError(
                f"{entry.name!r}: option(s) {', '.join(undescribed)} have no bounds: add them to the entry's bounds or to restoration.options.OPTIONS"
            )
        self._entries[entry.name] = entry

    def remove(self, name: str) -> Entry:
        """Unregister ``name`` (tests, plug-ins replaced); returns its entry."""
        return self._entries.pop(name)

    def get(self, name: str, *, kind: str | tuple[str, ...] | None = None) -> Entry:
        """The entry called ``name``, optionally required to be of ``kind``."""
        kinds = (kind,) if isinstance(kind, str) else kind
        entry = self._entries.get(name)
        if entry is None or (kinds and entry.kind not in kinds):
            choices = ", ".join(self.names(kind=kinds))
            raise RegistryError(f"unknown {'/'.join(kinds) if kinds else 'name'} {name!r}; choose from: {choices}")
        if not entry.available:
            raise RegistryError(f"{name!r} needs the optional package {entry.requires!r}: pip install 'archive-restoration[{entry.requires}]'")
        return entry

    def names(self, *, kind: str | tuple[str, ...] | None = None, available_only: bool = False) -> list[str]:
        """Registered names, in registration order, optionally of some kinds."""
        kinds = (kind,) if isinstance(kind, str) else kind
        return [e.name for e in self._entries.values() if (not kinds or e.kind in kinds) and (e.available or not available_only)]

    def entries(self, *, kind: str | tuple[str, ...] | None = None) -> list[Entry]:
        """Entries in registration order, optionally of some kinds."""
        kinds = (kind,) if isinstance(kind, str) else kind
        return [e for e in self._entries.values() if not kinds or e.kind in kinds]

    def option_bounds(self, *, kind: str | tuple[str, ...]) -> dict[str, tuple[Bound, list[str]]]:
        """Every option of the entries of ``kind``: its bounds and the entries that take it, in first-seen order.

        The command line's flags and the UI's form are built from this.
        """
        table: dict[str, tuple[Bound, list[str]]] = {}
        for entry in self.entries(kind=kind):
            for name in entry.options:
                bound, takers = table.setdefault(name, (entry.bound(name), []))
                takers.append(entry.name)
        return table

    def option_help(self, name: str, *, kind: str | tuple[str, ...]) -> str:
        """One line for an option's flag or form field: its help, then who takes it and with what default."""
        bound, takers = self.option_bounds(kind=kind)[name]
        described = []
        for taker in takers:
            default = self.get(taker).defaults()[name] if self._entries[taker].available else None
            described.append(taker if default is None else f"{taker} (default {default})")
        return f"{bound.help} Must be {bound.describe()}. Taken by: {', '.join(described)}."


def _builtin_entries() -> list[Entry]:
    from restoration import metrics
    from restoration.damage import detect
    from restoration.damage import simulate as dmg
    from restoration.learned import detectors as learned_detectors
    from restoration.learned import restorers as learned  # torch-free: torch loads at the first call
    from restoration.methods import denoise, exemplar, inpaint, upscale

    hole = 128  # inpainting: a tile's margin must hold the holes that cross it

    # The registry is a table: one line per entry, whatever its length.
    # fmt: off
    return [
        # inpainting
        Entry("biharmonic", "inpaint", inpaint.inpaint_biharmonic, "biharmonic interpolation (scikit-image)", context=hole),
        Entry("telea", "inpaint", inpaint.inpaint_telea, "fast marching, Telea 2004 (OpenCV)", context=hole),
        Entry("navier-stokes", "inpaint", inpaint.inpaint_navier_stokes, "Navier-Stokes, Bertalmio 2001 (OpenCV)", context=hole),
        Entry("fsr", "inpaint", inpaint.inpaint_fsr, "frequency-selective reconstruction (OpenCV xphoto)", context=hole),
        Entry("exemplar", "inpaint", exemplar.inpaint_exemplar, "patch priority fill, Criminisi 2004", context=hole),
        Entry("gan-inpaint", "inpaint", learned.inpaint_gan, "gated-conv U-Net + PatchGAN, learned (Yu 2019)", context=hole, learned=Learned("inpaint", "gan-inpaint", "restoration.learned.recipes:InpaintRecipe")),
        Entry("vae-inpaint", "inpaint", learned.inpaint_vae, "convolutional VAE, a baseline, learned (Kingma 2014)", context=hole, learned=Learned("vae", "vae", "restoration.learned.recipes:VAERecipe")),
        # denoising
        Entry("nlm", "denoise", denoise.denoise_nlm, "non-local means (scikit-image)", context=16),
        Entry("tv", "denoise", denoise.denoise_tv, "total variation, Chambolle (scikit-image)", context=32),
        Entry("wavelet", "denoise", denoise.denoise_wavelet, "BayesShrink wavelets (scikit-image)", context=32),
        Entry("bilateral", "denoise", denoise.denoise_bilateral, "bilateral filter (scikit-image)", context=8),
        Entry("bm3d", "denoise", denoise.denoise_bm3d, "BM3D (optional extra, non-commercial licence)", requires="bm3d", context=48, whole_limit=768 * 768),  # about 560 MB of working memory per megapixel
        Entry("cnn-denoise", "denoise", learned.denoise_cnn, "residual CNN with noise map, learned (DnCNN/FFDNet)", context=48, learned=Learned("denoise", "cnn-denoise", "restoration.learned.recipes:DenoiseRecipe")),
        # upscaling
        Entry("bicubic", "upscale", upscale.upscale_bicubic, "bicubic interpolation (OpenCV)", context=8),
        Entry("lanczos", "upscale", upscale.upscale_lanczos, "Lanczos-4 interpolation (OpenCV)", context=8),
        Entry("cnn-sr", "upscale", learned.upscale_cnn, "small EDSR + sub-pixel output, learned (Lim 2017)", context=24, learned=Learned("sr", "cnn-sr-x{scale}", "restoration.learned.recipes:SuperResolutionRecipe")),
        # damage detection (kind "detect"): a mask and a confidence map per frame
        Entry("detect-unet", "detect", learned_detectors.detect_learned, "every kind of damage, U-Net segmentation, learned (Ronneberger 2015)", context=64, learned=Learned("detect", "detect-unet", "restoration.learned.recipes:DetectRecipe")),
        Entry("detect-classical", "detect", detect.detect_classical, "union of the classical detectors named in --kinds", context=160),
        Entry("detect-holes", "detect", detect.detect_holes, "holes, tears, missing corners: flat regions cut off from their surroundings", context=192, finds=("holes", "tears")),
        Entry("detect-scratches", "detect", detect.detect_scratches, "scratches, cracks, hairs: line integration and hysteresis (Kokaram 1998)", context=64, finds=("scratches", "cracks")),
        Entry("detect-spots", "detect", detect.detect_spots, "dust and spots: top-hats with an area filter", context=64, finds=("dust", "salt-pepper")),
        Entry("detect-stains", "detect", detect.detect_stains, "stains and blotches: departure from a smooth background (flags shadows too)", context=160, finds=("blotches",)),
        Entry("detect-dead-pixels", "detect", detect.detect_dead_pixels, "detector faults: dead rows/columns, stuck pixels, impulse noise", context=8, finds=("salt-pepper",)),
        # damage simulation
        Entry("holes", "damage", dmg.simulate_holes, "free-form brush holes", repaired_by="inpaint"),
        Entry("scratches", "damage", dmg.simulate_scratches, "thin bright/dark curved scratches", repaired_by="inpaint"),
        Entry("blotches", "damage", dmg.simulate_blotches, "soft tinted stains", repaired_by="inpaint"),
        Entry("tears", "damage", dmg.simulate_tears, "missing jagged pieces", repaired_by="inpaint"),
        Entry("cracks", "damage", dmg.simulate_cracks, "branching thin dark cracks", repaired_by="inpaint"),
        Entry("dust", "damage", dmg.simulate_dust, "dust specks and hairs", repaired_by="inpaint"),
        Entry("gaussian", "damage", dmg.simulate_gaussian_noise, "additive Gaussian noise, sigma 0-255", repaired_by="denoise"),
        Entry("poisson", "damage", dmg.simulate_poisson_noise, "shot noise, sigma at mid-grey 0-255", repaired_by="denoise"),
        Entry("speckle", "damage", dmg.simulate_speckle_noise, "multiplicative noise, sigma 0-255", repaired_by="denoise"),
        Entry("salt-pepper", "damage", dmg.simulate_salt_pepper, "impulse noise on a fraction of pixels", repaired_by="inpaint"),
        Entry("blur", "damage", dmg.simulate_blur, "Gaussian blur, sigma in pixels", bounds={"sigma": BLUR_SIGMA}),
        Entry("jpeg", "damage", dmg.simulate_jpeg, "JPEG artefacts at a quality", repaired_by="denoise", bounds={"quality": JPEG_QUALITY}),
        Entry("downscale", "damage", dmg.simulate_downscale, "bicubic downscaling by an integer", repaired_by="upscale"),
        # metrics
        Entry("psnr", "metric", metrics.psnr, "PSNR, whole image (dB)"),
        Entry("ssim", "metric", metrics.ssim, "SSIM, Wang et al. 11x11 Gaussian window (sigma 1.5), whole image"),
        Entry("hole_psnr", "metric", metrics.hole_psnr, "PSNR inside the damage mask (dB)"),
        Entry("hole_ssim", "metric", metrics.hole_ssim, "SSIM (11x11 Gaussian) inside the damage mask"),
        Entry("detection", "metric", metrics.detection_scores, "precision, recall, F1, IoU of a damage mask against the true one (1-pixel tolerance)"),
    ]
    # fmt: on


REGISTRY = Registry(_builtin_entries())
