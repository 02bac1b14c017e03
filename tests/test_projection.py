"""The discriminant projection: hand-checkable LDA cases and the saved-model round trip."""

import keras
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from siamese.data import FaceDataset
from siamese.evaluation import distance_matrix, embed
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


def test_full_rank_pca_keeps_distances():
    # PCA keeping every dimension only rotates and centres the data, which LDA undoes.
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(60, 5))
    labels = np.repeat(np.arange(6), 10)

    plain = embeddings @ fit_discriminant(embeddings, labels)[0]
    kernel, bias = fit_discriminant(embeddings, labels, principal_components=5)
    rotated = embeddings @ kernel + bias

    assert kernel.shape == (5, 5)
    np.testing.assert_allclose(distance_matrix(rotated, rotated), distance_matrix(plain, plain), atol=1e-4)


def test_pca_matches_scikit_learn_pipeline():
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(80, 12))
    labels = np.repeat(np.arange(8), 10)
    kernel, bias = fit_discriminant(embeddings, labels, principal_components=4, seed=3)

    pca = PCA(4, svd_solver="randomized", random_state=3).fit(embeddings)
    reduced = pca.transform(embeddings)
    expected = LinearDiscriminantAnalysis(solver="svd").fit(reduced, labels).transform(reduced)
    assert kernel.shape == (12, 4)
    np.testing.assert_allclose(embeddings @ kernel + bias, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_pca_without_separating_axis_raises():
    # The identities differ along x, but y has the larger variance, so one principal
    # component keeps y only, where both identities have mean 0: nothing is left to separate.
    embeddings, labels = two_clusters()

    with pytest.raises(ValueError, match=r"features left after PCA \(1 dimensions\) do not differ between the 2 identities"):
        fit_discriminant(embeddings, labels, principal_components=1)


def test_principal_components_must_be_positive():
    with pytest.raises(ValueError, match="principal_components must be a positive integer or None; received 0"):
        fit_discriminant(np.zeros((4, 3)), np.array([0, 0, 1, 1]), principal_components=0)


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


def test_projection_reads_convolution_features():
    # A 2-d embedding gives at most 2 LDA components, and the 96 convolution features give
    # identities - 1 = 5. A projection of the embedding fails this length check.
    network = build_embedding_network(input_shape=(16, 12, 1), widths=(4, 8), embedding_dim=2, seed=0)
    dataset = tiny_dataset(identities=6)

    from_features = add_discriminant_projection(network, dataset, np.random.default_rng(0), min_components=1)
    from_embedding = add_discriminant_projection(
        network, dataset, np.random.default_rng(0), min_components=1, feature_layer=None
    )

    assert network.get_layer("flatten").output.shape[-1] == 96
    assert from_features.output_shape[-1] == 5
    assert from_embedding.output_shape[-1] == 2
    assert "projection" not in [layer.name for layer in from_features.layers]


def test_missing_feature_layer_is_named():
    network = build_embedding_network(input_shape=(16, 12, 1), widths=(4, 8), embedding_dim=8, seed=0)

    with pytest.raises(ValueError, match="no layer named 'pool9' to project; its layers are image, standardize"):
        add_discriminant_projection(network, tiny_dataset(), np.random.default_rng(0), feature_layer="pool9")
