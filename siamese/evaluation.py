"""Evaluate embeddings on identities the network never saw.

Two views of the same embeddings:

* identification: N-way one-shot accuracy, where one random image per test identity forms the
  gallery and every other image is a query matched to its nearest gallery embedding;
* verification: every pair of test images, scored by distance, summarised by ROC AUC, equal
  error rate (EER), and balanced accuracy at a threshold chosen on the training identities.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from siamese.data import FaceDataset
from siamese.pairs import all_pairs

#: Share of different-person pairs of augmented training images that fall below
#: ``identify_threshold``. Identification compares a face with every stored embedding, so a
#: stranger is named with a chance of up to about the number of embeddings times this rate.
IDENTIFY_FALSE_ACCEPT_RATE = 0.002


def embed(network: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Embed float32 images ``(n, height, width, 1)``; returns float32 ``(n, dim)``."""
    if len(images) == 0:
        return np.zeros((0, network.output_shape[-1]), dtype=np.float32)
    outputs = [
        keras.ops.convert_to_numpy(network(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32)


def distance_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(n, m)`` between rows of ``first`` ``(n, d)`` and ``second`` ``(m, d)``."""
    squared = (
        np.sum(first**2, axis=1)[:, None]
        - 2.0 * first @ second.T
        + np.sum(second**2, axis=1)[None, :]
    )
    return np.sqrt(np.maximum(squared, 0.0))


def _identity_members(labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the sorted identities and each one's image indices.

    Raises ValueError when one-shot evaluation is impossible: fewer than two identities, or an
    identity with fewer than two images.
    """
    identities = np.unique(labels)
    members = [np.flatnonzero(labels == identity) for identity in identities]
    if len(identities) < 2 or min(len(indices) for indices in members) < 2:
        smallest = min((len(indices) for indices in members), default=0)
        too_few = sum(len(indices) < 2 for indices in members)
        raise ValueError(
            "One-shot evaluation needs at least two identities and at least two images of every "
            f"identity; received {len(identities)} identities, {too_few} of them with fewer than "
            f"two images (the smallest has {smallest})."
        )
    return identities, members


def check_test_identities(dataset: FaceDataset, test_names: list[str]) -> None:
    """Raise ValueError naming the test identities with fewer than two images.

    One-shot testing uses one image of a person as the gallery and the others as queries, so
    such an identity would otherwise fail the evaluation only after the first epoch of training.
    """
    counts = collections.Counter(dataset.names[label] for label in dataset.labels)
    too_few = [name for name in test_names if counts[name] < 2]
    if too_few:
        listed = ", ".join(f"{name} ({counts[name]} image{'' if counts[name] == 1 else 's'})" for name in too_few)
        verb = "has" if len(too_few) == 1 else "have"
        raise ValueError(
            f"Test identities need at least two images each for one-shot testing; {listed} "
            f"{verb} fewer. Add images to those folders or remove them."
        )


def one_shot_accuracy(
    embeddings: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    n_draws: int = 200,
) -> float:
    """Mean N-way one-shot identification accuracy over ``n_draws`` random galleries.

    In each draw, one random image of each of the N identities forms the gallery and all other
    images are queries. A query is correct when its nearest gallery embedding has its identity.

    Args:
        embeddings: float ``(n, dim)``.
        labels: int ``(n,)``; every identity needs at least two images.
        rng: seeded generator choosing the gallery images.
        n_draws: number of random galleries averaged. Defaults to 200.
    """
    labels = np.asarray(labels)
    identities, members = _identity_members(labels)

    distances = distance_matrix(embeddings, embeddings)
    scores = []
    for _ in range(n_draws):
        gallery = np.array([rng.choice(indices) for indices in members])
        queries = np.setdiff1d(np.arange(len(labels)), gallery)
        nearest = np.argmin(distances[np.ix_(queries, gallery)], axis=1)
        scores.append(np.mean(identities[nearest] == labels[queries]))
    return float(np.mean(scores))


def one_shot_success(distances: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Compute the exact chance that each query is identified, per gallery image of its own identity.

    In the one-shot protocol of :func:`one_shot_accuracy`, every other identity contributes
    one gallery image drawn uniformly from its images. A query ``q`` is identified from a
    gallery image ``g`` of its identity when it is nearer to ``g`` than to all the other
    gallery images. Because the other identities draw independently, the chance is the product
    over them of the fraction of their images that lie farther from ``q`` than ``g`` does.
    Ties count as errors, whereas :func:`one_shot_accuracy` breaks them in favour of the lower
    identity, so the two agree only where no distances tie.

    Args:
        distances: float ``(n, n)`` distances between the test images.
        labels: int ``(n,)``; every identity needs at least two images.

    Returns:
        float64 ``(n, n)`` array ``success[g, q]``, NaN where ``g`` and ``q`` belong to
        different identities or ``g == q``.

    Raises:
        ValueError: ``distances`` is not ``(n, n)`` for ``n`` labels or contains NaN or infinite
            values, or an identity has fewer than two images.
    """
    labels = np.asarray(labels)
    distances = np.asarray(distances)
    if distances.shape != (len(labels), len(labels)):
        raise ValueError(
            f"Expected a ({len(labels)}, {len(labels)}) distance matrix for {len(labels)} labels; "
            f"received shape {distances.shape}."
        )
    if not np.all(np.isfinite(distances)):
        invalid = np.count_nonzero(~np.isfinite(distances))
        raise ValueError(
            f"Invalid distance matrix: it contains {invalid} NaN or infinite values. Check the "
            "embeddings for NaN."
        )
    _, members = _identity_members(labels)

    success = np.full(distances.shape, np.nan)
    for position, own in enumerate(members):
        others = [indices for other, indices in enumerate(members) if other != position]
        for query in own:
            gallery = own[own != query]
            own_distances = distances[query, gallery][:, None]
            chance = np.ones(len(gallery))
            for indices in others:
                chance *= np.mean(distances[query, indices][None, :] > own_distances, axis=1)
            success[gallery, query] = chance
    return success


def expected_one_shot_accuracy(distances: np.ndarray, labels: np.ndarray) -> float:
    """Compute exactly the value that :func:`one_shot_accuracy` tends to as its draws grow (without ties).

    Each query's chance from :func:`one_shot_success` is weighted by the chance ``1 / m`` that a
    given image of its identity (of ``m`` images) is the gallery image, and the sum is divided by
    the number of queries per draw (images minus identities).

    Args:
        distances: float ``(n, n)`` distances between the test images.
        labels: int ``(n,)``; every identity needs at least two images.
    """
    labels = np.asarray(labels)
    success = one_shot_success(distances, labels)

    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    weighted = np.nansum(success, axis=0) / counts[inverse]
    return float(np.sum(weighted) / (len(labels) - len(counts)))


def equal_error_rate(pair_labels: np.ndarray, distances: np.ndarray) -> tuple[float, float]:
    """Return ``(eer, threshold)`` where the false accept and false reject rates meet.

    ``pair_labels`` uses 1 for same person; a pair is accepted when its distance is at most
    the threshold. Between ROC points the rates are interpolated linearly.
    """
    false_positive, true_positive, thresholds = roc_curve(pair_labels, -np.asarray(distances))
    false_negative = 1.0 - true_positive
    crossing = np.flatnonzero(false_negative <= false_positive)[0]
    if crossing == 0:
        return float(false_positive[0]), float(-thresholds[0])

    # Interpolate between the last point with FNR > FPR and the first with FNR <= FPR.
    before, after = crossing - 1, crossing
    gap_before = false_negative[before] - false_positive[before]
    gap_after = false_negative[after] - false_positive[after]
    weight = gap_before / (gap_before - gap_after)
    eer = false_positive[before] + weight * (false_positive[after] - false_positive[before])
    if not np.isfinite(thresholds[before]):
        # scikit-learn's first ROC point (nothing accepted) has an infinite threshold, and
        # interpolating from it would give NaN. The crossing's own threshold is used instead.
        return float(eer), float(-thresholds[after])
    threshold = -(thresholds[before] + weight * (thresholds[after] - thresholds[before]))
    return float(eer), float(threshold)


def balanced_accuracy(pair_labels: np.ndarray, distances: np.ndarray, threshold: float) -> float:
    """Mean of the accuracy on same-person pairs and on different-person pairs at ``distance < threshold``."""
    pair_labels = np.asarray(pair_labels)
    predicted_same = np.asarray(distances) < threshold
    true_positive_rate = np.mean(predicted_same[pair_labels == 1])
    true_negative_rate = np.mean(~predicted_same[pair_labels == 0])
    return float(0.5 * (true_positive_rate + true_negative_rate))


def choose_threshold(pair_labels: np.ndarray, distances: np.ndarray) -> float:
    """Return the distance threshold that maximises balanced accuracy on these pairs.

    Candidates are midpoints between consecutive sorted distances.
    """
    pair_labels = np.asarray(pair_labels)
    order = np.argsort(distances)
    sorted_distances = np.asarray(distances)[order]
    sorted_labels = pair_labels[order]

    # Accepting the first k pairs: true positives grow with each positive, true negatives
    # shrink with each negative.
    positives = max(int(np.sum(sorted_labels == 1)), 1)
    negatives = max(int(np.sum(sorted_labels == 0)), 1)
    true_positive = np.concatenate([[0], np.cumsum(sorted_labels == 1)])
    true_negative = negatives - np.concatenate([[0], np.cumsum(sorted_labels == 0)])
    scores = 0.5 * (true_positive / positives + true_negative / negatives)
    best = int(np.argmax(scores))

    if best == 0:
        return float(sorted_distances[0] / 2)
    if best == len(sorted_distances):
        return float(sorted_distances[-1] * 1.01 + 1e-6)
    return float((sorted_distances[best - 1] + sorted_distances[best]) / 2)


def choose_identify_threshold(
    pair_labels: np.ndarray, distances: np.ndarray, rate: float = IDENTIFY_FALSE_ACCEPT_RATE
) -> float:
    """Return the identification threshold: :func:`threshold_at_false_accept_rate` at ``rate``,
    but never looser than the verification threshold of :func:`choose_threshold`."""
    return min(choose_threshold(pair_labels, distances), threshold_at_false_accept_rate(pair_labels, distances, rate))


@dataclass
class Evaluation:
    """Results of :func:`evaluate`.

    Attributes:
        metrics: ``one_shot_accuracy``, ``n_way``, ``roc_auc``, ``eer``,
            ``verification_accuracy`` (balanced accuracy on test pairs at ``threshold``),
            ``threshold`` (chosen on the training identities), ``eer_threshold``, and with
            training identities ``identify_threshold`` (see :func:`evaluate`).
        pair_labels: int64 ``(pairs,)`` labels of all test pairs, 1 for the same person.
        distances: float32 ``(pairs,)`` distances of those pairs.
        index_pairs: int64 ``(pairs, 2)`` indices into the test set.
        roc: ``(false_positive_rate, true_positive_rate)`` arrays of the test pairs.
    """

    metrics: dict
    pair_labels: np.ndarray
    distances: np.ndarray
    index_pairs: np.ndarray
    roc: tuple[np.ndarray, np.ndarray]


def evaluate_embeddings(
    test_embeddings: np.ndarray,
    test_labels: np.ndarray,
    rng: np.random.Generator,
    threshold: float | None = None,
    n_draws: int = 200,
) -> Evaluation:
    """Score test embeddings; see :func:`evaluate`. ``threshold=None`` uses the EER threshold."""
    index_pairs, pair_labels = all_pairs(test_labels)
    distances = np.linalg.norm(
        test_embeddings[index_pairs[:, 0]] - test_embeddings[index_pairs[:, 1]], axis=1
    ).astype(np.float32)

    eer, eer_threshold = equal_error_rate(pair_labels, distances)
    if threshold is None:
        threshold = eer_threshold
    false_positive, true_positive, _ = roc_curve(pair_labels, -distances)

    metrics = {
        "one_shot_accuracy": one_shot_accuracy(test_embeddings, test_labels, rng, n_draws),
        "n_way": int(len(np.unique(test_labels))),
        "roc_auc": float(roc_auc_score(pair_labels, -distances)),
        "eer": eer,
        "verification_accuracy": balanced_accuracy(pair_labels, distances, threshold),
        "threshold": float(threshold),
        "eer_threshold": eer_threshold,
    }
    return Evaluation(metrics, pair_labels, distances, index_pairs, (false_positive, true_positive))


def calibration_pairs(
    network: keras.Model,
    train_set: FaceDataset,
    rng: np.random.Generator,
    copies: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(pair_labels, distances)`` of augmented training images, for choosing thresholds.

    The network has fitted its training images, so their pair distances are smaller than those
    of new faces and a threshold chosen on them is too strict. ``copies`` randomly augmented
    versions of each training image (pairs of one source image excluded) widen the same-person
    distances towards what unseen faces show, while still using no test data.

    Returns:
        int64 labels ``(pairs,)``, 1 for the same person, and float distances ``(pairs,)``.
    """
    from siamese.augment import Augmentation

    augmentation = Augmentation()
    images = np.concatenate([augmentation.apply(train_set.images, rng) for _ in range(copies)])
    sources = np.tile(np.arange(len(train_set)), copies)
    embeddings = embed(network, images)

    index_pairs, pair_labels = all_pairs(np.tile(train_set.labels, copies))
    distinct = sources[index_pairs[:, 0]] != sources[index_pairs[:, 1]]
    index_pairs, pair_labels = index_pairs[distinct], pair_labels[distinct]
    distances = np.linalg.norm(embeddings[index_pairs[:, 0]] - embeddings[index_pairs[:, 1]], axis=1)
    return pair_labels, distances


def calibrate_threshold(
    network: keras.Model,
    train_set: FaceDataset,
    rng: np.random.Generator,
    copies: int = 3,
) -> float:
    """Return the verification threshold that maximises balanced accuracy on the training
    identities alone (see :func:`calibration_pairs`)."""
    return choose_threshold(*calibration_pairs(network, train_set, rng, copies))


def threshold_at_false_accept_rate(pair_labels: np.ndarray, distances: np.ndarray, rate: float) -> float:
    """Return the distance below which a fraction ``rate`` of the different-person pairs fall.

    With ``k = floor(rate × different-person pairs)``, the threshold is the midpoint between the
    k-th and (k+1)-th smallest different-person distance, so ``k`` of them are accepted (fewer
    where distances tie). With ``k = 0`` it is half the smallest different-person distance.

    Raises:
        ValueError: ``rate`` is not in [0, 1), the inputs differ in length, or there is no
            different-person pair.
    """
    if len(pair_labels) != len(distances):
        raise ValueError(
            f"Expected one distance per pair label; received {len(pair_labels)} labels and {len(distances)} distances."
        )
    if not 0 <= rate < 1:
        raise ValueError(f"The false-accept rate must be in [0, 1); received {rate}.")
    negatives = np.sort(np.asarray(distances, dtype=np.float64)[np.asarray(pair_labels) == 0])
    if len(negatives) == 0:
        raise ValueError("No different-person pair to choose a threshold from; pass pairs of at least two identities.")

    accepted = int(np.floor(rate * len(negatives)))
    if accepted == 0:
        return float(negatives[0] / 2)
    return float((negatives[accepted - 1] + negatives[accepted]) / 2)


def evaluate(
    network: keras.Model,
    test_set: FaceDataset,
    train_set: FaceDataset | None,
    rng: np.random.Generator,
    n_draws: int = 200,
) -> Evaluation:
    """Evaluate an embedding network on unseen test identities.

    The verification threshold comes from :func:`calibrate_threshold` on ``train_set``, so no
    test information leaks into it. Without ``train_set`` the test EER threshold is used. With
    ``train_set``, the metrics also contain ``identify_threshold``: the stricter distance at
    which a fraction ``IDENTIFY_FALSE_ACCEPT_RATE`` of the different-person calibration pairs
    match, or ``threshold`` if that is smaller.

    Args:
        network: the embedding network (or the Siamese pair model's shared network).
        test_set: identities unseen in training.
        train_set: the training identities, used only to choose the threshold.
        rng: seeded generator for the one-shot gallery draws and the calibration.
        n_draws: one-shot gallery draws to average. Defaults to 200.
    """
    threshold = identify_threshold = None
    if train_set is not None:
        calibration = calibration_pairs(network, train_set, rng)
        threshold = choose_threshold(*calibration)
        identify_threshold = choose_identify_threshold(*calibration)

    test_embeddings = embed(network, test_set.images)
    evaluation = evaluate_embeddings(test_embeddings, test_set.labels, rng, threshold, n_draws)
    if identify_threshold is not None:
        evaluation.metrics["identify_threshold"] = identify_threshold
    return evaluation


class EpochEvaluation(keras.callbacks.Callback):
    """Add validation metrics on held-out identities to the history after every epoch.

    Logs ``val_one_shot_accuracy``, ``val_roc_auc`` and ``val_eer``. The numbers are for the
    curves only: training never selects weights by them.
    """

    def __init__(self, validation_set: FaceDataset, seed: int = 0, n_draws: int = 50):
        super().__init__()
        self.validation_set = validation_set
        self.seed = seed
        self.n_draws = n_draws

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        from siamese.model import embedding_network_of

        embeddings = embed(embedding_network_of(self.model), self.validation_set.images)
        rng = np.random.default_rng([self.seed, epoch])
        result = evaluate_embeddings(embeddings, self.validation_set.labels, rng, n_draws=self.n_draws)
        logs["val_one_shot_accuracy"] = result.metrics["one_shot_accuracy"]
        logs["val_roc_auc"] = result.metrics["roc_auc"]
        logs["val_eer"] = result.metrics["eer"]
