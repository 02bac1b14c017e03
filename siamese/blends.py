"""Synthetic training identities made by averaging the faces of two training people.

A network trained on 32 or 35 people has few identities to learn from, so it learns to
separate those people more than to separate faces in general. Extra identities help, and the
training set can supply them without any new data: the pixel average of an image of person A and an image
of person B looks like a third face that is neither A nor B. Each blended identity pairs two
training people and contains several such averages, each from another image of each of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from siamese.data import FaceDataset


def add_blended_identities(
    dataset: FaceDataset,
    count: int,
    rng: np.random.Generator,
    images_per_identity: int = 10,
    weight: float = 0.5,
) -> FaceDataset:
    """Return ``dataset`` with ``count`` blended identities appended after its own.

    Blended identity ``k`` takes two different people ``a`` and ``b`` of ``dataset``, drawn at
    random, and contains ``images_per_identity`` images ``weight * x_a + (1 - weight) * x_b``,
    where ``x_a`` and ``x_b`` are images of ``a`` and ``b`` drawn with replacement.

    The original images and labels come first and keep their order. Blended identity ``k``
    gets the label ``len(dataset.names) + k`` and the name ``"blend<k>:<a>+<b>"``. Its image
    ``i`` gets the path ``blend/<a>+<b>/<i>``, where no file exists.

    Args:
        dataset: the training identities; at least two. Images are float32
            ``(n, height, width, 1)`` in [0, 1], so blends stay in [0, 1].
        count: blended identities to add; 0 returns ``dataset`` unchanged.
        rng: seeded generator for the choice of people and images.
        images_per_identity: images of each blended identity. Defaults to 10, as in AT&T.
        weight: share of person ``a`` in each blend, in (0, 1). Defaults to 0.5.

    Returns:
        A new :class:`~siamese.data.FaceDataset` of ``len(dataset) + count * images_per_identity``
        images and ``len(dataset.names) + count`` identities.

    Raises:
        ValueError: a count below 0, fewer than two identities, fewer than one image per
            identity, or a weight outside (0, 1).
    """
    if int(count) != count or count < 0:
        raise ValueError(f"count must be 0 or a positive integer; received {count!r}.")
    if count == 0:
        return dataset
    identities = len(dataset.names)
    if identities < 2:
        raise ValueError(
            f"Blending needs at least two training identities; received {identities}. "
            "Train with more people or with blended_identities=0."
        )
    if int(images_per_identity) != images_per_identity or images_per_identity < 1:
        raise ValueError(f"images_per_identity must be a positive integer; received {images_per_identity!r}.")
    if not 0 < weight < 1:
        raise ValueError(f"weight must lie strictly between 0 and 1; received {weight!r}.")

    members = [np.flatnonzero(dataset.labels == label) for label in range(identities)]
    empty = [dataset.names[label] for label, found in enumerate(members) if len(found) == 0]
    if empty:
        raise ValueError(
            f"Identities {empty} have no images; every identity needs at least one to blend. "
            "Drop those names from the dataset, for example with FaceDataset.subset."
        )

    images = [dataset.images]
    labels = [dataset.labels]
    names = list(dataset.names)
    paths = list(dataset.paths)

    for k in range(int(count)):
        first, second = rng.choice(identities, size=2, replace=False)
        picks_first = rng.choice(members[first], size=int(images_per_identity))
        picks_second = rng.choice(members[second], size=int(images_per_identity))
        blended = weight * dataset.images[picks_first] + (1.0 - weight) * dataset.images[picks_second]
        images.append(blended.astype(dataset.images.dtype))
        labels.append(np.full(int(images_per_identity), identities + k, dtype=dataset.labels.dtype))

        pair = f"{dataset.names[first]}+{dataset.names[second]}"
        names.append(f"blend{k}:{pair}")
        paths.extend(Path("blend", pair, str(i)) for i in range(int(images_per_identity)))

    return FaceDataset(np.concatenate(images), np.concatenate(labels), tuple(names), tuple(paths))
