"""Subject-disjoint splits: no identity appears on both sides of a split."""

from __future__ import annotations

import numpy as np

#: The standard AT&T protocol: train on s1–s35, test one-shot on the unseen s36–s40.
STANDARD_TRAIN = tuple(f"s{i}" for i in range(1, 36))
STANDARD_TEST = tuple(f"s{i}" for i in range(36, 41))


def standard_split(names: tuple[str, ...] | list[str]) -> tuple[list[str], list[str]]:
    """Return ``(train_names, test_names)`` of the standard split, s1–s35 against s36–s40.

    Raises:
        ValueError: ``names`` lacks some of s1 … s40, so the dataset is not the AT&T layout.
    """
    missing = [name for name in STANDARD_TRAIN + STANDARD_TEST if name not in names]
    if missing:
        raise ValueError(
            f"The standard split needs identities s1 … s40; missing {missing[:5]}. "
            f"For other datasets, split by folds (siamese compare --folds K, or subject_folds() in Python)."
        )
    return list(STANDARD_TRAIN), list(STANDARD_TEST)


def subject_folds(
    names: tuple[str, ...] | list[str],
    n_folds: int,
    rng: np.random.Generator,
) -> list[tuple[list[str], list[str]]]:
    """Split identities into ``n_folds`` disjoint test groups after a seeded permutation.

    Fold ``k`` tests on the ``k``-th group and trains on all others. Group sizes differ by at
    most one. With the 40 AT&T subjects and ``n_folds=5``, each fold trains on 32 and tests on 8.

    Returns:
        A list of ``(train_names, test_names)``, one per fold, each in the input order.
    """
    if not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer of at least 2; received {n_folds!r}.")
    if len(names) // n_folds < 2:
        # One-shot identification and the equal error rate need two test identities per fold.
        # This also covers more folds than identities, where some test groups would be empty.
        most_folds = len(names) // 2
        fix = f"use at most {most_folds} folds (siamese compare --folds {most_folds})"
        if most_folds < 2:
            fix = "use a dataset of at least 4 identities"
        raise ValueError(
            f"{n_folds} folds of {len(names)} identities leave test groups of fewer than 2 "
            f"identities; each fold needs at least 2 to test on, so {fix}."
        )

    order = rng.permutation(len(names))
    groups = np.array_split(order, n_folds)
    folds = []
    for group in groups:
        test = set(group.tolist())
        folds.append(
            (
                [name for i, name in enumerate(names) if i not in test],
                [name for i, name in enumerate(names) if i in test],
            )
        )
    return folds
