"""Tests of file names that are not valid UTF-8: how they are shown and when they are rejected."""

from __future__ import annotations

import os

import pytest

from siamese.pathnames import check_utf8_path, display_path, is_utf8_path

# The bytes b"bad\xffname.jpg" as Python decodes them from the file system (PEP 383).
BAD_NAME = os.fsdecode(b"bad\xffname.jpg")


def test_display_path_escapes_bad_byte():
    assert BAD_NAME == "bad\udcffname.jpg"
    assert display_path(BAD_NAME) == "bad\\xffname.jpg"
    assert display_path(BAD_NAME).encode("utf-8") == b"bad\\xffname.jpg"


def test_display_path_keeps_utf8_names():
    assert display_path("photos/Zoë 李.jpg") == "photos/Zoë 李.jpg"


def test_check_utf8_path_names_file_and_fix():
    assert is_utf8_path("photos/Zoë.jpg")
    assert not is_utf8_path(BAD_NAME)
    check_utf8_path("photos/Zoë.jpg")

    with pytest.raises(ValueError) as raised:
        check_utf8_path(BAD_NAME)
    message = str(raised.value)
    assert "bad\\xffname.jpg is not valid UTF-8" in message
    assert "Rename the file" in message
    assert message.encode("utf-8")  # raises UnicodeEncodeError if the message kept a surrogate
