"""Where bytes enter and leave the library: :func:`open_input` and :func:`commit`, atomic writes, hashes, transient errors."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
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
    """Hex sha256 of a file's bytes, read in full."""
    digest = hashlib.sha256()
    with open_input(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The least recently used hash goes first: an OrderedDict kept to MEMO_LIMIT
# entries (functools.lru_cache cannot take entries from writes, nor key on
# the file rather than the path).
_hashes: OrderedDict[tuple, str] = OrderedDict()
_hashes_lock = threading.Lock()
#: Hashes remembered, most recently used kept: a file is hashed again soon
#: after it is written (its sidecar) or by the methods that run beside each
#: other on it, so a window of a few thousand files is enough, and memory
#: stays flat however large the archive (a Dask worker sees many archives).
MEMO_LIMIT = 8192


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)  # the file itself, by whatever path it is named


def _remember(stamp: tuple, digest: str) -> None:
    with _hashes_lock:
        _hashes[stamp] = digest
        _hashes.move_to_end(stamp)
        while len(_hashes) > MEMO_LIMIT:
            _hashes.popitem(last=False)


def content_sha256(path: os.PathLike | str | None) -> str | None:
    """sha256 of a file's bytes (None for no file), remembered per device, inode, size and mtime.

    A benchmark hashes the same damaged file once for every method, and a
    file this process has just written (:func:`write_bytes_atomic`) is known
    without reading it back; any change to the file rehashes it. Where an
    edit that keeps size and time must be found, use :func:`file_sha256`.
    """
    if not path:
        return None
    stamp = _stamp(os.stat(path))
    with _hashes_lock:
        known = _hashes.get(stamp)
        if known is not None:
            _hashes.move_to_end(stamp)
    if known is None:
        known = file_sha256(path)
        _remember(stamp, known)
    return known


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refusing any path that would leave ``root``."""
    root = Path(root).resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{rel}: path leaves the output folder {root}")
    return target


def _open_temp(path: Path) -> tuple[Path, int]:
    """A new file beside ``path``, open for writing: ``.<name><TEMP_MARKER><pid>-<random><suffix>``.

    Created with mode 0o666 so that the kernel applies the umask
    (``tempfile.mkstemp`` makes 0o600 files, which would then need the umask
    read back and a chmod per output). The folder is made only when it is
    missing, so the common case is one ``open`` call.
    """
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".nii.gz") else path.suffix
    prefix = f".{path.name[:80]}{TEMP_MARKER}{os.getpid()}-"
    made_folder = False
    for _ in range(100):
        candidate = path.parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return candidate, os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        except FileNotFoundError:
            # Another thread may make the folder between our open and a check
            # of it, so the only test is: did our own mkdir already run?
            if made_folder:
                raise
            path.parent.mkdir(parents=True, exist_ok=True)
            made_folder = True
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent / prefix))


def atomic_write(path: os.PathLike | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it over.

    The temp file keeps ``path``'s suffixes, since some writers pick the
    format from them, and carries :data:`TEMP_MARKER` and this process's id
    in its name, so that only such files are ever swept up after a crash.
    The finished file gets the mode a new file gets under the umask.
    """
    path = Path(path)
    tmp, fd = _open_temp(path)
    os.close(fd)
    try:
        write(tmp)
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; its sha256 is remembered for :func:`content_sha256`."""
    path = Path(path)
    tmp, fd = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            stamp = _stamp(os.fstat(fh.fileno()))  # the rename keeps inode, size and mtime
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _remember(stamp, hashlib.sha256(data).hexdigest())
    return path
