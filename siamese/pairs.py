"""Balanced pairs of images for verification: label 1 means "same person", 0 "different"."""

from __future__ import annotations

import numpy as np


def make_pairs(
    labels: np.ndarray,
    n_pairs: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` balanced image pairs.

    Half the pairs (rounded up) are positives, two different images of one identity; the rest
    are negatives, images of two different identities. Identities are visited round-robin
    in a shuffled order, so every identity that can appear does appear once ``n_pairs`` is at
    least twice the number of identities.

    Args:
        labels: int array ``(n,)`` of identity labels.
        n_pairs: number of pairs to draw, at least 2.
        rng: the random generator; the same seed gives the same pairs.

    Returns:
        ``(index_pairs, pair_labels)``: int64 ``(n_pairs, 2)`` indices into ``labels`` and
        int64 ``(n_pairs,)`` labels, 1 for the same person and 0 for different people, in a
        shuffled order.

    Raises:
        ValueError: no identity has two images (no positives possible) or there is only
            one identity (no negatives possible).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional; received shape {labels.shape}.")
    if n_pairs < 2:
        raise ValueError(f"n_pairs must be at least 2 so both classes appear; received {n_pairs}.")

    identities = np.unique(labels)
    members = {identity: np.flatnonzero(labels == identity) for identity in identities}
    with_two = [identity for identity in identities if len(members[identity]) >= 2]
    if not with_two:
        raise ValueError("No identity has two or more images, so no positive pair exists; add images.")
    if len(identities) < 2:
        raise ValueError("Only one identity is present, so no negative pair exists; add identities.")

    n_positive = (n_pairs + 1) // 2
    n_negative = n_pairs - n_positive

    positives = []
    order = _cycle(with_two, n_positive, rng)
    for identity in order:
        first, second = rng.choice(members[identity], size=2, replace=False)
        positives.append((first, second))

    negatives = []
    order = _cycle(identities, n_negative, rng)
    for identity in order:
        other = rng.choice(identities[identities != identity])
        negatives.append((rng.choice(members[identity]), rng.choice(members[other])))

    index_pairs = np.array(positives + negatives, dtype=np.int64).reshape(-1, 2)
    pair_labels = np.array([1] * n_positive + [0] * n_negative, dtype=np.int64)
    shuffle = rng.permutation(n_pairs)
    return index_pairs[shuffle], pair_labels[shuffle]


def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return every unordered pair ``(i, j)``, ``i < j``, with label 1 when the identities match."""
    labels = np.asarray(labels)
    first, second = np.triu_indices(len(labels), k=1)
    index_pairs = np.stack([first, second], axis=1).astype(np.int64)
    return index_pairs, (labels[first] == labels[second]).astype(np.int64)


def _cycle(identities, count: int, rng: np.random.Generator) -> np.ndarray:
    """Repeat a fresh shuffle of ``identities`` until ``count`` entries are drawn."""
    identities = np.asarray(identities)
    rounds = -(-count // len(identities))
    return np.concatenate([rng.permutation(identities) for _ in range(rounds)])[:count]
