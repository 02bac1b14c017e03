"""Contrastive loss, distance layer and metrics on hand-computed cases."""

import keras
import numpy as np
import pytest

from siamese.losses import (
    ContrastiveLoss,
    InBatchContrastiveLoss,
    InBatchPairAccuracy,
    ThresholdAccuracy,
    contrastive_loss,
    pairwise_distances,
)
from siamese.model import EuclideanDistance


def loss_value(loss, labels, predictions):
    return float(keras.ops.convert_to_numpy(loss(np.asarray(labels, "float32"), np.asarray(predictions, "float32"))))


def test_same_person_costs_squared_distance():
    # d = 0.5 for a same-person pair: 0.5**2 = 0.25.
    assert loss_value(contrastive_loss(), [1], [0.5]) == pytest.approx(0.25)


def test_different_people_inside_margin():
    # margin 1, d = 0.25: (1 - 0.25)**2 = 0.5625.
    assert loss_value(contrastive_loss(margin=1.0), [0], [0.25]) == pytest.approx(0.5625)


def test_different_people_beyond_margin_cost_nothing():
    assert loss_value(contrastive_loss(margin=1.0), [0], [1.5]) == pytest.approx(0.0)


def test_loss_averages_over_batch():
    # Pairs: (1, 0.2) -> 0.04, (0, 0.4) with margin 2 -> 2.56, (1, 1.0) -> 1.0, (0, 3.0) -> 0.
    value = loss_value(contrastive_loss(margin=2.0), [1, 0, 1, 0], [[0.2], [0.4], [1.0], [3.0]])
    assert value == pytest.approx((0.04 + 2.56 + 1.0 + 0.0) / 4)


def test_margin_must_be_positive():
    with pytest.raises(ValueError, match="margin"):
        ContrastiveLoss(margin=0.0)


def test_distance_gradient_finite_for_identical_inputs():
    import tensorflow as tf

    layer = EuclideanDistance()
    embedding = tf.Variable([[0.3, -0.4]])
    with tf.GradientTape() as tape:
        distance = layer([embedding, tf.identity(embedding)])
        loss = ContrastiveLoss()(tf.constant([[1.0]]), distance)
    gradient = tape.gradient(loss, embedding)
    assert float(distance[0, 0]) < 1e-5
    assert np.all(np.isfinite(gradient.numpy()))


def test_distance_layer_values():
    first = np.array([[0.0, 0.0], [1.0, 1.0]], "float32")
    second = np.array([[3.0, 4.0], [1.0, 1.0]], "float32")
    distances = keras.ops.convert_to_numpy(EuclideanDistance()([first, second]))
    assert distances.shape == (2, 1)
    assert distances[0, 0] == pytest.approx(5.0)
    assert distances[1, 0] == pytest.approx(0.0, abs=1e-5)


def test_pairwise_distances_matrix():
    embeddings = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]], "float32")
    matrix = keras.ops.convert_to_numpy(pairwise_distances(embeddings))
    assert matrix[0, 1] == pytest.approx(5.0)
    assert matrix[1, 2] == pytest.approx(np.sqrt(9 + 9))
    assert matrix[2, 0] == pytest.approx(1.0)


def test_in_batch_loss_by_hand():
    # Identities [0, 0, 1]; points at x = 0, 0.5 and 0.75 on a line; margin 1.
    # Positive pair (0, 1): d = 0.5 -> 0.25.
    # Negative pairs (0, 2): d = 0.75 -> 0.0625 and (1, 2): d = 0.25 -> 0.5625; mean 0.3125.
    embeddings = np.array([[0.0], [0.5], [0.75]], "float32")
    value = loss_value(InBatchContrastiveLoss(margin=1.0), [0, 0, 1], embeddings)
    assert value == pytest.approx(0.5 * (0.25 + 0.3125), rel=1e-5)


def test_threshold_accuracy_counts_correct_pairs():
    metric = ThresholdAccuracy(threshold=0.5)
    # Same at 0.2 (correct), same at 0.7 (wrong), different at 0.9 (correct), different at 0.1 (wrong).
    metric.update_state(np.array([1, 1, 0, 0]), np.array([0.2, 0.7, 0.9, 0.1]))
    assert float(metric.result()) == pytest.approx(0.5)


def test_in_batch_accuracy_is_balanced():
    # Identities [0, 0, 1] at x = 0, 0.2, 1.0; threshold 0.5.
    # Positive (0, 1): d = 0.2 accepted -> TPR 1. Negatives: d = 1.0 and 0.8 rejected -> TNR 1.
    metric = InBatchPairAccuracy(threshold=0.5)
    metric.update_state(np.array([0, 0, 1]), np.array([[0.0], [0.2], [1.0]], "float32"))
    assert float(metric.result()) == pytest.approx(1.0)

    # Moving the third point to 0.6 accepts one negative (d = 0.4 from the second) and
    # rejects the other (d = 0.6 from the first): TNR 0.5.
    metric.reset_state()
    metric.update_state(np.array([0, 0, 1]), np.array([[0.0], [0.2], [0.6]], "float32"))
    assert float(metric.result()) == pytest.approx(0.5 * (1.0 + 0.5))
