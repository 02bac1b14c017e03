"""The evaluation protocols: which identities train and which are tested one-shot."""

from __future__ import annotations

import numpy as np

from siamese.splits import standard_split, subject_folds

PROTOCOLS = ("standard", "cv")

#: Seed of the permutation that assigns the 40 AT&T subjects to cross-validation folds.
#: It is fixed, independent of ``--seed``, so every run tests the same folds.
FOLD_SEED = 0

#: Number of cross-validation folds; with 40 subjects each fold tests 8 and trains on 32.
N_FOLDS = 5


def protocol_splits(names: tuple[str, ...] | list[str], protocol: str) -> list[tuple[list[str], list[str]]]:
    """Return the ``(train_names, test_names)`` of every fold of ``protocol``.

    ``standard`` is one fold, s1–s35 against s36–s40 (5-way one-shot). ``cv`` is
    ``N_FOLDS`` subject-disjoint folds from ``subject_folds`` seeded with ``FOLD_SEED``.

    Raises:
        ValueError: ``protocol`` is unknown, or ``names`` lacks s1 … s40 for ``standard``.
    """
    if protocol == "standard":
        return [standard_split(names)]
    if protocol == "cv":
        return subject_folds(names, N_FOLDS, np.random.default_rng(FOLD_SEED))
    raise ValueError(f"Unknown protocol {protocol!r}; expected one of: {', '.join(PROTOCOLS)}.")
