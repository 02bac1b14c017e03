"""The thresholds that the open-set benchmarks score: the model's own and any given with --thresholds."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger("benchmarks.thresholds")


def add_model_options(parser: argparse.ArgumentParser, model_help: str) -> None:
    """Add ``--out``, ``--model``, ``--thresholds`` and ``-v`` to a benchmark's ``parser``."""
    from siamese.commands.options import positive_float

    parser.add_argument("--out", required=True, help="folder for results.json and results.md")
    parser.add_argument("--model", default=None, help=f"{model_help} (default: $SIAMESE_MODEL, then runs/latest/model.keras)")
    parser.add_argument("--thresholds", nargs="+", type=positive_float, default=[], metavar="DISTANCE",
                        help="more thresholds to report, besides the two in the model's metrics.json")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")


def model_thresholds(model_path: Path) -> dict[str, float]:
    """Return the usable thresholds in ``metrics.json`` beside the model, by name.

    A missing file, a missing key or an invalid value is logged and left out.
    """
    from siamese.recognize import load_threshold

    found = {}
    for key in ("threshold", "identify_threshold"):
        try:
            found[key] = load_threshold(model_path, key)
        except FileNotFoundError:
            logger.warning("No metrics.json beside %s, so only --thresholds are scored.", model_path)
            break
        except KeyError:
            logger.warning("The metrics.json beside %s has no '%s'; it is left out.", model_path, key)
        except ValueError as error:
            logger.warning("%s; it is left out.", str(error).split(";")[0])
    return found


def thresholds_to_score(model_path: Path, extra: list[float]) -> list[tuple[str, float]]:
    """Return ``(source, distance)`` for the model's thresholds, then for each of ``extra``.

    Raises:
        ValueError: neither the model nor ``extra`` gives a threshold.
    """
    thresholds = list(model_thresholds(model_path).items()) + [("--thresholds", value) for value in extra]
    if not thresholds:
        raise ValueError(
            f"No threshold to score: the model folder of {model_path} has no usable metrics.json. "
            f"Pass --thresholds DISTANCE [DISTANCE ...], or use a model folder written by `siamese train`."
        )
    return thresholds
