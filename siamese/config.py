"""Training settings, kept free of Keras imports so the command line starts fast."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

# Network input as (height, width): half the AT&T resolution, which trains about four times
# faster than the full 112x92.
DEFAULT_IMAGE_SIZE = (56, 46)
DEFAULT_WIDTHS = (32, 64, 128)
DEFAULT_EMBEDDING_DIM = 64

# Default learning rate per optimizer: each optimizer's usual starting value for small CNNs.
# A comparison that passes --learning-rate overrides them all with one value.
OPTIMIZER_DEFAULT_LEARNING_RATES = {
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
    "nadam": 1e-3,
    "adamax": 2e-3,
    "sgd": 1e-2,
    "adagrad": 1e-2,
    "adadelta": 1.0,
}
OPTIMIZERS = tuple(OPTIMIZER_DEFAULT_LEARNING_RATES)

#: Largest batch, identities_per_batch × images_per_identity images. The in-batch contrastive
#: loss compares every pair of a batch, so its distance matrices grow with the square of the
#: batch: 1024 images make about a million pairs, and 1024 is already more than twice the 400
#: images of all 40 AT&T people. A bound from the method, not from one machine's memory.
MAX_BATCH_IMAGES = 1024
#: Largest embedding_dim. Common face embeddings have 128 (FaceNet) to 512 (ArcFace) values,
#: and the discriminant projection keeps at most 128 anyway. The embedding is also bounded by
#: the flattened features it is projected from (see :func:`flattened_features`), because a
#: linear layer cannot output more independent values than it reads.
MAX_EMBEDDING_DIM = 4096
#: Largest blended_identities. Blends are built in memory as blended_identities × 10 images of
#: height × width float32 values, about 100 MB for 1000 at 56×46. Also, 1000 exceeds the 595
#: distinct pairs of the 35 AT&T training people, so more blends would only repeat pairs.
MAX_BLENDED_IDENTITIES = 1000


def resolve_optimizer(name: str, learning_rate: float | None) -> tuple[str, float]:
    """Return the lower-case optimizer name and its initial learning rate.

    Raises:
        ValueError: the name is unknown (the message lists the valid ones) or the rate is
            not positive.
    """
    key = str(name).lower()
    if key not in OPTIMIZER_DEFAULT_LEARNING_RATES:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}.")
    rate = OPTIMIZER_DEFAULT_LEARNING_RATES[key] if learning_rate is None else float(learning_rate)
    if not 0 < rate < math.inf:
        raise ValueError(f"learning_rate must be a positive finite number; received {learning_rate}.")
    return key, rate


@dataclass
class TrainConfig:
    """Settings of one training run; every field is written to ``config.json``.

    Attributes:
        image_size: network input ``(height, width)`` in pixels.
        epochs: passes of ``steps_per_epoch`` batches.
        steps_per_epoch: batches per epoch.
        identities_per_batch: people per batch.
        images_per_identity: images per person per batch.
        optimizer: optimizer name (see ``OPTIMIZERS``).
        learning_rate: initial learning rate; ``None`` uses the optimizer's default.
        margin: contrastive-loss margin.
        embedding_dim: length of the embedding layer that the losses train. With
            ``discriminant_projection``, the saved model's embeddings have the projection's length.
        widths: filters of each convolution block.
        dropout: dropout rate before the embedding layer.
        convs_per_block: 3×3 convolutions per block.
        identification_weight: weight of an auxiliary softmax loss that classifies the
            training identities from the embedding (joint identification and verification);
            0 trains on the contrastive loss alone.
        discriminant_projection: after training, append a linear discriminant (LDA)
            projection fitted on the training identities' convolution features, reduced by PCA
            to 128 dimensions (see :mod:`siamese.projection`); the embedding length becomes
            ``min(training identities - 1, 128)``, blended identities included. Skipped below
            ``siamese.projection.MIN_COMPONENTS`` components.
        blended_identities: synthetic identities added to the training people, each made of
            pixel averages of images of two training people (see :mod:`siamese.blends`); they
            enter the batches, the identification loss and the discriminant projection.
            0 trains on the real people alone.
        augment: apply random augmentation to training images.
        use_ema: evaluate and save the moving average of the weights.
        seed: seeds weights, batches and augmentation.
    """

    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    epochs: int = 50
    steps_per_epoch: int = 30
    identities_per_batch: int = 16
    images_per_identity: int = 4
    optimizer: str = "adam"
    learning_rate: float | None = None
    margin: float = 1.0
    embedding_dim: int = DEFAULT_EMBEDDING_DIM
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    dropout: float = 0.2
    convs_per_block: int = 1
    identification_weight: float = 1.0
    discriminant_projection: bool = True
    blended_identities: int = 64
    augment: bool = True
    use_ema: bool = True
    seed: int = 0

    def __post_init__(self):
        self.image_size = tuple(int(side) for side in self.image_size)
        self.widths = tuple(int(width) for width in self.widths)
        for name in ("epochs", "steps_per_epoch", "identities_per_batch", "images_per_identity"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}.")
        if len(self.image_size) != 2:
            raise ValueError(f"image_size must be (height, width); received {self.image_size}.")
        if min(self.image_size) < 2 ** len(self.widths):
            raise ValueError(
                f"image_size (--image-size) {'x'.join(map(str, self.image_size))} is too small for the "
                f"network's {len(self.widths)} convolution blocks (widths {list(self.widths)}), each of "
                f"which halves the image. Use at least {2 ** len(self.widths)} pixels a side, or fewer "
                f"blocks."
            )
        if self.images_per_identity < 2:
            raise ValueError(
                f"images_per_identity must be at least 2 so batches hold same-person pairs; "
                f"received {self.images_per_identity}."
            )
        if not 0 <= self.identification_weight < math.inf:
            raise ValueError(
                f"identification_weight must be 0 or a positive finite number; received {self.identification_weight}."
            )
        if not isinstance(self.blended_identities, (int, np.integer)) or self.blended_identities < 0:
            raise ValueError(
                f"blended_identities must be 0 or a positive integer; received {self.blended_identities!r}."
            )
        if not 0 < self.margin < math.inf:
            raise ValueError(f"margin must be a positive finite number; received {self.margin}.")
        if not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 2**32 - 1; received {self.seed!r}.")
        resolve_optimizer(self.optimizer, self.learning_rate)
        self._check_sizes()

    def _check_sizes(self) -> None:
        """Raise ValueError for a batch, embedding or blend count above its upper bound."""
        batch = self.identities_per_batch * self.images_per_identity
        if batch > MAX_BATCH_IMAGES:
            raise ValueError(
                f"A batch of identities_per_batch ({self.identities_per_batch}) × images_per_identity "
                f"({self.images_per_identity}) = {batch} images exceeds the maximum of {MAX_BATCH_IMAGES}, "
                f"because the loss compares every pair of a batch. Lower --identities-per-batch or "
                f"--images-per-identity."
            )

        features = flattened_features(self.image_size, self.widths)
        max_dim = min(MAX_EMBEDDING_DIM, features)
        if not isinstance(self.embedding_dim, (int, np.integer)) or not 1 <= self.embedding_dim <= max_dim:
            raise ValueError(
                f"embedding_dim (--embedding-dim) must be an integer from 1 to {max_dim}; received "
                f"{self.embedding_dim!r}. The maximum is {MAX_EMBEDDING_DIM}, or the {features} "
                f"flattened features of a {'x'.join(map(str, self.image_size))} input when fewer."
            )

        if self.blended_identities > MAX_BLENDED_IDENTITIES:
            raise ValueError(
                f"blended_identities (--blended-identities) must be at most {MAX_BLENDED_IDENTITIES}, "
                f"because the blends are held in memory; received {self.blended_identities}."
            )

    def check_training_set(self, labels: np.ndarray) -> None:
        """Raise ValueError when the batch settings ask for more than the training set contains.

        Call it once the data is loaded and before training, so a bad value fails before any
        large allocation and before anything is written.

        Args:
            labels: int ``(n,)`` identity label of each training image, blended identities
                excluded (they are added during training).
        """
        identities, counts = np.unique(labels, return_counts=True)
        available = len(identities) + self.blended_identities
        if self.identities_per_batch > available:
            raise ValueError(
                f"identities_per_batch (--identities-per-batch) is {self.identities_per_batch}, but "
                f"training has only {available} identities ({len(identities)} people and "
                f"{self.blended_identities} blended). Pass at most {available}."
            )

        # People with fewer images than this are drawn with replacement, so their images repeat.
        most_images = int(counts.max(initial=0))
        if self.images_per_identity > most_images:
            raise ValueError(
                f"images_per_identity (--images-per-identity) is {self.images_per_identity}, but no "
                f"training person has more than {most_images} images. Pass at most {most_images}."
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def flattened_features(image_size: tuple[int, int], widths: tuple[int, ...]) -> int:
    """Return the length of the network's flattened features for a ``(height, width)`` input.

    Each convolution block ends in a 2×2 max pooling that halves both sides, rounding down.
    """
    blocks = len(widths)
    channels = widths[-1] if widths else 1
    return channels * (image_size[0] // 2**blocks) * (image_size[1] // 2**blocks)
