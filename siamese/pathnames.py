"""File names that are not valid UTF-8, in messages, output and the gallery.

On Linux a file name is any byte string, and Python decodes the bytes that are not UTF-8 to
lone surrogates (``b"\\xff"`` becomes ``"\\udcff"``, PEP 383). Such text cannot be encoded as
UTF-8: Python's sqlite3 module raises UnicodeEncodeError for it, and ``json.dumps`` writes a
lone ``\\udcff`` escape, which RFC 8259 leaves to each JSON reader to accept or reject.
:func:`display_path` writes those bytes as ``\\xNN`` escapes, and :func:`check_utf8_path`
rejects such names before a command writes anything.
"""

from __future__ import annotations

import os


def display_path(path: str | os.PathLike) -> str:
    """Return ``path`` as valid UTF-8 text, with each byte that is not UTF-8 written as ``\\xNN``.

    ``bad\\xffname.jpg`` on disk gives the 15 characters ``bad\\xffname.jpg``. A name that is
    valid UTF-8 is returned unchanged.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_utf8_path(path: str | os.PathLike) -> bool:
    """Return whether ``path`` encodes to UTF-8, so that it can be stored and printed as text."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_utf8_path(path: str | os.PathLike) -> None:
    """Raise ValueError, naming the file with its bad bytes escaped, when ``path`` is not valid UTF-8.

    OpenCV 5.1 crashes with a segmentation fault when a video path is not valid UTF-8, so
    video inputs and outputs must pass this check before OpenCV opens them.
    """
    if not is_utf8_path(path):
        raise ValueError(
            f"The file name {display_path(path)} is not valid UTF-8 (the bad bytes are shown as "
            f"\\xNN). siamese stores and prints file names, and passes them to OpenCV, as UTF-8 "
            f"text. Rename the file or folder to a UTF-8 name and try again."
        )
