"""Shared fixtures: the real data folders, found through environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ATT_ENV = "SIAMESE_ATT_DIR"
PHOTOS_ENV = "SIAMESE_SAMPLE_PHOTOS"


def _folder_from_env(variable: str, description: str) -> Path:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{description} not available: set {variable} to its folder")
    folder = Path(value)
    if not folder.is_dir():
        pytest.fail(f"{variable}={value} is not a folder")
    return folder


@pytest.fixture(scope="session")
def att_dir() -> Path:
    """The AT&T faces folder (s1 … s40) named by SIAMESE_ATT_DIR."""
    return _folder_from_env(ATT_ENV, "AT&T faces")


@pytest.fixture(scope="session")
def sample_photos_dir() -> Path:
    """The folder of sample photos named by SIAMESE_SAMPLE_PHOTOS."""
    return _folder_from_env(PHOTOS_ENV, "sample photos")
