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
    process id and command. The operating system releases it when the process exits, even
    after a crash or SIGKILL, so a stale lock file never blocks a later run. ``out_dir`` and
    its parents are created if missing. On exit this call removes the lock file if it created
    it, then the folders it created if they are empty, so a rejected command leaves the file
    system as it found it.

    NOTE: when two commands start on a missing folder at the same instant, the one that created
    the lock file can lose the lock to the other, and neither then removes the file or the
    folders. Later commands ignore a lock file that nobody holds.

    Raises:
        FileExistsError: another process holds the lock; the message names its command and
            process id.
    """
    out_dir = Path(out_dir).expanduser()
    while True:
        created_folders = _missing_folders(out_dir)
        make_folder(out_dir)
        opened = _open_lock_file(out_dir / LOCK_FILE)
        if opened is None:
            continue  # another command removed the folder meanwhile
        descriptor, created_file = opened
        try:
            _acquire(descriptor, out_dir, command)
            if _still_at_path(descriptor, out_dir / LOCK_FILE):
                break
        except BaseException:
            os.close(descriptor)
            raise
        # The holder before us removed the file after we opened it, so our lock guards nothing.
        os.close(descriptor)

    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {command}\n".encode("utf-8"), 0)
        yield out_dir
    finally:
        # Unlinking before the lock is released is safe, because a process that opened the
        # file before it was unlinked finds it no longer at the path and opens it again.
        if created_file:
            _remove_quietly((out_dir / LOCK_FILE).unlink)
        for folder in created_folders:
            if not _remove_quietly(folder.rmdir):
                break
        os.close(descriptor)  # releases the lock


def _missing_folders(out_dir: Path) -> list[Path]:
    """Return ``out_dir`` and those of its parents that do not exist, deepest first."""
    missing = []
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _open_lock_file(path: Path) -> tuple[int, bool] | None:
    """Open or create the lock file; return its descriptor and whether this call created it.

    Returns ``None`` when the folder of ``path`` vanished meanwhile, so the caller creates it again.
    """
    with explain_storage_errors(path):
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), True
        except FileExistsError:
            pass
        except FileNotFoundError:
            return None
        try:
            return os.open(path, os.O_RDWR), False
        except FileNotFoundError:
            return None  # the file or its folder was removed after the first open


def _acquire(descriptor: int, out_dir: Path, command: str) -> None:
    """Take the exclusive lock on ``descriptor`` without waiting.

    Raises:
        FileExistsError: another process has the lock; the message names that process from the file.
    """
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        holder_pid, holder_command = _read_holder(descriptor)
        raise FileExistsError(
            f"Another {holder_command} is using {out_dir} (pid {holder_pid}). Wait for it to finish, "
            f"stop it, or choose another --out folder."
        ) from None


def _read_holder(descriptor: int) -> tuple[str, str]:
    """Return the process id and command that the lock file names, as ``("1234", "siamese train")``.

    A file written by an older version holds only the process id, and a holder that has just
    taken the lock may not have written yet, so the parts that are missing become ``"unknown"``
    and ``"siamese command"``.
    """
    text = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip()
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "unknown", "siamese command"
    if not command.startswith("siamese "):
        command = "siamese command"
    return pid, command


def _still_at_path(descriptor: int, path: Path) -> bool:
    """Return whether ``path`` still names the open file ``descriptor``."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino)


def _remove_quietly(remove) -> bool:
    """Call ``remove`` (an unlink or rmdir) and return whether it succeeded.

    A folder that now contains other files, or a read-only one, stays as it is.
    """
    try:
        remove()
    except OSError:
        return False
    return True


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
