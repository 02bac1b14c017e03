"""Figures of one training run: curves, ROC, distance histogram, example pairs and per-subject errors."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from siamese.files import atomic_write


def save_figure(figure: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG atomically and close it."""
    path = atomic_write(path, lambda temporary: figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format="png"))
    plt.close(figure)
    return path


def plot_history(history: dict[str, list[float]]) -> plt.Figure:
    """Plot training loss (log scale), in-batch pair accuracy and validation one-shot accuracy per epoch."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))

    loss_axis.plot(epochs, history["loss"], marker="o", markersize=3, label="total training loss")
    if "contrastive_loss" in history:
        loss_axis.plot(epochs, history["contrastive_loss"], marker="o", markersize=3, label="contrastive part")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    loss_axis.set_yscale("log")
    loss_axis.set_title("Loss")
    loss_axis.legend()

    accuracy_axis.plot(
        epochs, history["accuracy"], marker="o", markersize=3,
        label="training pairs in each batch\n(balanced, fixed threshold of half the margin)",
    )
    if "val_one_shot_accuracy" in history:
        accuracy_axis.plot(
            epochs, history["val_one_shot_accuracy"], marker="o", markersize=3, label="unseen identities (one-shot)"
        )
    accuracy_axis.set_xlabel("epoch")
    accuracy_axis.set_ylabel("accuracy")
    accuracy_axis.set_ylim(0, 1.02)
    accuracy_axis.set_title("Accuracy")
    accuracy_axis.legend(loc="lower right", fontsize=8)
    # The fixed threshold is below most same-person distances, so that curve stays low even
    # when the network separates people well. The one-shot curve measures the separation.
    figure.tight_layout()
    return figure


def plot_roc(false_positive_rate: np.ndarray, true_positive_rate: np.ndarray, auc: float, eer: float) -> plt.Figure:
    """Plot the ROC curve of verification on unseen identities, marking the equal error rate."""
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot(false_positive_rate, true_positive_rate, label=f"Siamese network (AUC {auc:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.plot([eer], [1 - eer], "o", color="black", label=f"EER {eer:.3f}")
    axis.set_xlabel("false positive rate (different people accepted)")
    axis.set_ylabel("true positive rate (same person accepted)")
    axis.set_title("ROC on unseen identities")
    axis.legend(loc="lower right")
    return figure


def plot_distance_histogram(
    pair_labels: np.ndarray,
    distances: np.ndarray,
    threshold: float,
    identify_threshold: float | None = None,
) -> plt.Figure:
    """Plot histograms of same-person and different-person distances with the thresholds.

    Args:
        pair_labels: 1 for a same-person pair, 0 otherwise, shape ``(pairs,)``.
        distances: distance of each pair, shape ``(pairs,)``.
        threshold: the verification threshold, drawn dashed.
        identify_threshold: the stricter identification threshold, drawn dotted when given.
    """
    figure, axis = plt.subplots(figsize=(7, 4))
    kinds = np.where(np.asarray(pair_labels) == 1, "same person", "different people")
    sns.histplot(
        x=distances, hue=kinds, hue_order=["same person", "different people"], stat="density",
        common_norm=False, bins=40, element="step", ax=axis,
    )
    hue_legend = axis.get_legend()
    handles = list(hue_legend.legend_handles) if hue_legend is not None else []
    labels = [text.get_text() for text in hue_legend.texts] if hue_legend is not None else []

    lines = [(threshold, "--", f"threshold {threshold:.3f} (verify)")]
    if identify_threshold is not None:
        lines.append((identify_threshold, ":", f"identify_threshold {identify_threshold:.3f}"))
    for value, style, label in lines:
        handles.append(axis.axvline(value, color="black", linestyle=style))
        labels.append(label)
    axis.legend(handles, labels, fontsize=8)
    axis.set_xlabel("distance between embeddings")
    axis.set_title("Distances between unseen identities' images")
    return figure


def plot_pair_grid(
    images: np.ndarray,
    index_pairs: np.ndarray,
    pair_labels: np.ndarray,
    distances: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    count: int = 8,
) -> plt.Figure:
    """Show ``count`` random test pairs (half same person) with their distance and verdict."""
    positives = np.flatnonzero(pair_labels == 1)
    negatives = np.flatnonzero(pair_labels == 0)
    chosen = np.concatenate([
        rng.choice(positives, size=min(count // 2, len(positives)), replace=False),
        rng.choice(negatives, size=min(count - count // 2, len(negatives)), replace=False),
    ])

    figure, axes = plt.subplots(2, len(chosen), figsize=(1.6 * len(chosen), 4.2))
    axes = np.asarray(axes).reshape(2, -1)
    for column, pair in enumerate(chosen):
        first, second = index_pairs[pair]
        for row, index in enumerate((first, second)):
            axes[row, column].imshow(images[index, :, :, 0], cmap="gray", vmin=0, vmax=1)
            axes[row, column].axis("off")
        same = distances[pair] < threshold
        correct = same == bool(pair_labels[pair])
        truth = "same" if pair_labels[pair] == 1 else "different"
        axes[0, column].set_title(
            f"{truth}\nd={distances[pair]:.3f}", fontsize=9, color="green" if correct else "red"
        )
    figure.suptitle(f"Test pairs (green: correct at threshold {threshold:.3f}, red: wrong)")
    figure.tight_layout()
    return figure


def plot_success_matrix(images: np.ndarray, subject: dict) -> plt.Figure:
    """Plot one subject's images above the heat map of its one-shot success matrix.

    Args:
        images: float ``(m, height, width, 1)`` images of the subject in [0, 1], in the order of
            ``subject["files"]``.
        subject: one entry of :func:`siamese.error_analysis.subject_errors`.
    """
    matrix = np.array([[np.nan if value is None else value for value in row] for row in subject["success"]])
    count = len(images)
    figure = plt.figure(figsize=(0.75 * count + 1.5, 0.75 * count + 2.5))
    grid = figure.add_gridspec(2, count, height_ratios=[1, count])

    for column, image in enumerate(images):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
        axis.set_title(subject["files"][column], fontsize=7)
        axis.axis("off")

    axis = figure.add_subplot(grid[1, :])
    heat_map = axis.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    axis.set_xticks(range(count), subject["files"], rotation=90, fontsize=7)
    axis.set_yticks(range(count), subject["files"], fontsize=7)
    axis.set_xlabel("query image")
    axis.set_ylabel("gallery image of the same subject")
    axis.set_title(f"{subject['subject']}: chance the query is identified (error {subject['error']:.3f})", fontsize=9)
    figure.colorbar(heat_map, ax=axis, fraction=0.04)
    return figure
