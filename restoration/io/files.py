"""Where bytes enter and leave the library: :func:`open_input` and :func:`commit`, atomic writes, hashes, transient errors."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

#: Every temp file of :func:`atomic_write` has this in its name, with the
#: writing process's id: ``.<name>.arestore-tmp-<pid>-<random><suffix>``.
TEMP_MARKER = ".arestore-tmp-"


def open_input(path: os.PathLike | str) -> IO[bytes]:
    """Open a file for reading: every read of an input's bytes in the library goes through here."""
    return open(path, "rb")


def commit(tmp: os.PathLike | str, path: os.PathLike | str) -> None:
    """Rename a finished temp file over its destination: every write in the library ends here."""
    os.replace(tmp, path)


#: errno values of OS errors that may well succeed when tried again (a
#: flaky disk or network share). A full disk, a read-only folder, a missing
#: file or a refused permission are not among them: retrying cannot help.
TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("EIO", "EAGAIN", "EINTR", "EBUSY", "ETIMEDOUT", "ESTALE", "ECONNRESET", "ECONNABORTED",
                 "ENETDOWN", "ENETUNREACH", "EHOSTUNREACH", "ENOLCK", "EREMOTEIO", "ENOBUFS")
    if hasattr(errno, name)
)  # fmt: skip


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an OS error worth trying again (see :data:`TRANSIENT_ERRNOS`)."""
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def file_sha256(path: os.PathLike | str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open_input(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing any path that would leave ``root``."""
    root = Path(root).resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{rel}: path leaves the output folder {root}")
    return target


def _create_temp(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file ``folder/<prefix><random><suffix>``, created with mode 0o666 so that the kernel applies the umask.

    (``tempfile.mkstemp`` makes 0o600 files, which would then need the umask
    read back and a chmod per output.)
    """
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder / prefix))


def atomic_write(path: os.PathLike | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over.

    The temp file keeps ``path``'s suffixes, since some writers pick the
    format from them, and carries :data:`TEMP_MARKER` and this process's id
    in its name, so that only such files are ever swept up after a crash.
    The finished file gets the mode a new file gets under the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    prefix = f".{path.name[:80]}{TEMP_MARKER}{os.getpid()}-"
    tmp = _create_temp(path.parent, prefix, suffix)
    try:
        write(tmp)
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
