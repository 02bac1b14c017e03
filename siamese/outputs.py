"""Choose output paths that never replace a command's inputs or an earlier run's results.

The rules shared by ``detect``, ``identify`` and ``video``:

- No output may be an input: a photo or video, the gallery or the SQLite files beside it,
  the model or its ``metrics.json``.
- A default-named output that already exists is numbered instead (``NAME-2.png``,
  ``NAME-3.png`` …), so an earlier run's results are kept.
- An output file the user named explicitly is replaced, with a logged warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from siamese.pathnames import display_path

logger = logging.getLogger(__name__)

#: Files SQLite keeps beside a database: the rollback journal, or the write-ahead log and its
#: shared-memory index. SQLite deletes or replays them on the next open, which would destroy an
#: output of the same name.
SQLITE_SIDECAR_SUFFIXES = ("-journal", "-wal", "-shm")


def protected_inputs(
    sources: list[tuple[str | os.PathLike, str]] = (),
    gallery: str | os.PathLike | None = None,
    model: str | os.PathLike | None = None,
) -> dict[Path, str]:
    """Map each input path (resolved) to a description such as ``"the gallery 'people.db'"``.

    Args:
        sources: ``(path, kind)`` pairs such as ``(photo, "input photo")``.
        gallery: the gallery file. Its SQLite sidecar files are protected too, under both the
            given path and the real one, because SQLite names them after the file it opened.
        model: the ``model.keras`` file; its folder's ``metrics.json`` is protected too.
    """
    from siamese.recognize import METRICS_FILE

    protected = {}
    for path, kind in sources:
        protected[Path(path).resolve()] = f"the {kind} {_quoted(path)}"
    if gallery is not None:
        protected[Path(gallery).resolve()] = f"the gallery {_quoted(gallery)}"
        for base in {Path(gallery), Path(gallery).resolve()}:
            for suffix in SQLITE_SIDECAR_SUFFIXES:
                sidecar = Path(f"{base}{suffix}")
                protected[sidecar.resolve()] = f"the gallery's SQLite file {_quoted(sidecar)}"
    if model is not None:
        protected[Path(model).resolve()] = f"the model {_quoted(model)}"
        metrics = Path(model).parent / METRICS_FILE
        protected[metrics.resolve()] = f"the model's {_quoted(metrics)}"
    return protected


def check_not_inputs(outputs: list[Path], protected: dict[Path, str]) -> None:
    """Raise ValueError when an output path is one of the ``protected`` inputs."""
    for path in outputs:
        owner = protected.get(path.resolve())
        if owner is not None:
            raise ValueError(
                f"The output path {_quoted(path)} is {owner}, which the run would overwrite; choose another output."
            )


def unused_path(folder: Path, stem: str, suffix: str, taken_paths: list[Path] = ()) -> Path:
    """Return ``folder/stem+suffix``, or the first of ``stem-2``, ``stem-3`` … that is neither in
    ``taken_paths`` nor already on disk."""
    number = 1
    while True:
        candidate = folder / f"{numbered_stem(stem, number)}{suffix}"
        if candidate not in taken_paths and not path_exists(candidate):
            return candidate
        number += 1


def numbered_stem(stem: str, number: int) -> str:
    """Return ``stem`` for number 1, else ``stem-NUMBER``."""
    return stem if number == 1 else f"{stem}-{number}"


def warn_if_replacing(path: Path) -> None:
    """Log a warning when ``path``, an output the user named explicitly, is an existing file."""
    if path.is_file():
        logger.warning("Replacing the existing %s, as given; pass another path to keep it.", _quoted(path))


def path_exists(path: Path) -> bool:
    """Return ``path.exists()``, or False when the name is too long to look up, which the writer reports."""
    try:
        return path.exists()
    except OSError:
        return False


def _quoted(path: str | os.PathLike) -> str:
    """Return ``path`` in single quotes, with bytes that are not UTF-8 escaped as ``\\xNN``."""
    return f"'{display_path(path)}'"
