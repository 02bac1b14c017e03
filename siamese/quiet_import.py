"""Filter the lines that TensorFlow's C++ runtime writes to stderr while it is imported.

TensorFlow 2.21 writes "All log messages before absl::InitializeLog() is called are written to
STDERR" and an INFO line saying that oneDNN custom operations are on, twice each, at any
value of ``TF_CPP_MIN_LOG_LEVEL``, because they come before its logging is set up. C++ code
writes them straight to file descriptor 2, so Python's ``sys.stderr`` cannot catch them.

:func:`install` adds an import hook that points descriptor 2 at a temporary file while the
``tensorflow`` package itself is imported. Afterwards every captured line is written back to
stderr, with two exceptions. TensorFlow log lines below ``TF_CPP_MIN_LOG_LEVEL`` are dropped
(0 INFO, 1 WARNING, 2 ERROR, 3 FATAL, read from their ``I``/``W``/``E``/``F`` prefix). The
absl notice above is dropped at level 1 or more. Python warnings, errors and other lines
pass through unchanged, after the import. At level 0 nothing is captured.

NOTE: the output of a process that dies during the import is lost with the temporary file.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

#: The package whose import is filtered.
PACKAGE = "tensorflow"

#: The notice absl prints before its logging starts, whatever the level.
ABSL_NOTICE = "All log messages before absl::InitializeLog() is called are written to STDERR"

#: An absl or glog log line: severity letter, then ``MMDD HH:MM:SS``.
LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")

SEVERITIES = "IWEF"


def min_log_level() -> int:
    """Return ``TF_CPP_MIN_LOG_LEVEL`` as TensorFlow reads it: an integer, 0 when unset or invalid."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def without_startup_lines(text: str, level: int) -> str:
    """Return ``text`` without the TensorFlow log lines below ``level`` and the absl notice."""
    remaining = []
    for line in text.splitlines(keepends=True):
        match = LOG_LINE.match(line)
        if match and SEVERITIES.index(match.group(1)) < level:
            continue
        if level >= 1 and ABSL_NOTICE in line:
            continue
        remaining.append(line)
    return "".join(remaining)


@contextlib.contextmanager
def stderr_filtered(level: int):
    """Capture file descriptor 2 inside the block, then write back what :func:`without_startup_lines` returns.

    When descriptor 2 cannot be captured (stderr closed, no temporary folder), the block
    runs with stderr untouched.
    """
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        capture = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        yield
        return

    try:
        os.dup2(capture.fileno(), 2)
        yield
    finally:
        if sys.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        text = without_startup_lines(capture.read().decode("utf-8", errors="replace"), level)
        capture.close()
        if text:
            os.write(2, text.encode("utf-8"))


class _FilteringLoader(importlib.abc.Loader):
    """Loader that wraps the real one of ``tensorflow``, so that its module code runs with stderr filtered."""

    def __init__(self, loader, level: int):
        self._loader = loader
        self._level = level

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # Give the module its real loader back first, for code that reads resources through it.
        module.__loader__ = self._loader
        module.__spec__.loader = self._loader
        with stderr_filtered(self._level):
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _FilteringFinder(importlib.abc.MetaPathFinder):
    """Finder that locates ``tensorflow`` as usual, then swaps in :class:`_FilteringLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != PACKAGE:
            return None
        level = min_log_level()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or level == 0:
            return spec
        spec.loader = _FilteringLoader(spec.loader, level)
        return spec


def install() -> None:
    """Filter stderr during the next import of ``tensorflow``, unless it is already loaded."""
    if PACKAGE in sys.modules:
        return
    if not any(isinstance(finder, _FilteringFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _FilteringFinder())
