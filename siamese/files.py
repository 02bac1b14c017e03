"""Atomic file writes and output folders that never overwrite earlier results."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then rename the result onto ``path``.

    The temporary file sits in the same folder, so the rename is atomic: readers see the old
    file or the complete new one, never a partial write. On error the temporary file is removed.
    """
    path = Path(path).expanduser()
    make_folder(path.parent)

    # Create the temporary file with mode 0666 minus the umask, as a plain open() would, so the
    # result gets the usual permissions (mkstemp would leave it readable by the owner only).
    # The name is shortened so that it stays legal for target names near the 255-byte limit.
    temporary = path.parent / f".{path.stem[:100]}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}"
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except PermissionError as error:
        raise PermissionError(
            f"Cannot write {path}: the folder {path.parent} does not allow new files "
            f"({error.strerror}). Choose a folder you can write to, or change its permissions."
        ) from error
    try:
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
    """
    path = Path(path).expanduser()
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(f"Cannot create the folder {path}: {blocking} is a file. Choose another path.")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file_in_the_way(path: Path) -> Path | None:
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
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise NotADirectoryError(f"Output path {path} lies under {blocking}, which is a file; choose another --out.")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Output folder {path} already contains files from an earlier run; choose a new --out "
            f"folder or pass --overwrite to replace them."
        )
    return path
