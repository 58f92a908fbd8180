"""Reading and writing image files, faithfully, in bounded memory.

Each file holds one or more *items* (frames): the pages of a TIFF, the
frames of a DICOM, the slices of a NIfTI volume along its last axis. Files
are read into an :class:`ImageFile` and written back in their own format,
bit depth and photometric meaning with :func:`write_image_file`; what
cannot be written back faithfully is refused when it is read, with the
reason. The size a file declares in its header is checked against
:func:`max_pixels` before anything is decoded. Every write is atomic (a
temp file with a name no user would choose, then a rename) and respects
the process umask.

Every read of a file's bytes goes through :func:`open_input` and every
write is committed by :func:`commit`: one place each where I/O enters and
leaves the library.

Modules: :mod:`~restoration.io.base` (the :class:`ImageFile`, names,
limits), :mod:`~restoration.io.files` (bytes in and out, atomic writes),
one module per format with its reader and writer side by side
(:mod:`~restoration.io.png`, :mod:`~restoration.io.jpeg`,
:mod:`~restoration.io.tiff`, :mod:`~restoration.io.dicom`,
:mod:`~restoration.io.nifti`), :mod:`~restoration.io.images` (any format)
and :mod:`~restoration.io.masks`. Archives and the manifest are
:mod:`restoration.archive` and :mod:`restoration.manifest`.
"""

from restoration.io.base import (
    ARCHIVE_SUFFIXES,
    FORMATS,
    DeclaredSize,
    ImageFile,
    UnreadableImageError,
    check_declared_size,
    format_of,
    is_archive_file,
    max_pixels,
    stem_of,
)
from restoration.io.files import TEMP_MARKER, TRANSIENT_ERRNOS, atomic_write, commit, file_sha256, inside, is_transient, open_input, write_bytes_atomic
from restoration.io.images import FORMAT_MODULES, read_image_file, write_image_file
from restoration.io.masks import MaskIndex, find_mask, read_mask_file, write_map_file, write_mask_file

__all__ = [
    "ARCHIVE_SUFFIXES", "FORMATS", "FORMAT_MODULES", "TEMP_MARKER", "TRANSIENT_ERRNOS", "DeclaredSize", "ImageFile", "MaskIndex",
    "UnreadableImageError", "atomic_write", "check_declared_size", "commit", "file_sha256", "find_mask", "format_of", "inside",
    "is_archive_file", "is_transient", "max_pixels", "open_input", "read_image_file", "read_mask_file", "stem_of", "write_bytes_atomic",
    "write_image_file", "write_map_file", "write_mask_file",
]  # fmt: skip
