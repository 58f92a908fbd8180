"""Archives as inputs: what a folder, a zip, a tar or one image file holds, and where outputs may go.

An *archive* is a folder, a ``.zip``, a ``.tar``/``.tar.gz``, or a single
image file (an archive of one). :func:`stage_input` turns any of them into
an :class:`Listing`: the files to process, the entries refused with a
reason (unsafe links, symbolic-link loops, unreadable folders, archive
members that break the limits) and the entries left out on purpose
(hidden files and folders, the output and masks folders inside the
input). Nothing is skipped without being named.

The originals are never written: :func:`check_output_folder` refuses an
output folder that is, contains or would overwrite an input, and is called
before anything is read or written.
"""

from __future__ import annotations

import errno
import gzip
import json
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from restoration import __version__
from restoration.io import (
    ARCHIVE_SUFFIXES,
    atomic_write,
    format_of,
    inside,
    is_transient,
    open_input,
)

#: Written into every output folder this program uses; an output folder
#: inside the input is accepted only when it is new, empty, or carries it.
OUTPUT_MARKER = ".archive-restoration-output"

#: What a damaged archive raises while it is read (besides OS errors with an errno).
_ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError)

#: Limits for archive members (decompression bombs): bytes per member,
#: bytes in all, and the largest compressed-to-expanded ratio accepted.
MAX_MEMBER_BYTES = 4 * 2**30
MAX_TOTAL_BYTES = 64 * 2**30
MAX_COMPRESSION_RATIO = 200


class UnsafeOutputError(ValueError):
    """An output folder that would write over, into or around an input; the message says which and why."""


class ArchiveError(ValueError):
    """An archive that cannot be opened or unpacked at all; the message is one line naming it."""


@dataclass
class Listing:
    """What an archive holds.

    Attributes
    ----------
    root : Path
        Folder the relative paths are relative to.
    files : list of str
        Files to process (relative posix paths), sorted.
    refused : list of (str, str)
        Entries that could not be taken, with the reason; folders end in
        ``/``; ``.`` is the input itself (an archive that cannot be unpacked).
    left_out : list of (str, str)
        Entries left out on purpose, with the reason; folders end in ``/``.
    source : str
        The input as it was named (a folder, an archive file, an image file).
    """

    root: Path
    files: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""


# ------------------------------------------------------------ output safety


def _resolve(path: os.PathLike | str) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError) as exc:  # a loop in the path itself
        raise UnsafeOutputError(f"{path}: cannot resolve the path ({exc})") from None


def _within(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def _foreign_files(folder: Path, limit: int = 3) -> list[str]:
    """Up to ``limit`` entries of ``folder`` (recursively) that this program did not write."""
    found: list[str] = []
    if (folder / OUTPUT_MARKER).is_file():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(filenames):
            found.append(str(Path(dirpath, name).relative_to(folder)))
            if len(found) >= limit:
                return found
        dirnames.sort()
    return found


def check_output_folder(input_path: os.PathLike | str, output: os.PathLike | str, *, other_inputs: Iterable[os.PathLike | str | None] = ()) -> None:
    """Refuse an output folder that could touch an input, before anything is read or written.

    Refused: an output that is a file; an output that is the input, or
    contains it; an output inside the input folder unless it is new, empty,
    or an earlier output of this program (the input listing then leaves it
    out); an output that writes over a single input image; an output that
    is, contains or lies inside any of ``other_inputs`` (a masks folder).

    Raises
    ------
    UnsafeOutputError
        With one line saying which rule and which paths.
    """
    out = _resolve(output)
    if out.exists() and not out.is_dir():
        raise UnsafeOutputError(f"output {output} is a file, not a folder")
    source = _resolve(input_path)
    if source.is_dir():
        if out == source:
            raise UnsafeOutputError(f"output {output} is the input folder: restoring into it would overwrite the originals")
        if _within(source, out):
            raise UnsafeOutputError(f"output {output} contains the input {input_path}: choose an output folder outside it")
        if _within(out, source) and out.exists():
            foreign = _foreign_files(out)
            if foreign:
                raise UnsafeOutputError(
                    f"output {output} lies inside the input {input_path} and holds files of the archive "
                    f"({', '.join(foreign)}), which would be left out and could be overwritten: choose an output folder outside the input"
                )
    elif source.exists():
        if out == source:
            raise UnsafeOutputError(f"output {output} is the input file {input_path}")
        archive_file = str(source).lower().endswith(ARCHIVE_SUFFIXES)
        if not archive_file and _within(source, out):
            raise UnsafeOutputError(f"output {output} contains the input {input_path}: restoring into it could overwrite the original")
    for other in other_inputs:
        if not other:
            continue
        folder = _resolve(other)
        if _within(folder, out) or _within(out, folder):
            raise UnsafeOutputError(f"output {output} and the masks folder {other} overlap: outputs could overwrite masks")


def claim_output_folder(output: os.PathLike | str) -> Path:
    """Create ``output`` if needed and mark it as this program's output folder.

    The mark is an aid, not a precondition: on a folder that refuses writes
    (full disk, read-only) it is skipped, and every file then fails with
    that reason when it is written.
    """
    out = Path(output)
    marker = out / OUTPUT_MARKER
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            body = {"program": "archive-restoration", "version": __version__, "created": datetime.now(UTC).isoformat(timespec="seconds")}
            atomic_write(marker, lambda tmp: tmp.write_text(json.dumps(body) + "\n"))
    except OSError:
        pass
    return out


# ------------------------------------------------------------------ listing


def _link_problem(root: Path, path: Path) -> tuple[str | None, Path | None]:
    """Why a symbolic link under ``root`` cannot be taken (or None), and where it leads."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop", None
        return f"broken symbolic link ({exc.strerror or exc})", None
    if not _within(target, root):
        return "symbolic link leads outside the archive", None
    if target.is_dir():
        return "symbolic link to a folder (not followed)", target
    if not target.is_file():
        return "symbolic link to something that is not a file", target
    return None, target


def list_archive(root: os.PathLike | str, *, exclude: Iterable[os.PathLike | str | None] = ()) -> Listing:
    """Everything under ``root``: files to process, entries refused, entries left out.

    Hidden files and folders (a leading dot) and the folders in ``exclude``
    that lie inside ``root`` are left out and named. Symbolic links are
    followed only to regular files inside ``root``; loops, broken links,
    links out of ``root``, links to folders, special files and folders that
    cannot be read are refused with the reason. Never raises for an entry.
    """
    root = Path(os.path.realpath(root))
    # Excluded folders are known by device and inode: one stat of each
    # folder met, where realpath would lstat every component of its path
    # (a tree 1,200 folders deep took 30 s to list).
    excluded: dict[tuple[int, int], str] = {}
    for entry in exclude:
        if entry:
            try:
                st = os.stat(entry)
            except (OSError, ValueError):
                continue
            excluded[(st.st_dev, st.st_ino)] = str(entry)
    listing = Listing(root)
    stack: list[tuple[Path, str]] = [(root, "")]  # explicit stack: no recursion limit on deep trees
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            listing.refused.append((prefix or "./", f"cannot read folder: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
                if entry.name.startswith("."):
                    listing.left_out.append((rel + "/", "hidden folder") if is_dir else (rel, "hidden file"))
                elif is_link:
                    problem, _ = _link_problem(root, Path(entry.path))
                    if problem is None:
                        listing.files.append(rel)
                    else:
                        listing.refused.append((rel, problem))
                elif is_dir:
                    st = entry.stat(follow_symlinks=False) if excluded else None
                    if st is not None and (st.st_dev, st.st_ino) in excluded:
                        listing.left_out.append((rel + "/", f"output or masks folder ({excluded[(st.st_dev, st.st_ino)]})"))
                    else:
                        subfolders.append((Path(entry.path), rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    listing.files.append(rel)
                else:
                    listing.refused.append((rel, "not a regular file (device, pipe or socket)"))
            except OSError as exc:
                listing.refused.append((rel, f"cannot read: {exc.strerror or exc}"))
        stack.extend(reversed(subfolders))
    listing.files.sort()
    listing.refused.sort()
    listing.left_out.sort()
    return listing


# ----------------------------------------------------------------- archives


def describe_os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def extract_archive(archive: os.PathLike | str, dest: os.PathLike | str) -> list[tuple[str, str]]:
    """Safely unpack a zip or tar archive into ``dest``.

    Members that would leave ``dest`` (absolute paths, ``..``), links,
    devices, members that break the size limits and members whose data is
    corrupt are skipped, not extracted. Returns ``(member name, reason)``
    for each skipped member; a tar that ends early keeps the members read
    before the cut and names the rest as refused.

    Raises
    ------
    ArchiveError
        When the archive cannot be opened at all (not an archive, truncated
        zip), or the disk fills or refuses writes while unpacking.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        if str(archive).lower().endswith(".zip"):
            return _extract_zip(archive, dest)
        return _extract_tar(archive, dest)
    except _ARCHIVE_ERRORS as exc:
        raise ArchiveError(f"{archive}: not a readable archive (truncated or corrupt: {exc})") from None
    except OSError as exc:
        if is_transient(exc):
            raise  # the caller retries
        raise ArchiveError(f"{archive}: cannot unpack into {dest}: {describe_os_error(exc)}") from None


def _extract_zip(archive: Path, dest: Path) -> list[tuple[str, str]]:
    # zipfile has no extraction filter like tarfile.data_filter, so the
    # member checks below are written here.
    skipped, total = [], 0
    with open_input(archive) as raw, zipfile.ZipFile(raw) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                skipped.append((name, "symbolic link inside the archive"))
                continue
            rel = PurePosixPath(name.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                skipped.append((name, "member path leaves the archive folder"))
                continue
            if info.file_size > MAX_MEMBER_BYTES or info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + 2**20:
                skipped.append((name, f"member expands to {info.file_size} bytes (decompression bomb guard)"))
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                skipped.append((name, "archive expands past the total size limit"))
                continue
            target = inside(dest, rel.as_posix())
            try:
                with zf.open(info) as src:
                    atomic_write(target, lambda tmp, src=src, size=info.file_size: _copy_stream(src, tmp, size))
            except (*_ARCHIVE_ERRORS, NotImplementedError, RuntimeError) as exc:
                skipped.append((name, f"member cannot be unpacked (corrupt or encrypted: {exc})"))
    return skipped


def _extract_tar(archive: Path, dest: Path) -> list[tuple[str, str]]:
    skipped, total = [], 0
    with open_input(archive) as raw, tarfile.open(fileobj=raw) as tf:
        members = iter(tf)
        while True:
            try:
                member = next(members)
            except StopIteration:
                break
            except _ARCHIVE_ERRORS as exc:
                skipped.append((".", f"{archive}: archive ends early or is corrupt after the members read so far ({exc})"))
                break
            if member.isdir():
                continue
            try:
                member = tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as exc:
                skipped.append((member.name, f"unsafe member: {exc}"))
                continue
            if not member.isfile():
                skipped.append((member.name, "link or special file inside the archive"))
                continue
            total += member.size
            if member.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                skipped.append((member.name, "member breaks the archive size limits"))
                continue
            target = inside(dest, member.name)
            try:
                src = tf.extractfile(member)
                atomic_write(target, lambda tmp, src=src, size=member.size: _copy_stream(src, tmp, size))
            except _ARCHIVE_ERRORS as exc:
                skipped.append((member.name, f"member cannot be unpacked (archive truncated or corrupt: {exc})"))
                break
    return skipped


def _copy_stream(src, tmp: Path, size: int) -> None:
    copied = 0
    with open(tmp, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            out.write(block)
            copied += len(block)
    if copied != size:
        raise EOFError(f"member holds {copied} of its {size} bytes")


def stage_input(
    source: os.PathLike | str, out_dir: os.PathLike | str, *, staging: str = ".staging", exclude: Sequence[os.PathLike | str | None] = ()
) -> Listing:
    """The :class:`Listing` of any input: a folder, a zip or tar (unpacked into ``out_dir/<staging>``), or one image file.

    A folder is read in place; ``out_dir`` and ``exclude`` are left out
    where they lie inside it. An archive file is unpacked afresh each time
    (the staging folder is emptied first), its refused members listed as
    refused. One image file is an archive of one.

    An archive that cannot be opened or unpacked at all (truncated, full
    disk) gives a listing with nothing to process and the input itself
    (``.``) refused with the reason.

    Raises
    ------
    FileNotFoundError
        When ``source`` does not exist.
    ArchiveError
        When ``source`` is neither a folder, an archive nor an image file.
    """
    path = Path(source)
    if not path.exists() and not path.is_symlink():
        raise FileNotFoundError(errno.ENOENT, f"{source}: no such archive", str(source))
    if path.is_dir():
        listing = list_archive(path, exclude=[out_dir, *exclude])
        listing.source = str(source)
        return listing
    if str(path).lower().endswith(ARCHIVE_SUFFIXES) and path.is_file():
        root = Path(out_dir) / staging
        if root.is_dir() and not root.is_symlink():
            shutil.rmtree(root)  # a folder of this program's: the last run's members must not linger
        try:
            refused = extract_archive(path, root)
        except ArchiveError as exc:
            return Listing(root, refused=[(".", str(exc))], source=str(source))
        listing = list_archive(root)
        listing.refused = sorted(listing.refused + refused)
        listing.source = str(source)
        return listing
    if path.is_file() and format_of(path):
        return Listing(Path(os.path.realpath(path.parent)), files=[path.name], source=str(source))
    raise ArchiveError(f"{source}: not a folder, an image file, .zip, .tar or .tar.gz")
