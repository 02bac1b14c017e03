"""Hide the lines that TensorFlow's C++ runtime writes to stderr while it is imported.

TensorFlow 2.21 writes "All log messages before absl::InitializeLog() is called are written to
STDERR" and a notice that oneDNN custom operations are on, twice each, at any
value of ``TF_CPP_MIN_LOG_LEVEL``, because they come before its logging is set up. They are
written by C++ code straight to file descriptor 2, so Python's ``sys.stderr`` cannot catch
them. :func:`install` adds an import hook that points descriptor 2 at ``/dev/null`` while the
``tensorflow`` package itself is imported, and only then.

The hook follows ``TF_CPP_MIN_LOG_LEVEL``: at 0 (show everything) it hides nothing. Python
exceptions raised by the import still reach the caller, after stderr is restored.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys

#: The package whose import is silenced.
PACKAGE = "tensorflow"


@contextlib.contextmanager
def stderr_descriptor_silenced():
    """Point file descriptor 2 at the null device inside the block, then restore it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2, such as some embedded interpreters
        yield
        return

    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    """Wraps the real loader of ``tensorflow`` so that its module code runs with stderr silenced."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # Give the module its real loader back first, for code that reads resources through it.
        module.__loader__ = self._loader
        module.__spec__.loader = self._loader
        with stderr_descriptor_silenced():
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, then swaps in :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != PACKAGE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Silence the next import of ``tensorflow``, unless it is loaded or TF_CPP_MIN_LOG_LEVEL is 0."""
    if PACKAGE in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
        return
    if not any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
