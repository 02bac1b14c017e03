"""Text and JSON forms of the Euclidean distances between embeddings that the commands print.

Distances and thresholds usually lie between 0.1 and 2. Text shows distances with 3
decimals, so the distance of a photo to itself (such as 1.06e-06) prints as 0.000. JSON keeps
4 decimals. A threshold below 0.01 (only ever given by hand) keeps 3 significant digits in
text and JSON instead, so 0.0015 does not print as 0.002.

NOTE: against such a threshold a distance within 0.0005 of it can print on the wrong side in
text (0.00252 prints as 0.003 and is still below 0.00254); JSON keeps 3 significant digits.
"""

from __future__ import annotations

import math

#: Below this, thresholds keep significant digits instead of a fixed number of decimals.
SMALL_DISTANCE = 0.01


def format_distance(value: float) -> str:
    """Return ``value`` with 3 decimals, in positional notation (never ``1e-06``)."""
    return f"{float(value):.3f}"


def format_threshold(value: float) -> str:
    """Return ``value`` with 3 decimals, or with 3 significant digits in positional notation below 0.01."""
    value = float(value)
    if value >= SMALL_DISTANCE or value <= 0:
        return f"{value:.3f}"

    decimals = 2 - math.floor(math.log10(value))
    return f"{value:.{decimals}f}".rstrip("0")


def json_distance(value: float) -> float:
    """Return ``value`` rounded to 4 decimals, or to 3 significant digits when it is below 0.01."""
    value = float(value)
    return round(value, 4) if value >= SMALL_DISTANCE or value == 0 else float(f"{value:.3g}")
