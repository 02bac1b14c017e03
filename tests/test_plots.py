"""The distance histogram's legend names both populations and every threshold drawn, with 3 decimals as in the pair grid."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from siamese.plots import plot_distance_histogram  # noqa: E402


def legend_texts(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().texts]


def test_histogram_legend_names_both_thresholds():
    labels = np.array([1, 1, 0, 0])
    distances = np.array([0.4, 0.6, 1.3, 1.5])

    texts = legend_texts(plot_distance_histogram(labels, distances, 1.2, identify_threshold=1.0))

    assert texts == ["same person", "different people", "threshold 1.200 (verify)", "identify_threshold 1.000"]


def test_histogram_without_identify_threshold():
    texts = legend_texts(plot_distance_histogram(np.array([1, 0]), np.array([0.5, 1.4]), 0.9))

    assert texts == ["same person", "different people", "threshold 0.900 (verify)"]


def test_pair_grid_shows_three_decimals():
    from siamese.plots import plot_pair_grid

    images = np.zeros((4, 8, 6, 1), np.float32)
    figure = plot_pair_grid(
        images, np.array([[0, 1], [2, 3]]), np.array([1, 0]), np.array([0.5, 1.2]), 1.175, np.random.default_rng(0)
    )

    assert figure._suptitle.get_text() == "Test pairs (green: correct at threshold 1.175, red: wrong)"
    titles = sorted(axis.get_title() for axis in figure.axes if axis.get_title())
    assert titles == ["different\nd=1.200", "same\nd=0.500"]
