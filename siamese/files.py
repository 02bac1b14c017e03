"""Atomic file writes and output folders that never overwrite earlier results."""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Lock file that a running command holds in its output folder (see
#: :func:`siamese.run_folder.lock_output_folder`). The checks for an empty folder ignore it.
LOCK_FILE = ".siamese.lock"

#: errno values of a write that the target's file system rejects as a whole, whichever file it is.
STORAGE_ERRNOS = (errno.EROFS, errno.ENOSPC, errno.EDQUOT)


class WriteFailedError(OSError):
    """A write failed because the file system is read-only, full or over quota.

    It keeps the ``errno`` of the original error, and its message names the folder, the cause
    and the fix, so the command line prints it as a user error.
    """

    def __str__(self) -> str:
        return self.strerror  # the message alone, without OSError's "[Errno N]" prefix


def storage_error(error: OSError, path: str | os.PathLike) -> OSError:
    """Return a :class:`WriteFailedError` explaining ``error`` for a write to ``path``, or ``error`` itself.

    Only read-only file systems (EROFS), full disks (ENOSPC) and exceeded quotas (EDQUOT) are
    explained, because only they are fixed by choosing another folder or freeing space.
    """
    if isinstance(error, WriteFailedError) or error.errno not in STORAGE_ERRNOS:
        return error

    path = Path(path).expanduser()
    folder = _nearest_existing_folder(path)
    if error.errno == errno.EROFS:
        cause = f"the file system of {folder} is mounted read-only"
        fix = "Choose a folder on a writable file system, or remount it read-write"
    elif error.errno == errno.ENOSPC:
        cause = f"no space is left on the device of {folder} ({_free_space(folder)} free)"
        fix = "Free space there, or choose a folder on another disk"
    else:
        cause = f"the disk quota on {folder} is exceeded"
        fix = "Delete files you no longer need there, or choose a folder outside the quota"
    return WriteFailedError(error.errno, f"Cannot write {path}: {cause} ({error.strerror}). {fix}.")


@contextmanager
def explain_storage_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn the EROFS, ENOSPC and EDQUOT errors of a write to ``path`` into :class:`WriteFailedError`."""
    try:
        yield
    except OSError as error:
        translated = storage_error(error, path)
        if translated is error:
            raise
        raise translated from error


def _nearest_existing_folder(path: Path) -> Path:
    for folder in path.parents if not path.is_dir() else (path, *path.parents):
        if folder.is_dir():
            return folder
    return path.parent


def _free_space(folder: Path) -> str:
    """Return the free space of ``folder``'s file system for messages, such as ``12.0 KiB``."""
    try:
        free = float(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if free < 1024 or unit == "GiB":
            return f"{free:.0f} bytes" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024
    return "unknown"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the result onto ``path``.

    The temporary file sits in the same folder, so the rename is atomic: readers see the old
    file or the complete new one, never a partial write. On error the temporary file is removed.

    Raises:
        PermissionError: the folder does not allow new files.
        WriteFailedError: the file system is read-only, full or over quota.
    """
    path = Path(path).expanduser()
    make_folder(path.parent)

    # Create the temporary file with mode 0666 minus the umask, as a plain open() would, so the
    # result gets the usual permissions (mkstemp would leave it readable by the owner only).
    # The name is shortened so that it stays legal for target names near the 255-byte limit.
    temporary = path.parent / f".{path.stem[:100]}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}"
    try:
        with explain_storage_errors(path):
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except PermissionError as error:
        raise PermissionError(
            f"Cannot write {path}: the folder {path.parent} does not allow new files "
            f"({error.strerror}). Choose a folder you can write to, or change its permissions."
        ) from error
    try:
        with explain_storage_errors(path):
            write(Path(temporary))
            os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def make_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` and its missing parents, like ``mkdir -p``, and return it.

    Raises:
        NotADirectoryError: ``path`` or one of its parents is a file, named in the message.
        WriteFailedError: the file system is read-only, full or over quota.
    """
    path = Path(path).expanduser()
    blocking = file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(f"Cannot create the folder {path}: {blocking} is a file. Choose another path.")
    with explain_storage_errors(path):
        path.mkdir(parents=True, exist_ok=True)
    return path


def file_in_the_way(path: Path) -> Path | None:
    """Return the nearest existing ``path`` or parent of it when that is a file, else ``None``."""
    for folder in (path, *path.parents):
        if folder.exists():
            return None if folder.is_dir() else folder
    return None


def relative_path_note(path: str | os.PathLike) -> str:
    """Return `` (relative to the working folder CWD, so ABSOLUTE)`` for a relative ``path``, else "".

    Messages append it after a path, because a relative path resolves from the working folder,
    which is not always the folder a user expects (a notebook kernel, or papermill started
    elsewhere).
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return ""
    return f" (relative to the working folder {Path.cwd()}, so {path.absolute()})"


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def prepare_output_dir(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create an empty output folder, rejecting one that already contains files.

    Raises:
        FileExistsError: ``path`` contains files and ``overwrite`` is false.
        NotADirectoryError: ``path`` is a file.
    """
    path = check_output_dir(path, overwrite)
    return make_folder(path)


def check_output_dir(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Raise the errors of :func:`prepare_output_dir` without creating anything, and return the path."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"Output path {path} is a file; choose a folder name for --out.")
    blocking = file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(f"Output path {path} lies under {blocking}, which is a file; choose another --out.")
    if path.is_dir() and any(entry.name != LOCK_FILE for entry in path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Output folder {path} already contains files from an earlier run; choose a new --out "
            f"folder or pass --overwrite to replace them."
        )
    return path
