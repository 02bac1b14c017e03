"""Tests of how distances and thresholds are shown in text and JSON."""

from __future__ import annotations

import pytest

from siamese.distances import format_distance, format_threshold, json_distance


@pytest.mark.parametrize(
    ("value", "distance_text", "threshold_text", "number"),
    [
        (1.17607, "1.176", "1.176", 1.1761),
        (0.01, "0.010", "0.010", 0.01),
        (0.0015, "0.002", "0.0015", 0.0015),
        (0.000123456, "0.000", "0.000123", 0.000123),
        (1.06e-06, "0.000", "0.00000106", 1.06e-06),
        (0.0, "0.000", "0.000", 0.0),
    ],
)
def test_distance_text_and_json(value, distance_text, threshold_text, number):
    assert format_distance(value) == distance_text
    assert format_threshold(value) == threshold_text
    assert json_distance(value) == number
