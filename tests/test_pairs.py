"""Pair generator invariants and subject-disjoint splits."""

import numpy as np
import pytest

from siamese.pairs import all_pairs, make_pairs
from siamese.splits import standard_split, subject_folds

LABELS = np.repeat(np.arange(6), 4)


def test_pairs_are_balanced():
    _, pair_labels = make_pairs(LABELS, 100, np.random.default_rng(0))
    assert pair_labels.sum() == 50
    assert len(pair_labels) == 100


def test_pair_labels_match_identities():
    index_pairs, pair_labels = make_pairs(LABELS, 200, np.random.default_rng(1))
    same = LABELS[index_pairs[:, 0]] == LABELS[index_pairs[:, 1]]
    assert np.array_equal(same.astype(int), pair_labels)


def test_positive_pairs_use_two_images():
    index_pairs, pair_labels = make_pairs(LABELS, 200, np.random.default_rng(2))
    positives = index_pairs[pair_labels == 1]
    assert np.all(positives[:, 0] != positives[:, 1])


def test_every_identity_appears():
    index_pairs, _ = make_pairs(LABELS, 24, np.random.default_rng(3))
    assert set(LABELS[index_pairs.ravel()]) == set(range(6))


def test_same_seed_same_pairs():
    first = make_pairs(LABELS, 50, np.random.default_rng(7))
    second = make_pairs(LABELS, 50, np.random.default_rng(7))
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])


def test_no_positive_possible_raises():
    with pytest.raises(ValueError, match="no positive pair"):
        make_pairs(np.array([0, 1, 2]), 10, np.random.default_rng(0))


def test_single_identity_raises():
    with pytest.raises(ValueError, match="no negative pair"):
        make_pairs(np.array([5, 5, 5]), 10, np.random.default_rng(0))


def test_all_pairs_counts():
    # Two identities with 2 and 3 images: 10 pairs, 1 + 3 = 4 positives.
    index_pairs, pair_labels = all_pairs(np.array([0, 0, 1, 1, 1]))
    assert len(index_pairs) == 10
    assert pair_labels.sum() == 4


def test_standard_split_names():
    names = tuple(f"s{i}" for i in range(1, 41))
    train, test = standard_split(names)
    assert train[0] == "s1"
    assert train[-1] == "s35"
    assert test == ["s36", "s37", "s38", "s39", "s40"]


def test_standard_split_needs_att_names():
    with pytest.raises(ValueError, match="s1 … s40"):
        standard_split(("alice", "bob"))


def test_folds_are_disjoint_and_cover_all():
    names = [f"s{i}" for i in range(1, 41)]
    folds = subject_folds(names, 5, np.random.default_rng(0))
    tested = [name for _, test in folds for name in test]
    assert sorted(tested) == sorted(names)
    for train, test in folds:
        assert len(test) == 8
        assert not set(train) & set(test)


def test_folds_seeded():
    names = [f"p{i}" for i in range(10)]
    first = subject_folds(names, 2, np.random.default_rng(4))
    second = subject_folds(names, 2, np.random.default_rng(4))
    assert first == second


def test_too_many_folds_raises():
    with pytest.raises(ValueError, match="3 folds of 2 identities.*at least 4 identities"):
        subject_folds(["a", "b"], 3, np.random.default_rng(0))
    names = [f"s{i}" for i in range(1, 41)]
    with pytest.raises(ValueError, match=r"100 folds of 40 identities.*--folds 20\)") as raised:
        subject_folds(names, 100, np.random.default_rng(0))
    assert "n_folds" not in str(raised.value)


def test_folds_need_two_test_identities():
    names = [f"s{i}" for i in range(1, 41)]

    assert all(len(test) == 2 for _, test in subject_folds(names, 20, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="use at most 20 folds"):
        subject_folds(names, 21, np.random.default_rng(0))
