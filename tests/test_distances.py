"""Tests of how distances are shown in text and JSON."""

from __future__ import annotations

import pytest

from siamese.distances import format_distance, json_distance


@pytest.mark.parametrize(
    ("value", "text", "number"),
    [
        (1.17607, "1.176", 1.1761),
        (0.01, "0.010", 0.01),
        (0.0015, "0.0015", 0.0015),
        (0.000123456, "0.000123", 0.000123),
        (0.0, "0.000", 0.0),
    ],
)
def test_distance_text_and_json(value, text, number):
    assert format_distance(value) == text
    assert json_distance(value) == number
