"""One-shot accuracy and verification under controlled shifts and brightness changes.

Compares ways of turning a face into a vector (raw pixels, a trained embedding network) on
the same test images after the same seeded perturbations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from siamese.augment import Augmentation
from siamese.data import FaceDataset
from siamese.evaluation import evaluate_embeddings

#: Named perturbations: the largest random shift (fraction of the image side) and the largest
#: random brightness offset (in units of the [0, 1] pixel range) applied to each image.
PERTURBATIONS: dict[str, dict[str, float]] = {
    "clean": {},
    "shift up to 3% of the side": {"shift": 0.03},
    "shift up to 6% of the side": {"shift": 0.06},
    "shift up to 10% of the side": {"shift": 0.10},
    "brightness ± 0.1": {"brightness": 0.1},
    "brightness ± 0.2": {"brightness": 0.2},
}


def perturb(images: np.ndarray, rng: np.random.Generator, shift: float = 0.0, brightness: float = 0.0) -> np.ndarray:
    """Shift each image by a random offset and add a random brightness offset, nothing else.

    Args:
        images: float32 ``(n, height, width, 1)`` in [0, 1].
        rng: seeded generator drawing one shift and one offset per image.
        shift: largest shift along each axis, as a fraction of that side.
        brightness: largest absolute brightness offset.

    Returns:
        float32 images of the same shape, clipped to [0, 1]; borders are filled by reflection.
    """
    augmentation = Augmentation(
        max_rotation=0.0,
        max_shift=shift,
        scale_range=(1.0, 1.0),
        flip=False,
        brightness=brightness,
        contrast=(1.0, 1.0),
    )
    return augmentation.apply(images, rng)


def pixel_vectors(images: np.ndarray) -> np.ndarray:
    """Flatten images ``(n, height, width, 1)`` into pixel vectors ``(n, height * width)``."""
    return np.asarray(images).reshape(len(images), -1)


def robustness_table(
    embedders: dict[str, Callable[[np.ndarray], np.ndarray]],
    test_set: FaceDataset,
    seed: int = 0,
    n_draws: int = 200,
    perturbations: dict[str, dict[str, float]] | None = None,
) -> pd.DataFrame:
    """Score each embedder on each perturbed copy of ``test_set``.

    Every embedder gets the same perturbed images (one seeded draw per perturbation), and the
    one-shot galleries are drawn from a generator seeded with ``seed`` for every cell.

    Args:
        embedders: name → function from images ``(n, height, width, 1)`` to vectors ``(n, d)``.
        test_set: the identities to test on, at least two images each.
        seed: seeds the perturbations and the one-shot galleries.
        n_draws: random one-shot galleries averaged per cell.
        perturbations: name → keyword arguments of :func:`perturb`; defaults to
            :data:`PERTURBATIONS`.

    Returns:
        One row per perturbation and embedder with columns ``perturbation``, ``embedding``,
        ``one_shot_accuracy``, ``roc_auc`` and ``eer``, perturbations in the given order.
    """
    perturbations = PERTURBATIONS if perturbations is None else perturbations
    rows = []
    for name, change in perturbations.items():
        images = perturb(test_set.images, np.random.default_rng([seed, 1]), **change)
        for kind, embed_images in embedders.items():
            vectors = embed_images(images)
            metrics = evaluate_embeddings(vectors, test_set.labels, np.random.default_rng(seed), n_draws=n_draws).metrics
            rows.append({
                "perturbation": name,
                "embedding": kind,
                "one_shot_accuracy": metrics["one_shot_accuracy"],
                "roc_auc": metrics["roc_auc"],
                "eer": metrics["eer"],
            })
    return pd.DataFrame(rows)
