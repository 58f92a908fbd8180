"""The one registry: every restorer, damage simulator and metric by name.

Adding a restorer is one module with its function and one ``Entry`` line in
:func:`_builtin_entries`. Options are explicit per entry: a misspelt option
is an error, never silently ignored, and every value is checked against
its bounds (:mod:`restoration.options`) in :meth:`Entry.check_options`, the
one check that the library, the command line and the UI all go through.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from restoration.options import BLUR_SIGMA, JPEG_QUALITY, Bound, check_options

#: Restorer kinds, and what each call looks like.
#:   inpaint: func(image, mask, **options)
#:   denoise: func(image, **options)      (sigma on the 0-255 scale)
#:   upscale: func(image, **options)      (integer scale)
#: Learned restorers also take ``model`` (a model directory; default: the
#: shipped model) and ``tile`` (the largest square the network sees at once).
RESTORER_KINDS = ("inpaint", "denoise", "upscale")
KINDS = (*RESTORER_KINDS, "damage", "metric")


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
        The library function.
    options : tuple of str
        Keyword options ``func`` accepts from users.
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
        :data:`restoration.options.OPTIONS`.
    check : callable, optional
        A check of the options together, after each is within bounds
        (raises ValueError): a learned method's model choice.
    """

    name: str
    kind: str
    func: Callable[..., Any]
    options: tuple[str, ...] = ()
    summary: str = ""
    requires: str | None = None
    repaired_by: str | None = None
    context: int = 32
    whole_limit: int | None = None
    bounds: Mapping[str, Bound] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None

    @property
    def available(self) -> bool:
        """Whether the optional dependency, if any, is installed."""
        return self.requires is None or importlib.util.find_spec(self.requires) is not None

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Options without None values, each within its bounds; refuses any this entry does not take.

        Raises
        ------
        ValueError
            One line naming the option and what it must be.
        """
        given = {k: v for k, v in options.items() if v is not None}
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "no options"
            raise ValueError(f"{self.kind} {self.name!r} does not take {', '.join(unknown)} (it takes: {takes})")
        checked = check_options(given, bounds=dict(self.bounds))
        if self.check is not None:
            self.check(checked)
        return checked


class Registry:
    """Entries by unique name."""

    def __init__(self, entries: list[Entry] = ()):
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        """Register ``entry``; names are unique across kinds."""
        if entry.kind not in KINDS:
            raise ValueError(f"unknown kind {entry.kind!r} for {entry.name!r}")
        if entry.name in self._entries:
            raise ValueError(f"{entry.name!r} is already registered")
        self._entries[entry.name] = entry

    def get(self, name: str, *, kind: str | tuple[str, ...] | None = None) -> Entry:
        """The entry called ``name``, optionally required to be of ``kind``."""
        kinds = (kind,) if isinstance(kind, str) else kind
        entry = self._entries.get(name)
        if entry is None or (kinds and entry.kind not in kinds):
            choices = ", ".join(self.names(kind=kinds))
            raise KeyError(f"unknown {'/'.join(kinds) if kinds else 'name'} {name!r}; choose from: {choices}")
        if not entry.available:
            raise KeyError(f"{name!r} needs the optional package {entry.requires!r}: pip install 'archive-restoration[{entry.requires}]'")
        return entry

    def names(self, *, kind: str | tuple[str, ...] | None = None, available_only: bool = False) -> list[str]:
        """Registered names, in registration order, optionally of some kinds."""
        kinds = (kind,) if isinstance(kind, str) else kind
        return [
            e.name
            for e in self._entries.values()
            if (not kinds or e.kind in kinds) and (e.available or not available_only)
        ]

    def entries(self) -> list[Entry]:
        """All entries in registration order."""
        return list(self._entries.values())


def _learned(name: str) -> Callable[..., Any]:
    """The learned restorer ``name``, imported at its first call.

    torch takes over a second to import; a process that runs only
    classical methods (a command, a Dask worker, a served flow run) never
    pays for it.
    """

    def call(*args: Any, **kwargs: Any) -> Any:
        from restoration.learned import restorers

        return getattr(restorers, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"restoration.learned.restorers.{name}, imported when first called."
    return call


def _model_check(method: str) -> Callable[[dict[str, Any]], None]:
    """The check of a learned method's model choice (a model card is read; torch is not imported)."""

    def check(options: dict[str, Any]) -> None:
        from restoration.learned.catalog import check_model_choice

        check_model_choice(method, options)

    return check


def _builtin_entries() -> list[Entry]:
    from restoration import metrics
    from restoration.damage import simulate as dmg
    from restoration.methods import denoise, exemplar, inpaint, upscale

    inpaint_gan, inpaint_vae, denoise_cnn, upscale_cnn = (_learned(n) for n in ("inpaint_gan", "inpaint_vae", "denoise_cnn", "upscale_cnn"))
    hole = 128  # inpainting: a tile's margin must hold the holes that cross it

    return [
        # inpainting
        Entry("biharmonic", "inpaint", inpaint.inpaint_biharmonic, (), "biharmonic interpolation (scikit-image)", context=hole),
        Entry("telea", "inpaint", inpaint.inpaint_telea, ("radius",), "fast marching, Telea 2004 (OpenCV)", context=hole),
        Entry("navier-stokes", "inpaint", inpaint.inpaint_navier_stokes, ("radius",), "Navier-Stokes, Bertalmio 2001 (OpenCV)", context=hole),
        Entry("fsr", "inpaint", inpaint.inpaint_fsr, ("quality",), "frequency-selective reconstruction (OpenCV xphoto)", context=hole),
        Entry("exemplar", "inpaint", exemplar.inpaint_exemplar, ("patch_size", "search_radius"), "patch priority fill, Criminisi 2004", context=hole),
        Entry("gan-inpaint", "inpaint", inpaint_gan, ("model", "tile"), "gated-conv U-Net + PatchGAN, learned (Yu 2019)", context=hole, check=_model_check("gan-inpaint")),
        Entry("vae-inpaint", "inpaint", inpaint_vae, ("model", "tile"), "convolutional VAE, learned (Kingma 2014)", context=hole, check=_model_check("vae-inpaint")),
        # denoising
        Entry("nlm", "denoise", denoise.denoise_nlm, ("sigma",), "non-local means (scikit-image)", context=16),
        Entry("tv", "denoise", denoise.denoise_tv, ("sigma",), "total variation, Chambolle (scikit-image)", context=32),
        Entry("wavelet", "denoise", denoise.denoise_wavelet, ("sigma",), "BayesShrink wavelets (scikit-image)", context=32),
        Entry("bilateral", "denoise", denoise.denoise_bilateral, ("sigma",), "bilateral filter (scikit-image)", context=8),
        Entry("bm3d", "denoise", denoise.denoise_bm3d, ("sigma",), "BM3D (optional extra, non-commercial licence)", requires="bm3d", context=48,
              whole_limit=768 * 768),  # about 560 MB of working memory per megapixel
        Entry("cnn-denoise", "denoise", denoise_cnn, ("sigma", "model", "tile"), "residual CNN with noise map, learned (DnCNN/FFDNet)", context=48, check=_model_check("cnn-denoise")),
        # upscaling
        Entry("bicubic", "upscale", upscale.upscale_bicubic, ("scale",), "bicubic interpolation (OpenCV)", context=8),
        Entry("lanczos", "upscale", upscale.upscale_lanczos, ("scale",), "Lanczos-4 interpolation (OpenCV)", context=8),
        Entry("cnn-sr", "upscale", upscale_cnn, ("scale", "model", "tile"), "small EDSR + sub-pixel output, learned (Lim 2017)", context=24, check=_model_check("cnn-sr")),
        # damage simulation
        Entry("holes", "damage", dmg.simulate_holes, ("ratio",), "free-form brush holes", repaired_by="inpaint"),
        Entry("scratches", "damage", dmg.simulate_scratches, ("ratio",), "thin bright/dark curved scratches", repaired_by="inpaint"),
        Entry("blotches", "damage", dmg.simulate_blotches, ("ratio",), "soft tinted stains", repaired_by="inpaint"),
        Entry("tears", "damage", dmg.simulate_tears, ("ratio",), "missing jagged pieces", repaired_by="inpaint"),
        Entry("gaussian", "damage", dmg.simulate_gaussian_noise, ("sigma",), "additive Gaussian noise, sigma 0-255", repaired_by="denoise"),
        Entry("poisson", "damage", dmg.simulate_poisson_noise, ("sigma",), "shot noise, sigma at mid-grey 0-255", repaired_by="denoise"),
        Entry("speckle", "damage", dmg.simulate_speckle_noise, ("sigma",), "multiplicative noise, sigma 0-255", repaired_by="denoise"),
        Entry("salt-pepper", "damage", dmg.simulate_salt_pepper, ("ratio",), "impulse noise on a fraction of pixels", repaired_by="inpaint"),
        Entry("blur", "damage", dmg.simulate_blur, ("sigma",), "Gaussian blur, sigma in pixels", bounds={"sigma": BLUR_SIGMA}),
        Entry("jpeg", "damage", dmg.simulate_jpeg, ("quality",), "JPEG artefacts at a quality", repaired_by="denoise", bounds={"quality": JPEG_QUALITY}),
        Entry("downscale", "damage", dmg.simulate_downscale, ("scale",), "bicubic downscaling by an integer", repaired_by="upscale"),
        # metrics
        Entry("psnr", "metric", metrics.psnr, ("data_range",), "PSNR, whole image (dB)"),
        Entry("ssim", "metric", metrics.ssim, ("data_range",), "SSIM, whole image"),
        Entry("hole_psnr", "metric", metrics.hole_psnr, ("data_range",), "PSNR inside the damage mask (dB)"),
        Entry("hole_ssim", "metric", metrics.hole_ssim, ("data_range",), "SSIM inside the damage mask"),
    ]


REGISTRY = Registry(_builtin_entries())
