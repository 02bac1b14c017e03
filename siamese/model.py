"""The Siamese network: a shared CNN embedding network and a Euclidean distance head.

Every custom layer here is registered with Keras, so a saved ``.keras`` file reloads with
``keras.saving.load_model(path)`` (``safe_mode`` on, no ``custom_objects``) once
``siamese`` has been imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import keras
from keras import layers, ops

from siamese.config import DEFAULT_EMBEDDING_DIM, DEFAULT_IMAGE_SIZE, DEFAULT_WIDTHS
from siamese.losses import SQUARED_DISTANCE_FLOOR, ContrastiveLoss, ThresholdAccuracy


@keras.saving.register_keras_serializable(package="siamese")
class PerImageStandardization(layers.Layer):
    """Shift and scale each image to zero mean and unit variance over its pixels.

    Removes the global brightness and contrast of a photo, so faces cropped from camera images
    and the evenly lit AT&T images reach the network on the same scale. Input and output are
    ``(batch, height, width, channels)`` floats.
    """

    def call(self, images):
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        variance = ops.mean(ops.square(images - mean), axis=(1, 2, 3), keepdims=True)
        return (images - mean) / ops.sqrt(variance + 1e-6)


@keras.saving.register_keras_serializable(package="siamese")
class EuclideanDistance(layers.Layer):
    """Euclidean distance between two batches of embeddings.

    Takes ``[a, b]``, each ``(batch, dim)``, and returns ``(batch, 1)`` float distances. The
    squared distance is clamped at a tiny floor before the square root, so identical inputs
    give distance about 1e-6 with a finite gradient instead of NaN.
    """

    def call(self, inputs):
        first, second = inputs
        squared = ops.sum(ops.square(first - second), axis=-1, keepdims=True)
        return ops.sqrt(ops.maximum(squared, SQUARED_DISTANCE_FLOOR))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 1)


@keras.saving.register_keras_serializable(package="siamese")
class CosineClassifier(layers.Layer):
    """Identity logits from cosine similarity between an embedding and learned class centres.

    ``logits[i, k] = scale * cos(embedding_i, centre_k)``. Used only during training, as the
    identification signal beside the contrastive loss; it is not part of a saved model.

    Args:
        n_classes: number of training identities.
        scale: multiplier of the cosine, which sets how peaked the softmax can get.
            Defaults to 16.
    """

    def __init__(self, n_classes: int, scale: float = 16.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = int(n_classes)
        self.scale = float(scale)
        self.seed = int(seed)

    def build(self, input_shape):
        self.centres = self.add_weight(
            shape=(input_shape[-1], self.n_classes),
            initializer=keras.initializers.GlorotUniform(seed=self.seed),
            name="centres",
        )

    def call(self, embeddings):
        embeddings = embeddings / ops.sqrt(ops.sum(ops.square(embeddings), axis=-1, keepdims=True) + 1e-12)
        centres = self.centres / ops.sqrt(ops.sum(ops.square(self.centres), axis=0, keepdims=True) + 1e-12)
        return self.scale * ops.matmul(embeddings, centres)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "scale": self.scale, "seed": self.seed}


def build_embedding_network(
    input_shape: tuple[int, int, int] = (*DEFAULT_IMAGE_SIZE, 1),
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    embedding_dim: int = DEFAULT_EMBEDDING_DIM,
    dropout: float = 0.2,
    normalize: bool = True,
    convs_per_block: int = 1,
    seed: int = 0,
) -> keras.Model:
    """Build the shared CNN that maps a face to an embedding.

    Each width adds a block of ``convs_per_block`` 3×3 convolutions with batch normalisation and ReLU, then
    2×2 max pooling. A dense layer maps the flattened features to the embedding.

    Args:
        input_shape: ``(height, width, 1)``; defaults to ``(56, 46, 1)``, grayscale in [0, 1].
        widths: filters per block. Defaults to ``(32, 64, 128)``.
        embedding_dim: embedding length. Defaults to 64.
        dropout: dropout rate before the dense layer. Defaults to 0.2.
        normalize: scale embeddings to unit length, so distances lie in [0, 2].
            Defaults to ``True``.
        convs_per_block: 3×3 convolutions before each pooling. Defaults to 1.
        seed: seeds every initializer and the dropout, so one seed gives one set of weights.

    Returns:
        A model from ``(batch, height, width, 1)`` float32 images to ``(batch,
        embedding_dim)`` float32 embeddings, named ``"embedding"``.
    """
    height, width, channels = input_shape
    if min(height, width) < 2 ** len(widths):
        raise ValueError(
            f"input_shape {input_shape} is too small for {len(widths)} pooling blocks; "
            f"use images at least {2 ** len(widths)} pixels on each side or fewer widths."
        )
    if embedding_dim < 1:
        raise ValueError(f"embedding_dim must be a positive integer; received {embedding_dim}.")

    seeds = iter(range(seed * 1000, seed * 1000 + 1000))

    def kernel_initializer():
        return keras.initializers.HeNormal(seed=next(seeds))

    inputs = keras.Input(shape=input_shape, name="image")
    x = PerImageStandardization(name="standardize")(inputs)
    for block, filters in enumerate(widths, start=1):
        for conv in range(1, convs_per_block + 1):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer=kernel_initializer(),
                name=f"block{block}_conv{conv}",
            )(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)

    x = layers.Flatten(name="flatten")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, seed=next(seeds), name="dropout")(x)
    x = layers.Dense(
        embedding_dim,
        kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
        name="projection",
    )(x)
    if normalize:
        x = layers.UnitNormalization(name="unit_norm")(x)
    return keras.Model(inputs, x, name="embedding")


def build_siamese_model(embedding_network: keras.Model) -> keras.Model:
    """Wrap one shared embedding network into a two-input model that outputs distances.

    Returns:
        A model from ``[image_a, image_b]``, each ``(batch, height, width, 1)``, to
        ``(batch, 1)`` Euclidean distances between their embeddings, named ``"siamese"``.
    """
    shape = embedding_network.input_shape[1:]
    first = keras.Input(shape=shape, name="image_a")
    second = keras.Input(shape=shape, name="image_b")
    distance = EuclideanDistance(name="distance")([embedding_network(first), embedding_network(second)])
    return keras.Model([first, second], distance, name="siamese")


def compile_siamese_model(model: keras.Model, margin: float = 1.0, threshold: float = 0.5) -> keras.Model:
    """Compile the pair model with the contrastive loss and threshold accuracy, for ``evaluate``."""
    model.compile(loss=ContrastiveLoss(margin=margin), metrics=[ThresholdAccuracy(threshold=threshold)])
    return model


def embedding_network_of(model: keras.Model) -> keras.Model:
    """Return the shared embedding network inside a Siamese pair model (or the model itself)."""
    if model.name == "embedding":
        return model
    try:
        return model.get_layer("embedding")
    except ValueError as error:
        raise ValueError(
            f"Model {model.name!r} contains no layer named 'embedding'; pass a model made by "
            f"build_siamese_model() or build_embedding_network()."
        ) from error


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved Siamese pair model (``.keras``) with ``safe_mode`` on.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a Keras model, or is damaged.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Model file not found: {path}. Train one with `siamese train --out DIR`, which "
            f"writes DIR/model.keras."
        )
    # Keras 3.15 reports any file that is not a zip archive as "File not found", although it exists.
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} exists but is not a valid .keras archive ({path.stat().st_size} bytes, not a "
            f"zip file), so it is damaged or not a Keras model. Copy it again from the run "
            f"folder, or retrain with `siamese train --out DIR`, which writes DIR/model.keras."
        )
    try:
        return keras.saving.load_model(path)
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"Cannot load {path} as a Keras model: {str(error).rstrip('.')}. The file may be damaged; copy it "
            f"again from the run folder, or retrain with `siamese train --out DIR`."
        ) from error


def model_fingerprint(model: keras.Model) -> str:
    """Return a SHA-256 hex digest of the embedding network's architecture and weights.

    Two models give the same fingerprint only when they produce the same embeddings, so a
    gallery can reject embeddings made by another model.
    """
    network = embedding_network_of(model)
    digest = hashlib.sha256()
    digest.update(json.dumps(network.to_json(), sort_keys=True).encode())
    for weight in network.weights:
        digest.update(weight.path.encode())
        digest.update(ops.convert_to_numpy(weight).tobytes())
    return digest.hexdigest()
