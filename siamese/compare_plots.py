"""PNG plots of an optimizer comparison, drawn with Seaborn on the Agg backend.

Figures are created as :class:`matplotlib.figure.Figure` objects with an Agg canvas instead
of through ``pyplot``, so writing them needs no display and leaves the caller's matplotlib
backend alone. Bands and error bars show the mean ± one standard deviation across the runs
(seeds and folds) of a condition.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from siamese.files import atomic_write

EPOCH_PANELS = (
    ("loss", "training loss"),
    ("val_one_shot_accuracy", "validation one-shot accuracy"),
    ("val_eer", "validation EER"),
)
FINAL_PANELS = (
    ("one_shot_accuracy", "one-shot accuracy (test)"),
    ("eer", "equal error rate (test)"),
)


def _figure(rows: int, columns: int, width: float, height: float) -> tuple[Figure, list]:
    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def _save(figure: Figure, path: Path) -> Path:
    return atomic_write(path, lambda temporary: figure.savefig(temporary, dpi=120, format="png"))


def plot_training_curves(results: pd.DataFrame, path: Path, sweep: bool) -> Path:
    """Plot loss, validation one-shot accuracy and validation EER per epoch, one line per optimizer.

    ``results`` is the table of ``results.csv``. With a learning-rate sweep each rate gets
    its own row of panels.
    """
    rates = sorted(results["learning_rate"].unique()) if sweep else [None]
    figure, axes = _figure(len(rates), len(EPOCH_PANELS), 4.6, 3.4)
    for row, rate in enumerate(rates):
        subset = results if rate is None else results[results["learning_rate"] == rate]
        for column, (metric, title) in enumerate(EPOCH_PANELS):
            axis = axes[row][column]
            sns.lineplot(
                data=subset, x="epoch", y=metric, hue="optimizer", errorbar="sd", ax=axis,
                legend=(row == 0 and column == 0),
            )
            axis.set_title(title if rate is None else f"{title}, lr={rate:g}")
            axis.set_ylabel(metric)
    figure.suptitle("Per-epoch curves: mean ± 1 sd across seeds and folds")
    return _save(figure, path)


def plot_final_metrics(summary: pd.DataFrame, path: Path, sweep: bool) -> Path:
    """Draw box plots of the final one-shot accuracy and EER per optimizer, with every run as a dot.

    With a learning-rate sweep, each optimizer gets one box per rate.
    """
    figure, axes = _figure(1, len(FINAL_PANELS), 5.5, 4.0)
    summary = summary.assign(rate=[f"{rate:g}" for rate in summary["learning_rate"]])
    order = list(dict.fromkeys(summary["optimizer"]))
    hue = "rate" if sweep else "optimizer"
    for column, (metric, title) in enumerate(FINAL_PANELS):
        axis = axes[0][column]
        sns.boxplot(
            data=summary, x="optimizer", y=metric, hue=hue, order=order, fill=False, showfliers=False,
            ax=axis, legend=False,
        )
        sns.stripplot(
            data=summary, x="optimizer", y=metric, hue=hue, order=order, dodge=sweep, size=5, alpha=0.8,
            ax=axis, legend=(sweep and column == 0),
        )
        axis.set_title(title)
        axis.tick_params(axis="x", rotation=30)
    if sweep:
        axes[0][0].legend(title="learning rate")
    figure.suptitle("Final test metrics per run (box: quartiles, dots: individual runs)")
    return _save(figure, path)


def plot_roc_curves(roc: pd.DataFrame, path: Path) -> Path:
    """Plot the mean ROC curve of each condition on the test pairs, on one set of axes.

    ``roc`` is resampled at fixed false positive rates (see
    :func:`siamese.compare_tables.interpolated_roc`) and has a ``condition`` column.
    """
    figure, axes = _figure(1, 1, 5.5, 5.0)
    axis = axes[0][0]
    sns.lineplot(data=roc, x="false_positive_rate", y="true_positive_rate", hue="condition", errorbar="sd", ax=axis)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.set_aspect("equal")
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.legend(title="optimizer", loc="lower right")
    axis.set_title("ROC on test pairs: mean ± 1 sd across runs")
    return _save(figure, path)


def plot_learning_rate_sensitivity(summary: pd.DataFrame, path: Path) -> Path:
    """Plot final one-shot accuracy and EER against the learning rate (log scale), one line per optimizer."""
    figure, axes = _figure(1, len(FINAL_PANELS), 5.5, 4.0)
    for column, (metric, title) in enumerate(FINAL_PANELS):
        axis = axes[0][column]
        sns.lineplot(
            data=summary, x="learning_rate", y=metric, hue="optimizer", marker="o", errorbar="sd",
            err_style="bars", ax=axis, legend=(column == 0),
        )
        axis.set_xscale("log")
        axis.set_title(title)
    figure.suptitle("Learning-rate sensitivity: mean ± 1 sd across seeds and folds")
    return _save(figure, path)
