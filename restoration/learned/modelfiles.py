"""Model directories: weights, model card, safe loading.

A model directory holds ``weights.pt`` (a plain state dict of tensors, read
with ``torch.load(weights_only=True)``) and ``model.json`` (the model card:
task, architecture and its options, training command, data manifest hash,
steps, validation scores, package versions). Nothing in it is executable:
anything that is not a plain mapping of names to tensors is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import platform
import threading
from pathlib import Path

import torch

from restoration.io import atomic_write, file_sha256, open_input
from restoration.learned.catalog import CARD, WEIGHTS, ModelFileError, read_card, weights_path
from restoration.learned.networks import build_network

logger = logging.getLogger(__name__)

#: Largest network a model card may describe (parameters and buffers): the
#: shipped ones have under a million; this leaves room for much bigger ones
#: while refusing a card that would allocate gigabytes.
MAX_PARAMETERS = 50_000_000


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
    with open_input(path) as fh:
        return _load_plain_bytes(fh.read(), path)


def _load_plain_bytes(data: bytes, path: Path):
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise ModelFileError(f"{path}: not a safe plain checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc


def check_state_dict(state, path: os.PathLike | str) -> dict[str, torch.Tensor]:
    """``state`` if it is a mapping of str to tensors, else :class:`ModelFileError`."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelFileError(f"{path}: not a plain state dict (a mapping of parameter names to tensors)")
    return state


def write_model(directory: os.PathLike | str, net: torch.nn.Module, card: dict) -> dict:
    """Write ``weights.pt`` and ``model.json`` into ``directory``; return the card as written (with the weights' sha256).

    Learned parameters are stored as float16 (half the bytes; a relative
    rounding of 5e-4, far below what changes an output grey level), buffers
    such as batch-norm statistics as float32; loading casts back to float32.
    """
    directory = Path(directory)
    parameters = {name for name, _ in net.named_parameters()}
    state = {
        k: v.detach().to("cpu", torch.float16 if k in parameters and v.is_floating_point() else torch.float32).contiguous() for k, v in net.state_dict().items()
    }
    weights = save_torch(state, directory / WEIGHTS)
    card = {**card, "weights": WEIGHTS, "weights_dtype": "float16", "weights_sha256": file_sha256(weights)}
    atomic_write(directory / CARD, lambda tmp: tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n"))
    return card


def _sized_network(arch: dict, where: Path) -> torch.nn.Module:
    """Build the card's network, after checking its size on torch's meta device (no memory taken)."""
    name, options = arch.get("name"), arch.get("options", {})
    try:
        with torch.device("meta"):
            probe = build_network(name, options)
        size = sum(t.numel() for t in (*probe.parameters(), *probe.buffers()))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{where}: bad architecture {arch}: {exc}") from None
    if size > MAX_PARAMETERS:
        raise ModelFileError(f"{where}: architecture {arch} has {size:,} parameters, above the limit of {MAX_PARAMETERS:,}; not built")
    return build_network(name, options)


def load_model(directory: os.PathLike | str, *, task: str | None = None) -> tuple[torch.nn.Module, dict]:
    """Network (in eval mode, on CPU) and card of a model directory.

    Refuses a directory whose card is for another task, names weights
    outside the directory, describes a network above :data:`MAX_PARAMETERS`
    (checked before anything is allocated), or whose weights are not a plain
    state dict fitting the architecture. The card returned carries
    ``loaded_sha256``: the sha256 of the very bytes the weights were loaded from.
    """
    directory = Path(directory)
    card = read_card(directory)
    if task is not None and card["task"] != task:
        raise ModelFileError(f"{directory}: a {card['task']!r} model, not a {task!r} model")
    path = weights_path(directory, card)
    net = _sized_network(card["architecture"], directory / CARD)
    expected = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    if path.stat().st_size > 2 * expected + 2**20:
        raise ModelFileError(f"{path}: {path.stat().st_size:,} bytes of weights for a network of {expected:,} bytes; not loaded")
    with open_input(path) as fh:
        data = fh.read()
    state = check_state_dict(_load_plain_bytes(data, path), path)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not fit {card['architecture'].get('name')}: {str(exc).splitlines()[0]}") from None
    return net.eval(), {**card, "loaded_sha256": hashlib.sha256(data).hexdigest()}


_CACHE: dict[tuple, tuple[torch.nn.Module, dict]] = {}
_CACHE_LOCK = threading.Lock()


def cached_model(directory: os.PathLike | str, *, task: str) -> tuple[torch.nn.Module, dict]:
    """:func:`load_model`, kept in memory per directory and weights fingerprint."""
    directory = Path(directory).resolve()
    try:
        st = weights_path(directory).stat()
        key = (str(directory), task, st.st_size, st.st_mtime_ns, st.st_ino)
    except (OSError, ModelFileError):
        key = (str(directory), task, None, None, None)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_model(directory, task=task)
            card = _CACHE[key][1]
            logger.info("loaded %s model %s (weights sha256 %s)", task, directory, card["loaded_sha256"][:16])
        return _CACHE[key]
