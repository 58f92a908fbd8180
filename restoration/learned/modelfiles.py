"""Model directories: weights, model card, safe loading.

A model directory holds ``weights.pt`` (a plain state dict of tensors, read
with ``torch.load(weights_only=True)``) and ``model.json`` (the model card:
task, architecture and its options, training command, data manifest hash,
steps, validation scores, package versions). Nothing in it is executable:
anything that is not a plain mapping of names to tensors is refused.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
from pathlib import Path

import torch

from restoration.io import atomic_write, file_sha256
from restoration.learned.networks import build_network

WEIGHTS = "weights.pt"
CARD = "model.json"
#: Default models shipped with the package, trained by ``make models``.
logger = logging.getLogger(__name__)

DEFAULT_MODELS = Path(__file__).parent / "default_models"


class ModelFileError(ValueError):
    """A model directory or checkpoint is missing, malformed or unsafe; the message names the file."""


def versions() -> dict[str, str]:
    """Versions of what produced a model (recorded in its card)."""
    import numpy

    from restoration import __version__

    return {"archive-restoration": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def save_torch(obj, path: os.PathLike | str) -> Path:
    """``torch.save`` through a temporary file and a rename."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_plain(path: os.PathLike | str):
    """``torch.load(weights_only=True)`` with a clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise ModelFileError(f"{path}: not a safe plain checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc


def check_state_dict(state, path: os.PathLike | str) -> dict[str, torch.Tensor]:
    """``state`` if it is a mapping of str to tensors, else :class:`ModelFileError`."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelFileError(f"{path}: not a plain state dict (a mapping of parameter names to tensors)")
    return state


def write_model(directory: os.PathLike | str, net: torch.nn.Module, card: dict) -> dict:
    """Write ``weights.pt`` and ``model.json`` into ``directory``; return the card as written (with the weights' sha256)."""
    directory = Path(directory)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()}
    weights = save_torch(state, directory / WEIGHTS)
    card = {**card, "weights": WEIGHTS, "weights_sha256": file_sha256(weights)}
    atomic_write(directory / CARD, lambda tmp: tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n"))
    return card


def read_card(directory: os.PathLike | str) -> dict:
    path = Path(directory) / CARD
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no model card (is {directory} a model directory written by `archive-restore train`?)") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: model card is not JSON ({exc})") from None
    for key in ("task", "architecture"):
        if key not in card:
            raise ModelFileError(f"{path}: model card lacks {key!r}")
    return card


def load_model(directory: os.PathLike | str, *, task: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Network (in eval mode, on CPU) and card of a model directory.

    Refuses a directory whose card is for another task, whose weights are
    not a plain state dict, or whose weights do not fit the architecture.
    """
    directory = Path(directory)
    card = read_card(directory)
    if task is not None and card["task"] != task:
        raise ModelFileError(f"{directory}: a {card['task']!r} model, not a {task!r} model")
    arch = card["architecture"]
    try:
        net = build_network(arch["name"], arch.get("options", {}))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{directory / CARD}: bad architecture {arch}: {exc}") from None
    path = directory / card.get("weights", WEIGHTS)
    state = check_state_dict(load_plain(path), path)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not fit {arch['name']}: {str(exc).splitlines()[0]}") from None
    return net.eval(), card


_CACHE: dict[tuple, tuple[torch.nn.Module, dict]] = {}
_CACHE_LOCK = threading.Lock()


def cached_model(directory: os.PathLike | str, *, task: str) -> tuple[torch.nn.Module, dict]:
    """:func:`load_model`, kept in memory per directory and weights fingerprint."""
    directory = Path(directory).resolve()
    weights = directory / WEIGHTS
    try:
        st = weights.stat()
        key = (str(directory), task, st.st_size, st.st_mtime_ns)
    except OSError:
        key = (str(directory), task, None, None)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_model(directory, task=task)
            card = _CACHE[key][1]
            logger.info("loaded %s model %s (weights sha256 %s)", task, directory, str(card.get("weights_sha256"))[:16])
        return _CACHE[key]


def default_model_dir(name: str) -> Path:
    """Directory of the shipped default model ``name`` (e.g. ``cnn-denoise``)."""
    return DEFAULT_MODELS / name
