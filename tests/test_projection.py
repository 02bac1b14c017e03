"""The discriminant projection: hand-checkable LDA cases and the saved-model round trip."""

import keras
import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from siamese.data import FaceDataset
from siamese.evaluation import embed
from siamese.model import build_embedding_network, build_siamese_model
from siamese.projection import PROJECTION_LAYER, add_discriminant_projection, fit_discriminant


def two_clusters():
    # Two identities apart along x; within each, the points spread 5 times more along y.
    offsets = np.array([[0.0, -5.0], [0.0, 5.0], [0.2, 0.0], [-0.2, 0.0]])
    first = offsets + [1.0, 0.0]
    second = offsets + [-1.0, 0.0]
    return np.concatenate([first, second]), np.array([0, 0, 0, 0, 1, 1, 1, 1])


def test_projection_keeps_between_identity_axis():
    embeddings, labels = two_clusters()
    kernel, bias = fit_discriminant(embeddings, labels)

    assert kernel.shape == (2, 1)
    assert bias.shape == (1,)
    # Along y the identities differ only within themselves, so the projection ignores y.
    assert abs(kernel[1, 0]) < 1e-6
    projected = embeddings @ kernel + bias
    assert np.all(np.sign(projected[:4]) == -np.sign(projected[4:]))


def test_projection_matches_scikit_learn():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(60, 5))
    labels = np.repeat(np.arange(6), 10)
    kernel, bias = fit_discriminant(embeddings, labels)

    expected = LinearDiscriminantAnalysis(solver="svd").fit(embeddings, labels).transform(embeddings)
    assert kernel.shape == (5, 5)
    np.testing.assert_allclose(embeddings @ kernel + bias, expected, rtol=1e-4, atol=1e-4)


def test_projection_needs_two_identities():
    with pytest.raises(ValueError, match="at least two identities"):
        fit_discriminant(np.zeros((4, 3)), np.zeros(4, dtype=int))


def tiny_dataset(identities=4, images_each=3):
    rng = np.random.default_rng(1)
    images = rng.random((identities * images_each, 16, 12, 1), dtype=np.float32)
    labels = np.repeat(np.arange(identities), images_each)
    names = tuple(f"s{i + 1}" for i in range(identities))
    paths = tuple(f"s{label + 1}/{i}.pgm" for i, label in enumerate(labels))
    return FaceDataset(images=images, labels=labels, names=names, paths=paths)


def test_projected_network_shapes_and_round_trip(tmp_path):
    network = build_embedding_network(input_shape=(16, 12, 1), widths=(4, 8), embedding_dim=8, seed=0)
    dataset = tiny_dataset()
    projected = add_discriminant_projection(
        network, dataset, np.random.default_rng(0), augmented_copies=1, min_components=1
    )

    embeddings = embed(projected, dataset.images)
    assert projected.name == "embedding"
    assert embeddings.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert not projected.get_layer(PROJECTION_LAYER).trainable

    path = tmp_path / "model.keras"
    build_siamese_model(projected).save(path)
    reloaded = keras.saving.load_model(path).get_layer("embedding")
    np.testing.assert_allclose(embed(reloaded, dataset.images), embeddings, atol=1e-5)


def test_projection_skipped_for_few_identities():
    network = build_embedding_network(input_shape=(16, 12, 1), widths=(4, 8), embedding_dim=8, seed=0)
    dataset = tiny_dataset(identities=3)

    result = add_discriminant_projection(network, dataset, np.random.default_rng(0), min_components=8)

    assert result is network
    assert result.output_shape[-1] == 8
