"""Inspect and check a ``siamese train`` output folder without importing TensorFlow.

``siamese train`` calls :func:`check_training_folders` before its slow imports, so a
rejected ``--out`` or a missing data folder is reported within about a second, and
:func:`interrupted_training_note` when Ctrl-C stops it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from siamese.download import needs_download
from siamese.files import LOCK_FILE, check_output_dir, explain_storage_errors, make_folder

#: Folder of the checkpoint inside a ``siamese train`` output folder.
CHECKPOINT_FOLDER = "checkpoint"
#: File in the checkpoint folder that names the finished epochs (see :mod:`siamese.checkpoint`).
PROGRESS_FILE = "progress.json"


def has_checkpoint(out_dir: str | os.PathLike) -> bool:
    """Return whether ``out_dir`` contains a saved training state (``checkpoint/progress.json``)."""
    return (Path(out_dir).expanduser() / CHECKPOINT_FOLDER / PROGRESS_FILE).is_file()


def stopped_before_first_epoch(out_dir: Path) -> bool:
    """Return whether ``out_dir`` contains only what a run writes before its first epoch ends.

    That is ``config.json`` and at most a checkpoint folder without ``progress.json``. Such a
    run saved none of its training, so rerunning the same command starts it over instead of
    rejecting the folder.
    """
    if not out_dir.is_dir():
        return False
    entries = {entry.name for entry in out_dir.iterdir()} - {LOCK_FILE}
    return "config.json" in entries and entries <= {"config.json", CHECKPOINT_FOLDER}


@contextmanager
def lock_output_folder(out_dir: str | os.PathLike, command: str = "siamese train") -> Iterator[Path]:
    """Hold an exclusive lock on ``out_dir`` while the block runs, so two commands never share it.

    The lock is ``fcntl.flock`` on ``out_dir/.siamese.lock``, which also stores the holder's
    process id. The operating system releases it when the process exits, even after a crash
    or SIGKILL, so a stale lock file never blocks a later run. ``out_dir`` is created if it is
    missing, and removed again on exit when nothing but the lock file was written into it.

    Raises:
        FileExistsError: another process holds the lock; the message names its process id.
    """
    out_dir = make_folder(out_dir)
    path = out_dir / LOCK_FILE
    with explain_storage_errors(path):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise FileExistsError(
                f"Another {command} is using {out_dir} (pid {holder}). Wait for it to finish, stop "
                f"it, or choose another --out folder."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield out_dir
        finally:
            _remove_if_only_lock(out_dir)
    finally:
        os.close(descriptor)  # releases the lock


def _remove_if_only_lock(out_dir: Path) -> None:
    """Delete ``out_dir`` when it contains nothing but the lock file, as when bad input stopped the run."""
    try:
        if {entry.name for entry in out_dir.iterdir()} == {LOCK_FILE}:
            (out_dir / LOCK_FILE).unlink()
            out_dir.rmdir()
    except OSError:
        pass  # a file written meanwhile, or a read-only folder, keeps the folder as it is


def check_training_folders(
    data_dir: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False, download: bool = True
) -> bool:
    """Raise the errors that the two folders' listings decide, and return whether the run resumes.

    A run resumes when ``out_dir`` contains an unfinished run and ``overwrite`` is false.
    Nothing is created or read beyond folder listings.

    Raises:
        FileExistsError: ``out_dir`` contains a finished run or other files and ``overwrite``
            is false.
        NotADirectoryError: ``out_dir`` or ``data_dir`` is a file, or ``out_dir`` lies below one.
        FileNotFoundError: ``data_dir`` is missing or empty and ``download`` is false.
    """
    out_dir = Path(out_dir).expanduser()
    resuming = (has_checkpoint(out_dir) or stopped_before_first_epoch(out_dir)) and not overwrite
    if not resuming:
        check_output_dir(out_dir, overwrite=overwrite)

    needs_download(data_dir, download=download)
    return resuming


def saved_epochs(out_dir: str | os.PathLike) -> tuple[int, int] | None:
    """Return ``(finished, planned)`` epochs of the checkpoint in ``out_dir``, or ``None`` without a readable one."""
    path = Path(out_dir).expanduser() / CHECKPOINT_FOLDER / PROGRESS_FILE
    try:
        progress = json.loads(path.read_text(encoding="utf-8"))
        return int(progress["epochs_done"]), int(progress["config"]["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def interrupted_training_note(out_dir: str | os.PathLike, overwrite: bool = False) -> str:
    """Return what an interrupted ``siamese train --out out_dir`` kept and how to resume it.

    Example: ``Epochs 1-3 of 6 are saved in runs/a/checkpoint. Run the same command again to
    resume from epoch 4.``
    """
    saved = saved_epochs(out_dir)
    if saved is None:
        return "No epoch had finished, so nothing of the training is kept; the same command trains from the start."

    finished, planned = saved
    folder = Path(out_dir) / CHECKPOINT_FOLDER
    rerun = "Run the command again without --overwrite" if overwrite else "Run the same command again"
    if finished >= planned:
        return (
            f"All {planned} epochs are saved in {folder}. {rerun} to restore them and write the "
            f"evaluation, model and plots without training again."
        )
    kept = "Epoch 1" if finished == 1 else f"Epochs 1-{finished}"
    verb = "is" if finished == 1 else "are"
    return f"{kept} of {planned} {verb} saved in {folder}. {rerun} to resume from epoch {finished + 1}."
