"""Blended training identities: hand-checkable pixel averages, labels and training use."""

from pathlib import Path

import numpy as np
import pytest

from siamese.blends import add_blended_identities
from siamese.config import TrainConfig
from siamese.data import FaceDataset


def flat_dataset(levels=(0.2, 0.6), images_each=2, size=(4, 3)):
    # Identity i's images are all `levels[i]`, so every blend's value can be worked out by hand.
    images = np.concatenate([np.full((images_each, *size, 1), level, dtype=np.float32) for level in levels])
    labels = np.repeat(np.arange(len(levels)), images_each)
    names = tuple(f"s{i + 1}" for i in range(len(levels)))
    paths = tuple(Path(f"s{label + 1}/{i}.pgm") for i, label in enumerate(labels))
    return FaceDataset(images, labels, names, paths)


def test_even_blend_averages_pixels():
    dataset = flat_dataset()

    blended = add_blended_identities(dataset, 3, np.random.default_rng(0), images_per_identity=5)

    assert len(blended) == 4 + 3 * 5
    np.testing.assert_allclose(blended.images[4:], 0.4, atol=1e-6)
    assert blended.images.dtype == np.float32


def test_weight_sets_first_share():
    dataset = flat_dataset()

    blended = add_blended_identities(dataset, 6, np.random.default_rng(0), images_per_identity=1, weight=0.25)

    # 0.25 * 0.2 + 0.75 * 0.6 = 0.5 when s1 comes first, 0.25 * 0.6 + 0.75 * 0.2 = 0.3 otherwise.
    values = blended.images[4:, 0, 0, 0]
    for value, name in zip(values, blended.names[2:]):
        expected = 0.5 if name.endswith(":s1+s2") else 0.3
        assert value == pytest.approx(expected)


def test_blends_appended_with_new_labels():
    dataset = flat_dataset(levels=(0.1, 0.5, 0.9))

    blended = add_blended_identities(dataset, 2, np.random.default_rng(3), images_per_identity=4)

    np.testing.assert_array_equal(blended.images[:6], dataset.images)
    np.testing.assert_array_equal(blended.labels, [0, 0, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
    assert blended.names[:3] == dataset.names
    assert blended.paths[:6] == dataset.paths
    assert blended.names[3].startswith("blend0:")
    assert blended.names[4].startswith("blend1:")
    first, second = blended.names[3].split(":")[1].split("+")
    assert first != second
    assert blended.paths[6] == Path("blend", f"{first}+{second}", "0")


def test_same_seed_same_blends():
    dataset = flat_dataset(levels=(0.1, 0.5, 0.9))

    first = add_blended_identities(dataset, 4, np.random.default_rng(7))
    second = add_blended_identities(dataset, 4, np.random.default_rng(7))

    assert first.names == second.names
    np.testing.assert_array_equal(first.images, second.images)


def test_zero_count_returns_the_dataset():
    dataset = flat_dataset()

    assert add_blended_identities(dataset, 0, np.random.default_rng(0)) is dataset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": -1}, "count must be 0 or a positive integer; received -1"),
        ({"count": 2, "weight": 1.0}, "weight must lie strictly between 0 and 1; received 1.0"),
        ({"count": 2, "images_per_identity": 0}, "images_per_identity must be a positive integer"),
    ],
)
def test_bad_arguments_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        add_blended_identities(flat_dataset(), rng=np.random.default_rng(0), **kwargs)


def test_single_identity_rejected():
    with pytest.raises(ValueError, match="at least two training identities; received 1"):
        add_blended_identities(flat_dataset(levels=(0.3,)), 1, np.random.default_rng(0))


def test_identity_without_images_rejected():
    dataset = flat_dataset()
    named_extra = FaceDataset(dataset.images, dataset.labels, (*dataset.names, "s3"), dataset.paths)

    with pytest.raises(ValueError, match=r"Identities \['s3'\] have no images"):
        add_blended_identities(named_extra, 1, np.random.default_rng(0))


def test_config_rejects_negative_count():
    with pytest.raises(ValueError, match="blended_identities must be 0 or a positive integer; received -2"):
        TrainConfig(blended_identities=-2)


def test_training_projects_with_blends():
    from siamese.training import train

    rng = np.random.default_rng(0)
    images = rng.random((6 * 3, 16, 12, 1), dtype=np.float32)
    labels = np.repeat(np.arange(6), 3)
    dataset = FaceDataset(images, labels, tuple(f"s{i}" for i in range(6)), tuple(Path(f"{i}.pgm") for i in range(18)))
    config = TrainConfig(
        image_size=(16, 12), epochs=1, steps_per_epoch=2, identities_per_batch=4, images_per_identity=2,
        widths=(4, 8), embedding_dim=16, blended_identities=5,
    )

    result = train(dataset, config, verbose=0)

    # The discriminant projection keeps (identities - 1) axes: 6 people + 5 blends - 1 = 10.
    assert result.embedding_network.output_shape[-1] == 10


def test_cli_rejects_negative_count(capsys):
    from siamese.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["train", "--blended-identities", "-2"])

    assert stopped.value.code == 2
    assert "--blended-identities: expected 0 or a positive integer; received '-2'" in capsys.readouterr().err


def test_batches_reject_more_identities_than_data():
    from siamese.training import IdentityBatches

    with pytest.raises(ValueError, match="identities_per_batch is 3, but the training set has only 2 identities"):
        IdentityBatches(flat_dataset(), 3, 2, steps=1, seed=0, augmentation=None)
