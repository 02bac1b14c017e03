"""Per-subject one-shot error analysis on small cases whose results are checked by hand."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from siamese.data import FaceDataset
from siamese.error_analysis import subject_errors
from siamese.evaluation import distance_matrix
from siamese.plots import plot_success_matrix


def line_subjects() -> tuple[np.ndarray, FaceDataset]:
    """Return the distances and dataset of subject a (at 0, 0.1 and 8) and subject b (at 10, 10.1 and 10.2)."""
    points = np.array([[0.0], [0.1], [8.0], [10.0], [10.1], [10.2]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    names = ("a", "b")
    paths = tuple(Path(f"{names[label]}/{index}.pgm") for index, label in enumerate(labels))
    test_set = FaceDataset(np.zeros((6, 4, 4, 1), np.float32), labels, names, paths)
    return distance_matrix(points, points), test_set


def test_subject_errors_by_hand():
    # Subject a sits at 0, 0.1 and 8 on a line, subject b at 10, 10.1 and 10.2. Image 8 is
    # nearer to every image of b (about 2) than to a's other images (about 8), so as a query it
    # fails with either gallery image. As the gallery image it still identifies 0 and 0.1,
    # because b's images lie about 10 away from them.
    a, b = subject_errors(*line_subjects())

    assert a["subject"] == "a"
    assert b["subject"] == "b"
    assert a["success"] == [[None, 1.0, 0.0], [1.0, None, 0.0], [1.0, 1.0, None]]
    assert a["error"] == pytest.approx(2 / 6)
    assert b["error"] == pytest.approx(0.0)
    assert a["own_distance"] == pytest.approx((0.1 + 8.0 + 7.9) / 3)
    assert a["other_distance"] == pytest.approx(10.0)
    assert a["files"] == ["0.pgm", "1.pgm", "2.pgm"]


def test_subject_errors_rejects_unmapped_labels():
    distances, test_set = line_subjects()
    relabelled = FaceDataset(test_set.images, test_set.labels * 3 + 2, test_set.names, test_set.paths)

    with pytest.raises(ValueError, match=r"Expected labels 0 to 1.*received labels \[2, 5\]"):
        subject_errors(distances, relabelled)


def test_success_matrix_plot_axes():
    distances, test_set = line_subjects()
    worst = subject_errors(distances, test_set)[0]

    figure = plot_success_matrix(test_set.images[:3], worst)

    # Three image panels, the heat map and its colour bar.
    assert len(figure.axes) == 5
    heat_map = figure.axes[3].get_images()[0].get_array()
    assert heat_map[0, 2] == pytest.approx(0.0)
    assert np.ma.is_masked(heat_map[1, 1]) or np.isnan(heat_map[1, 1])
    plt.close(figure)
