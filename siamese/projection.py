"""A linear discriminant projection of the network's features, fitted on the training identities.

After training, the features of the training identities are projected onto the directions
that best separate those identities relative to their spread within each identity (Fisher's
linear discriminant analysis, as in Fisherfaces, but on learned features instead of pixels).
The within-identity spread that LDA suppresses (pose, expression, lighting) is largely the
same for people the network never saw, so the projection generalises to them.

By default the projection reads the flattened output of the last convolution block, reduced
by principal component analysis (PCA) to ``FEATURE_COMPONENTS`` dimensions, rather than the
network's own embedding: the convolution features keep detail that the trained embedding
layer, fitted to the training people, dropped (see "What changed the numbers" in
``benchmarks/README.md``).

The projection is stored in the model as an ordinary ``Dense`` layer with fixed weights,
followed by unit normalisation, so a saved model embeds with it and needs no extra file.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from siamese.augment import Augmentation
from siamese.data import FaceDataset

logger = logging.getLogger(__name__)

#: Layer names of the projection appended to the embedding network.
PROJECTION_LAYER = "discriminant_projection"
PROJECTION_NORM_LAYER = "discriminant_unit_norm"

#: Fewest LDA components worth keeping. Unit normalisation removes one degree of freedom, so
#: with very few training identities (2 give one component, which normalises to +-1) the
#: projected embeddings would lose most of their information. The value is a judgement, not
#: a measurement: AT&T training sets with the default 64 blended identities give 95-98.
MIN_COMPONENTS = 8

#: Layer whose output the projection reads by default: the flattened convolution features.
FEATURE_LAYER = "flatten"

#: Principal components of the convolution features kept before the discriminant. On the
#: five CV folds (4,480 features, 96 identities with the blends), two trained networks scored
#: alike with 128, 192 or 256 components (one-shot 0.961-0.969). They scored lower with 64 or
#: 96 (0.940-0.956), so the default is the smallest of the good values.
FEATURE_COMPONENTS = 128


def fit_discriminant(
    embeddings: np.ndarray,
    labels: np.ndarray,
    principal_components: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit LDA, after an optional PCA, and return it as one affine map ``x @ kernel + bias``.

    Args:
        embeddings: float ``(n, dim)`` features of the training images.
        labels: int ``(n,)`` identity labels; at least two identities.
        principal_components: reduce the features to this many principal components first
            (capped at ``n - 1`` and ``dim``); ``None`` fits LDA on the features as they are.
        seed: random state of the randomised PCA solver.

    Returns:
        ``(kernel, bias)``: float32 ``(dim, k)`` and ``(k,)`` with
        ``k = min(identities - 1, dim, principal_components)``. Without PCA,
        ``embeddings @ kernel + bias`` equals scikit-learn's
        ``LinearDiscriminantAnalysis(solver="svd").transform(embeddings)``; with it, the same
        LDA applied to ``PCA(principal_components).transform(embeddings)``.

    Raises:
        ValueError: fewer than two identities, ``principal_components`` below 1, or
            features whose identity means all coincide (no discriminant direction).
    """
    identities = np.unique(labels)
    if len(identities) < 2:
        raise ValueError(f"A discriminant projection needs at least two identities; received {len(identities)}.")
    if principal_components is not None and principal_components < 1:
        raise ValueError(f"principal_components must be a positive integer or None; received {principal_components}.")

    basis = np.eye(embeddings.shape[1])
    mean = np.zeros(embeddings.shape[1])
    if principal_components is not None:
        # NOTE: the randomised solver is approximate. Its seed alone moved one CV fold's one-shot
        # accuracy by 0.009 (0.970 against 0.979), but exact solvers took 13 to 27 times longer.
        n_components = min(int(principal_components), len(embeddings) - 1, embeddings.shape[1])
        pca = PCA(n_components, svd_solver="randomized", random_state=seed).fit(embeddings)
        basis, mean = pca.components_.T, pca.mean_
    reduced = (embeddings - mean) @ basis

    lda = LinearDiscriminantAnalysis(solver="svd").fit(reduced, labels)
    components = min(len(identities) - 1, reduced.shape[1], lda.scalings_.shape[1])
    if components == 0:
        raise ValueError(
            f"The features left after PCA ({reduced.shape[1]} dimensions) do not differ between "
            f"the {len(identities)} identities, so no discriminant direction exists. Keep more "
            f"principal components or pass principal_components=None."
        )
    scalings = lda.scalings_[:, :components]

    kernel = basis @ scalings
    bias = -mean @ kernel - lda.xbar_ @ scalings
    return kernel.astype(np.float32), bias.astype(np.float32)


def add_discriminant_projection(
    network: keras.Model,
    train_set: FaceDataset,
    rng: np.random.Generator,
    augmented_copies: int = 3,
    batch_size: int = 256,
    min_components: int = MIN_COMPONENTS,
    feature_layer: str | None = FEATURE_LAYER,
    principal_components: int | None = FEATURE_COMPONENTS,
) -> keras.Model:
    """Return a new embedding network: ``network`` up to its features, the projection, unit length.

    The projection is fitted on the features of every training image and of
    ``augmented_copies`` randomly augmented copies of each (the training augmentation). The
    network has fitted its training images, so the copies widen each identity's spread
    towards what new photos show.

    Args:
        network: trained embedding network, ``(batch, height, width, 1)`` images to
            ``(batch, dim)`` embeddings.
        train_set: the training identities; never the test identities.
        rng: seeded generator for the augmentation and the PCA solver.
        augmented_copies: augmented copies of each training image. Defaults to 3.
        batch_size: images per forward pass while embedding.
        min_components: below this many components the projection is skipped with a
            warning and ``network`` is returned unchanged.
        feature_layer: name of the layer whose output is projected; defaults to the
            flattened convolution features (``"flatten"``). ``None`` projects the network's
            own embedding.
        principal_components: PCA components kept before LDA (see :func:`fit_discriminant`);
            defaults to ``FEATURE_COMPONENTS`` (128). ``None`` fits LDA on the features directly.

    Returns:
        A model named ``"embedding"`` from the same images to float32 ``(batch, k)`` unit-length
        embeddings, ``k = min(training identities - 1, principal_components, feature length)``.
        It shares its layers, and so its weights, with ``network``. Layers after
        ``feature_layer`` are left out.

    Raises:
        ValueError: ``network`` has no layer named ``feature_layer``.
    """
    from siamese.evaluation import embed

    features = network.output
    if feature_layer is not None:
        names = [layer.name for layer in network.layers]
        if feature_layer not in names:
            raise ValueError(
                f"The network has no layer named {feature_layer!r} to project; its layers are "
                f"{', '.join(names)}. Pass feature_layer=None to project its output."
            )
        features = network.get_layer(feature_layer).output
    extractor = keras.Model(network.input, features, name="features")

    identities = len(np.unique(train_set.labels))
    available = min(identities - 1, extractor.output_shape[-1], principal_components or np.inf)
    if available < min_components:
        logger.warning(
            "Skipping the discriminant projection: %d training identities and %d features give "
            "fewer than %d components, so the network's own embeddings are kept.",
            identities, extractor.output_shape[-1], min_components,
        )
        return network

    augmentation = Augmentation()
    copies = [train_set.images] + [augmentation.apply(train_set.images, rng) for _ in range(augmented_copies)]
    embeddings = np.concatenate([embed(extractor, images, batch_size) for images in copies])
    labels = np.tile(train_set.labels, len(copies))

    seed = int(rng.integers(2**31))
    kernel, bias = fit_discriminant(embeddings, labels, principal_components, seed)
    logger.info(
        "Fitted a %d-d discriminant projection on %d %d-d features of %d identities",
        kernel.shape[1], len(embeddings), embeddings.shape[1], len(np.unique(labels)),
    )

    projection = keras.layers.Dense(kernel.shape[1], trainable=False, name=PROJECTION_LAYER)
    projected = projection(features)
    projection.set_weights([kernel, bias])
    outputs = keras.layers.UnitNormalization(name=PROJECTION_NORM_LAYER)(projected)
    return keras.Model(network.input, outputs, name="embedding")
