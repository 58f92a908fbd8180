"""Model directories without torch: the shipped defaults, model cards, and which weights a method loads.

Everything here reads JSON and paths only, so the command line can check a
``--model`` choice (and the provenance can hash the weights a run will
load) without paying for importing torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

WEIGHTS = "weights.pt"
CARD = "model.json"
#: Default models shipped with the package, trained by ``make models``.
#: Which learned restorer uses which (and for which task) is said once, by
#: its registry entry (:class:`restoration.registry.Learned`).
DEFAULT_MODELS = Path(__file__).parent / "default_models"


class ModelFileError(ValueError):
    """A model directory or checkpoint is missing, malformed or unsafe; the message names the file."""


def learned_entry(method):
    """The registry entry of the learned restorer ``method`` (a name or an entry)."""
    from restoration.registry import REGISTRY, RegistryError

    entry = REGISTRY.get(method) if isinstance(method, str) else method
    if entry.learned is None:
        raise RegistryError(f"{entry.name!r} is not a learned restorer")
    return entry


def learned_tasks() -> list[str]:
    """Model tasks of the registered learned restorers, in registry order."""
    from restoration.registry import REGISTRY

    return [e.learned.task for e in REGISTRY.entries() if e.learned is not None]


def restorer_of_task(task: str) -> str:
    """The learned restorer that runs models of ``task`` (``archive-restore train --task``)."""
    from restoration.registry import REGISTRY

    for entry in REGISTRY.entries():
        if entry.learned is not None and entry.learned.task == task:
            return entry.name
    raise ValueError(f"no learned restorer runs {task!r} models")


def default_model_name(method, *, scale: int = 2) -> str:
    """Name of the shipped model a learned restorer uses when no ``model`` is given."""
    return learned_entry(method).learned.default_name({"scale": scale})


def default_model_dir(name: str) -> Path:
    """Directory of the shipped default model ``name`` (e.g. ``cnn-denoise``)."""
    return DEFAULT_MODELS / name


def shipped_scales(method="cnn-sr") -> list[int]:
    """Scales with a shipped default model of the learned restorer ``method`` (its entry's ``{scale}`` pattern)."""
    before, _, after = learned_entry(method).learned.default_model.partition("{scale}")
    scales = []
    for folder in DEFAULT_MODELS.glob(f"{before}*{after}"):
        middle = folder.name[len(before) : len(folder.name) - len(after)]
        if middle.isdigit() and (folder / CARD).is_file():
            scales.append(int(middle))
    return sorted(scales)


def read_card(directory: os.PathLike | str) -> dict:
    """The model card of a model directory (``model.json``), checked for its required keys."""
    path = Path(directory) / CARD
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no model card (is {directory} a model directory written by `archive-restore train`?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read the model card ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: model card is not JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"{path}: model card is not a JSON object")
    for key in ("task", "architecture"):
        if key not in card:
            raise ModelFileError(f"{path}: model card lacks {key!r}")
    if not isinstance(card["architecture"], dict) or not isinstance(card["architecture"].get("options", {}), dict):
        raise ModelFileError(f"{path}: model card's architecture is not an object with options")
    return card


def weights_path(directory: os.PathLike | str, card: dict | None = None) -> Path:
    """The weights file a model directory's card names, confined to that directory.

    Raises
    ------
    ModelFileError
        When the card names a path outside the directory (``..``, absolute,
        or a link leading out), or something that is not a regular file.
    """
    directory = Path(directory)
    card = read_card(directory) if card is None else card
    name = card.get("weights", WEIGHTS)
    if not isinstance(name, str) or not name:
        raise ModelFileError(f"{directory / CARD}: 'weights' must be a file name, got {name!r}")
    root = Path(os.path.realpath(directory))
    target = Path(os.path.realpath(root / name))
    if Path(name).is_absolute() or target.parent != root and root not in target.parents:
        raise ModelFileError(f"{directory / CARD}: weights path {name!r} leaves the model directory")
    if not target.is_file():
        raise ModelFileError(f"{target}: no such weights file")
    return target


def model_directory(method, options: dict) -> Path:
    """The model directory ``method`` loads with ``options``: its ``model``, or the shipped default.

    The pipeline asks this once per run and hands the directory to every
    file's call, so the default is chosen in one place.
    """
    if options.get("model"):
        return Path(options["model"])
    return default_model_dir(learned_entry(method).learned.default_name(options))


def check_model_choice(method, options: dict) -> None:
    """Refuse, before any work, a model that ``method`` could not use with ``options``.

    A given ``model`` must be a model directory for the method's task (and,
    for super-resolution, for the requested scale); without one, a shipped
    default must exist for the options (``cnn-sr`` ships x2 and x4).

    Raises
    ------
    ValueError
        With the reason and what to do instead.
    """
    entry = learned_entry(method)
    method, task = entry.name, entry.learned.task
    if options.get("model"):
        card = read_card(options["model"])
        weights_path(options["model"], card)
        if card["task"] != task:
            raise ValueError(f"model {options['model']} is a {card['task']!r} model, and {method} needs a {task!r} model")
        model_scale = card["architecture"].get("options", {}).get("scale")
        if task == "sr" and "scale" in options and model_scale is not None and int(model_scale) != int(options["scale"]):
            raise ValueError(f"model {options['model']} upscales by {model_scale}, not by {options['scale']}")
        return
    name = entry.learned.default_name(options)
    if (default_model_dir(name) / CARD).is_file():
        return
    if "scale" in entry.options:
        from restoration.methods.upscale import DEFAULT_SCALE

        scale = int(options.get("scale", DEFAULT_SCALE))
        listed = ", ".join(f"x{s}" for s in shipped_scales(entry)) or "none"
        raise ValueError(
            f"{method} has no shipped model for scale {scale} (shipped: {listed}); "
            f"train one with `archive-restore train --task {task} --scale {scale}` and pass --model"
        )
    raise ValueError(f"{method} has no shipped model ({name}); train one with `archive-restore train --task {task}` and pass --model")
