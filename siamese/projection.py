"""A linear discriminant projection of the embeddings, fitted on the training identities.

After training, the network's embeddings of the training identities are projected onto the
directions that best separate those identities relative to their spread within each identity
(Fisher's linear discriminant analysis, as in Fisherfaces, but on learned features instead of
pixels). The within-identity spread that LDA suppresses (pose, expression, lighting) is
largely the same for people the network never saw, so the projection generalises to them.

The projection is stored in the model as an ordinary ``Dense`` layer with fixed weights,
followed by unit normalisation, so a saved model embeds with it and needs no extra file.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
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
#: a measurement: AT&T training sets give 31-34 components.
MIN_COMPONENTS = 8


def fit_discriminant(
    embeddings: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit LDA on embeddings and return it as an affine map ``x @ kernel + bias``.

    Args:
        embeddings: float ``(n, dim)`` embeddings of the training images.
        labels: int ``(n,)`` identity labels; at least two identities.

    Returns:
        ``(kernel, bias)``: float32 ``(dim, k)`` and ``(k,)`` with
        ``k = min(identities - 1, dim)``. ``embeddings @ kernel + bias`` equals scikit-learn's
        ``LinearDiscriminantAnalysis(solver="svd").transform(embeddings)``.

    Raises:
        ValueError: fewer than two identities.
    """
    identities = np.unique(labels)
    if len(identities) < 2:
        raise ValueError(f"A discriminant projection needs at least two identities; received {len(identities)}.")

    lda = LinearDiscriminantAnalysis(solver="svd").fit(embeddings, labels)
    components = min(len(identities) - 1, embeddings.shape[1], lda.scalings_.shape[1])
    kernel = lda.scalings_[:, :components]
    bias = -lda.xbar_ @ kernel
    return kernel.astype(np.float32), bias.astype(np.float32)


def add_discriminant_projection(
    network: keras.Model,
    train_set: FaceDataset,
    rng: np.random.Generator,
    augmented_copies: int = 3,
    batch_size: int = 256,
    min_components: int = MIN_COMPONENTS,
) -> keras.Model:
    """Return a new embedding network: ``network``, then the LDA projection, then unit length.

    The projection is fitted on the embeddings of every training image and of
    ``augmented_copies`` randomly augmented copies of each (the training augmentation). The
    network has fitted its training images, so the copies widen each identity's spread
    towards what new photos show.

    Args:
        network: trained embedding network, ``(batch, height, width, 1)`` images to
            ``(batch, dim)`` embeddings.
        train_set: the training identities; never the test identities.
        rng: seeded generator for the augmentation.
        augmented_copies: augmented copies of each training image. Defaults to 3.
        batch_size: images per forward pass while embedding.
        min_components: below this many components (training identities − 1) the
            projection is skipped with a warning and ``network`` is returned unchanged.

    Returns:
        A model named ``"embedding"`` from the same images to float32 ``(batch, k)`` unit-length
        embeddings, ``k = min(training identities - 1, dim)``. It shares its layers, and so its
        weights, with ``network``.
    """
    from siamese.evaluation import embed

    identities = len(np.unique(train_set.labels))
    if min(identities - 1, network.output_shape[-1]) < min_components:
        logger.warning(
            "Skipping the discriminant projection: %d training identities give fewer than %d "
            "components, so the network's own embeddings are kept.",
            identities, min_components,
        )
        return network

    augmentation = Augmentation()
    copies = [train_set.images] + [augmentation.apply(train_set.images, rng) for _ in range(augmented_copies)]
    embeddings = np.concatenate([embed(network, images, batch_size) for images in copies])
    labels = np.tile(train_set.labels, len(copies))

    kernel, bias = fit_discriminant(embeddings, labels)
    logger.info(
        "Fitted a %d-d discriminant projection on %d embeddings of %d identities",
        kernel.shape[1], len(embeddings), len(np.unique(labels)),
    )

    projection = keras.layers.Dense(kernel.shape[1], trainable=False, name=PROJECTION_LAYER)
    projected = projection(network.output)
    projection.set_weights([kernel, bias])
    outputs = keras.layers.UnitNormalization(name=PROJECTION_NORM_LAYER)(projected)
    return keras.Model(network.input, outputs, name="embedding")
