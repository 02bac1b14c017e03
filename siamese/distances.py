"""Text and JSON forms of the Euclidean distances between embeddings that the commands print.

Distances and thresholds usually lie between 0.1 and 2 and are shown with 3 decimals (text)
or 4 (JSON). Below 0.01 fixed decimals would hide the value, so such a value keeps 3
significant digits instead. A threshold of 0.0015 then prints as 0.0015, not 0.002.
"""

from __future__ import annotations

#: Below this, distances keep significant digits instead of a fixed number of decimals.
SMALL_DISTANCE = 0.01


def format_distance(value: float) -> str:
    """Return ``value`` with 3 decimals, or with 3 significant digits when it is below 0.01."""
    value = float(value)
    return f"{value:.3f}" if value >= SMALL_DISTANCE or value == 0 else f"{value:.3g}"


def json_distance(value: float) -> float:
    """Return ``value`` rounded to 4 decimals, or to 3 significant digits when it is below 0.01."""
    value = float(value)
    return round(value, 4) if value >= SMALL_DISTANCE or value == 0 else float(f"{value:.3g}")
