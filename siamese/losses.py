"""Contrastive loss and threshold accuracy for Siamese networks.

Label convention everywhere in this package: 1 means "same person", 0 means "different people".
"""

from __future__ import annotations

import keras
from keras import ops

#: Squared distances are clamped to at least this before the square root, so the gradient of
#: ``sqrt`` stays finite for a pair of identical images (distance 0).
SQUARED_DISTANCE_FLOOR = 1e-12


def contrastive_loss(margin: float = 1.0):
    """Return the contrastive loss of Hadsell, Chopra and LeCun (2006) for pair distances.

    For a pair with label ``y`` (1 = same person, 0 = different people) and Euclidean
    distance ``d`` between the two embeddings, the loss is::

        L(y, d) = y * d**2 + (1 - y) * max(margin - d, 0)**2

    so a same-person pair costs ``d**2`` and a different-person pair costs
    ``max(margin - d, 0)**2``; the batch loss is the mean over pairs.

    Args:
        margin: distance beyond which different-person pairs cost nothing. Defaults to ``1.0``.

    Returns:
        A :class:`ContrastiveLoss` for ``model.compile(loss=...)``: ``y_true`` is ``(batch,)``
        or ``(batch, 1)`` labels and ``y_pred`` the matching distances.
    """
    return ContrastiveLoss(margin=margin)


def pair_contrastive(labels, distances, margin: float):
    """Element-wise contrastive loss; see :func:`contrastive_loss` for the formula."""
    labels = ops.cast(labels, distances.dtype)
    similar = ops.square(distances)
    dissimilar = ops.square(ops.maximum(margin - distances, 0.0))
    return labels * similar + (1.0 - labels) * dissimilar


@keras.saving.register_keras_serializable(package="siamese")
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss on pair distances; label 1 means "same person".

    ``L = y * d**2 + (1 - y) * max(margin - d, 0)**2``, averaged over the batch.

    Args:
        margin: distance beyond which different-person pairs cost nothing. Defaults to ``1.0``.
    """

    def __init__(self, margin: float = 1.0, name: str = "contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if margin <= 0:
            raise ValueError(f"margin must be positive; received margin={margin}.")
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        distances = ops.reshape(y_pred, (-1,))
        labels = ops.reshape(y_true, (-1,))
        return pair_contrastive(labels, distances, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


def pairwise_distances(embeddings):
    """Euclidean distance matrix ``(batch, batch)`` of embeddings ``(batch, dim)``.

    The squared distances are clamped at ``SQUARED_DISTANCE_FLOOR``, so the diagonal and any
    duplicate images get a tiny positive distance and a finite gradient.
    """
    squared_norms = ops.sum(ops.square(embeddings), axis=1)
    gram = ops.matmul(embeddings, ops.transpose(embeddings))
    squared = ops.expand_dims(squared_norms, 1) - 2.0 * gram + ops.expand_dims(squared_norms, 0)
    return ops.sqrt(ops.maximum(squared, SQUARED_DISTANCE_FLOOR))


def _pair_masks(identity_labels, dtype):
    labels = ops.reshape(identity_labels, (-1,))
    same = ops.cast(ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0)), dtype)
    off_diagonal = 1.0 - ops.eye(ops.shape(labels)[0], dtype=dtype)
    return same * off_diagonal, 1.0 - same


@keras.saving.register_keras_serializable(package="siamese")
class InBatchContrastiveLoss(keras.losses.Loss):
    """Contrastive loss over every pair of images inside a batch.

    The network embeds each image once, and the loss then forms all ``batch * (batch - 1) / 2``
    pairs from the identity labels, which is far cheaper than two forward passes per pair.
    Positive and negative pairs are averaged separately and weighted equally, as in a
    balanced pair set::

        L = 0.5 * mean_{same}(d**2) + 0.5 * mean_{different}(max(margin - d, 0)**2)

    ``y_true`` holds integer identity labels ``(batch,)`` and ``y_pred`` the embeddings
    ``(batch, dim)``. A batch with no positive (or no negative) pair contributes 0 for that term.

    Args:
        margin: the contrastive margin. Defaults to ``1.0``.
    """

    def __init__(self, margin: float = 1.0, name: str = "in_batch_contrastive_loss", **kwargs):
        super().__init__(name=name, reduction="sum", **kwargs)
        if margin <= 0:
            raise ValueError(f"margin must be positive; received margin={margin}.")
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        distances = pairwise_distances(y_pred)
        positive, negative = _pair_masks(y_true, distances.dtype)

        positive_loss = ops.sum(positive * ops.square(distances)) / ops.maximum(ops.sum(positive), 1.0)
        hinge = ops.square(ops.maximum(self.margin - distances, 0.0))
        negative_loss = ops.sum(negative * hinge) / ops.maximum(ops.sum(negative), 1.0)
        return 0.5 * (positive_loss + negative_loss)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        return {**config, "margin": self.margin}


@keras.saving.register_keras_serializable(package="siamese")
class ThresholdAccuracy(keras.metrics.Metric):
    """Fraction of pairs classified correctly when "same person" means ``distance < threshold``.

    ``y_true`` contains pair labels (1 = same person) and ``y_pred`` the pair distances.

    Args:
        threshold: the decision distance. Defaults to ``0.5``, half the default margin.
    """

    def __init__(self, threshold: float = 0.5, name: str = "threshold_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = float(threshold)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "float32")
        predicted_same = ops.cast(ops.reshape(y_pred, (-1,)) < self.threshold, "float32")
        matches = ops.cast(ops.equal(predicted_same, labels), "float32")
        self.correct.assign_add(ops.sum(matches))
        self.total.assign_add(ops.cast(ops.size(matches), "float32"))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="siamese")
class InBatchPairAccuracy(keras.metrics.Metric):
    """Balanced accuracy over all pairs inside a batch of embeddings at ``distance < threshold``.

    The mean of the true-positive rate on same-person pairs and the true-negative rate on
    different-person pairs, so the many negatives in a batch do not swamp the positives.
    ``y_true`` contains identity labels ``(batch,)`` and ``y_pred`` embeddings ``(batch, dim)``.

    Args:
        threshold: the decision distance. Defaults to ``0.5``, half the default margin.
    """

    def __init__(self, threshold: float = 0.5, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = float(threshold)
        self.true_positive = self.add_variable(shape=(), initializer="zeros", name="true_positive")
        self.positive = self.add_variable(shape=(), initializer="zeros", name="positive")
        self.true_negative = self.add_variable(shape=(), initializer="zeros", name="true_negative")
        self.negative = self.add_variable(shape=(), initializer="zeros", name="negative")

    def update_state(self, y_true, y_pred, sample_weight=None):
        distances = pairwise_distances(ops.cast(y_pred, "float32"))
        positive, negative = _pair_masks(y_true, distances.dtype)
        below = ops.cast(distances < self.threshold, distances.dtype)
        self.true_positive.assign_add(ops.sum(positive * below))
        self.positive.assign_add(ops.sum(positive))
        self.true_negative.assign_add(ops.sum(negative * (1.0 - below)))
        self.negative.assign_add(ops.sum(negative))

    def result(self):
        true_positive_rate = self.true_positive / ops.maximum(self.positive, 1.0)
        true_negative_rate = self.true_negative / ops.maximum(self.negative, 1.0)
        return 0.5 * (true_positive_rate + true_negative_rate)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
