"""Tables of an optimizer comparison, built from the stored run records.

A run record is the dictionary that :func:`siamese.compare_run.execute_run` writes to
``runs/RUN_ID.json``. Every table here is long format: one row per run, per run and epoch,
or per ROC point.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

RUN_KEYS = ("optimizer", "learning_rate", "seed", "fold")

#: Per-epoch columns of ``results.csv`` after the run keys and ``epoch``.
EPOCH_COLUMNS = ("loss", "accuracy", "val_one_shot_accuracy", "val_eer", "val_roc_auc")

#: Final metrics of ``summary.csv`` after the run keys. ``network_one_shot_accuracy`` is the
#: last epoch's validation one-shot accuracy of the network's own embeddings, before the
#: discriminant projection. It is there because the projection can hide differences in
#: training (see docs/compare.md).
SUMMARY_COLUMNS = (
    "one_shot_accuracy",
    "eer",
    "roc_auc",
    "verification_accuracy",
    "train_seconds",
    "n_way",
    "threshold",
    "network_one_shot_accuracy",
)

#: False positive rates at which the ROC curves of several runs are averaged.
ROC_GRID = np.linspace(0.0, 1.0, 201)


def results_table(records: dict[str, dict]) -> pd.DataFrame:
    """Return one row per run and epoch (epochs count from 1) with the training and validation metrics."""
    rows = []
    for record in records.values():
        history = record["history"]
        epochs = len(history.get("loss", []))
        for epoch in range(epochs):
            row = {key: record[key] for key in RUN_KEYS}
            row["epoch"] = epoch + 1
            for column in EPOCH_COLUMNS:
                values = history.get(column)
                row[column] = values[epoch] if values is not None and epoch < len(values) else np.nan
            rows.append(row)
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "epoch", *EPOCH_COLUMNS])


def summary_table(records: dict[str, dict]) -> pd.DataFrame:
    """Return one row per run with the final test metrics and the training time in seconds."""
    rows = []
    for record in records.values():
        row = {key: record[key] for key in RUN_KEYS}
        curve = record["history"].get("val_one_shot_accuracy") or [np.nan]
        extra = {"train_seconds": record["train_seconds"], "network_one_shot_accuracy": curve[-1]}
        for column in SUMMARY_COLUMNS:
            row[column] = extra[column] if column in extra else record["metrics"].get(column, np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*RUN_KEYS, *SUMMARY_COLUMNS])


def roc_table(records: dict[str, dict]) -> pd.DataFrame:
    """Return every run's ROC points on its test pairs: run keys, ``false_positive_rate``, ``true_positive_rate``."""
    frames = []
    for record in records.values():
        roc = record["roc"]
        frame = pd.DataFrame(
            {
                "false_positive_rate": roc["false_positive_rate"],
                "true_positive_rate": roc["true_positive_rate"],
            }
        )
        for key in reversed(RUN_KEYS):
            frame.insert(0, key, record[key])
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*RUN_KEYS, "false_positive_rate", "true_positive_rate"])
    return pd.concat(frames, ignore_index=True)


def interpolated_roc(roc: pd.DataFrame) -> pd.DataFrame:
    """Resample every run's ROC curve at :data:`ROC_GRID`, so runs can be averaged per false positive rate."""
    frames = []
    for keys, points in roc.groupby(list(RUN_KEYS), sort=False):
        points = points.sort_values(["false_positive_rate", "true_positive_rate"])
        true_positive = np.interp(ROC_GRID, points["false_positive_rate"], points["true_positive_rate"])
        frame = pd.DataFrame({"false_positive_rate": ROC_GRID, "true_positive_rate": true_positive})
        for key, value in zip(RUN_KEYS, keys):
            frame[key] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def add_conditions(table: pd.DataFrame, sweep: bool) -> pd.DataFrame:
    """Return a copy with a ``condition`` column: the optimizer, plus its rate when ``sweep``."""
    table = table.copy()
    if sweep:
        table["condition"] = [f"{name} lr={rate:g}" for name, rate in zip(table["optimizer"], table["learning_rate"])]
    else:
        table["condition"] = table["optimizer"]
    return table


def best_rate_conditions(summary: pd.DataFrame, metric: str = "one_shot_accuracy") -> list[str]:
    """Return, per optimizer, the condition whose learning rate has the highest mean ``metric``.

    ``summary`` needs a ``condition`` column (see :func:`add_conditions`). Without a sweep
    every optimizer has one condition, which is returned as is.
    """
    means = summary.groupby(["optimizer", "condition"], sort=False)[metric].mean().reset_index()
    best = means.loc[means.groupby("optimizer", sort=False)[metric].idxmax()]
    return list(best["condition"])


def fairness_problems(records: dict[str, dict]) -> tuple[int, list[str]]:
    """Check that runs of one ``(seed, fold)`` share initial weights, batches and split.

    Returns the number of ``(seed, fold)`` groups checked and one message per group whose
    runs differ in the fingerprint of their initial weights, the fingerprint of their
    batches, or their train and test identities.
    """
    groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for record in records.values():
        groups[(record["seed"], record["fold"])].append(record)

    problems = []
    fields = ("initial_weights_sha256", "batches_sha256", "train_identities", "test_identities")
    for (seed, fold), members in sorted(groups.items()):
        for field in fields:
            values = {str(member.get(field)) for member in members}
            if len(values) > 1:
                runs = ", ".join(member["run_id"] for member in members)
                problems.append(f"seed {seed}, fold {fold}: {field} differs between {runs}")
    return len(groups), problems
