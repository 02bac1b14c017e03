"""Evaluation metrics on small cases with results checked by hand."""

import numpy as np
import pytest

from siamese.evaluation import (
    balanced_accuracy,
    choose_identify_threshold,
    choose_threshold,
    distance_matrix,
    equal_error_rate,
    evaluate_embeddings,
    expected_one_shot_accuracy,
    one_shot_accuracy,
    one_shot_success,
    threshold_at_false_accept_rate,
)


def test_distance_matrix_by_hand():
    first = np.array([[0.0, 0.0], [1.0, 0.0]])
    second = np.array([[3.0, 4.0]])
    assert distance_matrix(first, second)[:, 0] == pytest.approx([5.0, np.sqrt(20.0)])


def test_one_shot_perfect_when_clusters_separate():
    labels = np.repeat(np.arange(3), 4)
    embeddings = np.eye(3)[labels] * 10 + np.random.default_rng(0).normal(0, 0.01, (12, 3))
    assert one_shot_accuracy(embeddings, labels, np.random.default_rng(1), n_draws=20) == 1.0


def test_one_shot_counts_confusions():
    # Points on a line: 0 (id 0, x=0), 1 (id 0, x=0.1), 2 (id 1, x=10), 3 (id 1, x=0.05).
    # The four equally likely galleries and their query accuracy:
    #   {0, 2}: query 1 right, query 3 nearest 0, wrong      -> 0.5
    #   {0, 3}: query 1 nearest 3, wrong; query 2 right      -> 0.5
    #   {1, 2}: query 0 right, query 3 nearest 1, wrong      -> 0.5
    #   {1, 3}: query 0 nearest 3, wrong; query 2 nearest 1  -> 0.0
    labels = np.array([0, 0, 1, 1])
    embeddings = np.array([[0.0], [0.1], [10.0], [0.05]])
    accuracy = one_shot_accuracy(embeddings, labels, np.random.default_rng(0), n_draws=4000)
    assert accuracy == pytest.approx(0.375, abs=0.02)


def test_eer_perfect_separation():
    eer, threshold = equal_error_rate(np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert eer == pytest.approx(0.0)
    assert 0.2 <= threshold <= 0.8


def test_eer_by_hand():
    # Positives at 0.1, 0.5; negatives at 0.4, 0.9. At threshold 0.45 one positive is
    # rejected (FNR 0.5) and one negative accepted (FPR 0.5).
    eer, _ = equal_error_rate(np.array([1, 1, 0, 0]), np.array([0.1, 0.5, 0.4, 0.9]))
    assert eer == pytest.approx(0.5)


def test_eer_threshold_finite_when_negative_is_closest():
    # The closest pair is a negative, so the rates cross at the first accepted pair, next to
    # scikit-learn's infinite "accept nothing" threshold.
    eer, threshold = equal_error_rate(np.array([0, 1]), np.array([0.1, 0.2]))
    assert eer == pytest.approx(1.0)
    assert threshold == pytest.approx(0.1)


def test_choose_threshold_separates():
    threshold = choose_threshold(np.array([1, 1, 0, 0]), np.array([0.1, 0.3, 0.7, 0.9]))
    assert threshold == pytest.approx(0.5)


def test_balanced_accuracy_by_hand():
    # TPR: 0.1 accepted, 0.6 rejected -> 0.5. TNR: 0.7 rejected, 0.2 accepted, 0.9 rejected -> 2/3.
    value = balanced_accuracy(np.array([1, 1, 0, 0, 0]), np.array([0.1, 0.6, 0.7, 0.2, 0.9]), 0.5)
    assert value == pytest.approx(0.5 * (0.5 + 2 / 3))


def test_evaluate_embeddings_keys():
    labels = np.repeat(np.arange(3), 3)
    embeddings = np.eye(3)[labels].astype(np.float32)
    result = evaluate_embeddings(embeddings, labels, np.random.default_rng(0), n_draws=5)
    assert result.metrics["one_shot_accuracy"] == 1.0
    assert result.metrics["n_way"] == 3
    assert result.metrics["roc_auc"] == pytest.approx(1.0)
    assert result.metrics["eer"] == pytest.approx(0.0)
    assert len(result.distances) == 9 * 8 // 2


def test_one_shot_success_by_hand():
    # The points of test_one_shot_counts_confusions. Query 1 with gallery 0 (distance 0.1):
    # identity 1's image 2 lies farther (9.9), image 3 nearer (0.05), so half the galleries
    # identify it. Query 3 with gallery 2 (9.95) loses to both images of identity 0.
    labels = np.array([0, 0, 1, 1])
    distances = distance_matrix(*[np.array([[0.0], [0.1], [10.0], [0.05]])] * 2)
    success = one_shot_success(distances, labels)

    assert success[0, 1] == pytest.approx(0.5)
    assert success[1, 0] == pytest.approx(0.5)
    assert success[2, 3] == pytest.approx(0.0)
    assert success[3, 2] == pytest.approx(0.5)
    assert np.isnan(success[0, 0])
    assert np.isnan(success[0, 2])
    assert expected_one_shot_accuracy(distances, labels) == pytest.approx(0.375)


@pytest.mark.parametrize("sizes", [(4, 4, 4), (2, 5, 3)])
def test_expected_one_shot_matches_sampling(sizes):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    embeddings = np.random.default_rng(2).normal(size=(len(labels), 2)) + labels[:, None] * 0.8
    exact = expected_one_shot_accuracy(distance_matrix(embeddings, embeddings), labels)
    sampled = one_shot_accuracy(embeddings, labels, np.random.default_rng(3), n_draws=20000)

    assert 0.2 < exact < 0.95
    assert exact == pytest.approx(sampled, abs=0.01)


def test_one_shot_success_needs_two_images():
    with pytest.raises(ValueError, match="received 2 identities, 1 of them with fewer than two images"):
        one_shot_success(np.zeros((3, 3)), np.array([0, 0, 1]))


def test_one_shot_success_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"Expected a \(4, 4\) distance matrix"):
        one_shot_success(np.zeros((3, 3)), np.array([0, 0, 1, 1]))


def test_one_shot_success_rejects_nan():
    points = np.array([[0.0], [0.1], [5.0], [5.1]])
    distances = distance_matrix(points, points)
    distances[0, 3] = distances[3, 0] = np.nan

    with pytest.raises(ValueError, match="2 NaN or infinite"):
        one_shot_success(distances, np.array([0, 0, 1, 1]))


def test_false_accept_threshold_by_hand():
    # Different-person distances 0.1, 0.2, 0.3, 0.4; the same-person pair (0.05) is ignored.
    labels = np.array([0, 0, 0, 0, 1])
    distances = np.array([0.4, 0.1, 0.3, 0.2, 0.05])

    assert threshold_at_false_accept_rate(labels, distances, 0.25) == pytest.approx(0.15)
    assert threshold_at_false_accept_rate(labels, distances, 0.5) == pytest.approx(0.25)
    assert threshold_at_false_accept_rate(labels, distances, 0.3) == pytest.approx(0.15)
    assert threshold_at_false_accept_rate(labels, distances, 0.0) == pytest.approx(0.05)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_false_accept_rate_out_of_range(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        threshold_at_false_accept_rate(np.array([0, 1]), np.array([0.5, 0.1]), rate)


def test_false_accept_needs_different_pairs():
    with pytest.raises(ValueError, match="No different-person pair"):
        threshold_at_false_accept_rate(np.array([1, 1]), np.array([0.5, 0.1]), 0.1)


def test_identify_threshold_never_looser():
    # Same-person pairs at 1.0 and 1.1, different-person pairs at 1.5-1.8: the balanced
    # threshold is 1.3, and half the different-person pairs fall below 1.65.
    labels = np.array([1, 1, 0, 0, 0, 0])
    distances = np.array([1.0, 1.1, 1.5, 1.6, 1.7, 1.8])

    assert choose_identify_threshold(labels, distances, 0.5) == pytest.approx(1.3)
    assert choose_identify_threshold(labels, distances, 0.25) == pytest.approx(1.3)
    assert choose_identify_threshold(labels, distances, 0.0) == pytest.approx(0.75)


def test_false_accept_lengths_must_match():
    with pytest.raises(ValueError, match="one distance per pair label"):
        threshold_at_false_accept_rate(np.array([0, 0, 1]), np.array([0.5, 0.1]), 0.1)
