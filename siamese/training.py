"""Train the embedding network with the contrastive loss on in-batch pairs."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np

from siamese.augment import Augmentation
from siamese.blends import add_blended_identities
from siamese.data import FaceDataset
from siamese.config import OPTIMIZERS, TrainConfig, resolve_optimizer
from siamese.losses import InBatchContrastiveLoss, InBatchPairAccuracy
from siamese.model import CosineClassifier, build_embedding_network, build_siamese_model
from siamese.projection import add_discriminant_projection

if TYPE_CHECKING:
    from siamese.checkpoint import TrainingCheckpoint

logger = logging.getLogger(__name__)


def make_optimizer(
    name: str,
    learning_rate: float | None = None,
    total_steps: int | None = None,
    use_ema: bool = True,
) -> keras.optimizers.Optimizer:
    """Create a Keras optimizer by name, with an optional cosine learning-rate decay.

    Args:
        name: one of ``OPTIMIZERS`` (``rmsprop``, ``adam``, ``adamw``, ``nadam``, ``adamax``,
            ``sgd``, ``adagrad``, ``adadelta``), case-insensitive. ``sgd`` uses momentum 0.9.
        learning_rate: initial learning rate; ``None`` takes the optimizer's default from
            ``OPTIMIZER_DEFAULT_LEARNING_RATES``.
        total_steps: when given, the rate decays to 0 along a cosine over this many steps.
        use_ema: keep an exponential moving average of the weights (momentum 0.99) and
            write it into the model when training ends, which damps epoch-to-epoch swings.

    Raises:
        ValueError: the name is unknown (the message lists the valid ones) or the learning
            rate is not positive.
    """
    key, rate = resolve_optimizer(name, learning_rate)

    schedule = rate
    if total_steps:
        schedule = keras.optimizers.schedules.CosineDecay(rate, decay_steps=int(total_steps))

    common = {"learning_rate": schedule, "use_ema": use_ema, "ema_momentum": 0.99}
    if key == "sgd":
        return keras.optimizers.SGD(momentum=0.9, nesterov=True, **common)
    classes = {
        "rmsprop": keras.optimizers.RMSprop,
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "nadam": keras.optimizers.Nadam,
        "adamax": keras.optimizers.Adamax,
        "adagrad": keras.optimizers.Adagrad,
        "adadelta": keras.optimizers.Adadelta,
    }
    return classes[key](**common)


class IdentityBatches(keras.utils.PyDataset):
    """Batches of ``identities_per_batch`` people with ``images_per_identity`` images each.

    Each batch yields ``(images, labels)``: float32 ``(batch, height, width, 1)`` and int32
    ``(batch,)`` identity labels (a dict of the labels for the ``embedding`` and ``identity``
    outputs when ``with_identity_target``), so the in-batch loss gets both same-person and
    different-person pairs. Batch ``i`` of epoch ``e`` is drawn from a generator seeded with
    ``(seed, e, i)``, so one seed gives one sequence of batches on every run and in any order.
    """

    def __init__(
        self,
        dataset: FaceDataset,
        identities_per_batch: int,
        images_per_identity: int,
        steps: int,
        seed: int,
        augmentation: Augmentation | None,
        with_identity_target: bool = False,
    ):
        super().__init__()
        identities = np.unique(dataset.labels)
        if len(identities) < 2:
            raise ValueError("Training needs at least two identities; received one.")
        self.dataset = dataset
        self.identities = identities
        self.members = {identity: np.flatnonzero(dataset.labels == identity) for identity in identities}
        if identities_per_batch > len(identities):
            raise ValueError(
                f"identities_per_batch is {identities_per_batch}, but the training set has only "
                f"{len(identities)} identities. Pass at most {len(identities)}."
            )
        self.identities_per_batch = int(identities_per_batch)
        self.images_per_identity = int(images_per_identity)
        self.steps = int(steps)
        self.seed = int(seed)
        self.augmentation = augmentation
        self.with_identity_target = with_identity_target
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def indices(self, step: int) -> np.ndarray:
        """Return the dataset indices of batch ``step`` in the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, step])
        chosen = rng.choice(self.identities, size=self.identities_per_batch, replace=False)
        picked = []
        for identity in chosen:
            pool = self.members[identity]
            replace = len(pool) < self.images_per_identity
            picked.append(rng.choice(pool, size=self.images_per_identity, replace=replace))
        return np.concatenate(picked)

    def __getitem__(self, step: int):
        indices = self.indices(step)
        images = self.dataset.images[indices]
        if self.augmentation is not None:
            rng = np.random.default_rng([self.seed, self.epoch, step, 1])
            images = self.augmentation.apply(images, rng)
        labels = self.dataset.labels[indices].astype(np.int32)
        if self.with_identity_target:
            return images, {"embedding": labels, "identity": labels}
        return images, labels

    def on_epoch_end(self):
        self.epoch += 1


def build_network(config: TrainConfig, seed: int | None = None) -> keras.Model:
    """Build the embedding network that ``config`` describes, seeded with ``seed`` or ``config.seed``."""
    return build_embedding_network(
        input_shape=(*config.image_size, 1),
        widths=config.widths,
        embedding_dim=config.embedding_dim,
        dropout=config.dropout,
        convs_per_block=config.convs_per_block,
        seed=config.seed if seed is None else seed,
    )


def with_blended_identities(train_set: FaceDataset, config: TrainConfig) -> FaceDataset:
    """Return ``train_set`` with the ``config.blended_identities`` blended identities appended.

    The blends come from a generator seeded with ``(config.seed, 3)``, so every trainer that
    calls this with one config trains on the same images.
    """
    if config.blended_identities == 0:
        return train_set

    return add_blended_identities(train_set, config.blended_identities, np.random.default_rng([config.seed, 3]))


class DivergenceCheck(keras.callbacks.Callback):
    """Stop training with a clear error as soon as a batch's loss is NaN or infinite.

    Raising from the batch callback ends ``fit`` before any epoch-end callback runs, so the
    checkpoint keeps the last finite epoch and the per-epoch evaluation never receives NaN
    embeddings.
    """

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.config = config
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        _, rate = resolve_optimizer(self.config.optimizer, self.config.learning_rate)
        raise ValueError(
            f"Training diverged: the loss became {float(loss)} in epoch {self.epoch + 1}, batch "
            f"{batch + 1}. Lower the learning rate (--learning-rate, now {rate:g}), the margin "
            f"(--margin, now {self.config.margin:g}) or the identification weight "
            f"(--identification-weight, now {self.config.identification_weight:g}) and train again."
        )


@dataclass
class TrainResult:
    """Result of :func:`train`.

    Attributes:
        model: the two-input Siamese model, ``[image_a, image_b] -> (batch, 1)`` distances.
        embedding_network: the shared network inside ``model``.
        history: per-epoch values, each a list of floats keyed by metric name.
        train_seconds: wall time spent in ``fit`` and in fitting the discriminant projection.
            A resumed run adds the time of its earlier sessions up to the restored epoch.
    """

    model: keras.Model
    embedding_network: keras.Model
    history: dict[str, list[float]]
    train_seconds: float


def train(
    train_set: FaceDataset,
    config: TrainConfig,
    *,
    callbacks: list[keras.callbacks.Callback] | tuple = (),
    verbose: int | str = "auto",
    initial_weights: list[np.ndarray] | None = None,
    checkpoint: TrainingCheckpoint | None = None,
) -> TrainResult:
    """Train an embedding network on ``train_set`` with the in-batch contrastive loss.

    Every image of a batch is embedded once and all pairs inside the batch enter the loss
    (see :class:`~siamese.losses.InBatchContrastiveLoss`).

    Args:
        train_set: training identities; images must match ``config.image_size``.
        config: the run's settings.
        callbacks: extra Keras callbacks, for example per-epoch evaluation.
        verbose: Keras progress output (``"auto"``, 0, 1 or 2).
        initial_weights: start from these embedding-network weights instead of the seeded
            initialisation, so several optimizers can start from identical weights.
        checkpoint: first restore the training state that this checkpoint contains, then
            save the state into it after every epoch, so an interrupted run continues after
            its last finished epoch with the batches and results of an uninterrupted one.

    Returns:
        A :class:`TrainResult`.
    """
    if train_set.image_size != config.image_size:
        raise ValueError(
            f"Training images are {train_set.image_size} (height, width) but the config expects "
            f"{config.image_size}; load the data with image_size={config.image_size}."
        )
    config.check_training_set(train_set.labels)

    fit_set = with_blended_identities(train_set, config)
    if config.blended_identities:
        logger.info("Added %d blended identities to %d training people", config.blended_identities, len(train_set.names))

    network = build_network(config)
    if initial_weights is not None:
        network.set_weights(initial_weights)

    joint = config.identification_weight > 0
    batches = IdentityBatches(
        fit_set,
        config.identities_per_batch,
        config.images_per_identity,
        config.steps_per_epoch,
        config.seed,
        Augmentation() if config.augment else None,
        with_identity_target=joint,
    )
    optimizer = make_optimizer(
        config.optimizer,
        config.learning_rate,
        total_steps=config.epochs * config.steps_per_epoch,
        use_ema=config.use_ema,
    )
    contrastive = InBatchContrastiveLoss(margin=config.margin)
    accuracy = InBatchPairAccuracy(threshold=config.margin / 2)
    if joint:
        fitted = _joint_training_model(network, len(fit_set.names), config.seed)
        fitted.compile(
            optimizer=optimizer,
            loss={"embedding": contrastive, "identity": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
            loss_weights={"embedding": 1.0, "identity": config.identification_weight},
            metrics={"embedding": [accuracy]},
        )
    else:
        fitted = network
        fitted.compile(optimizer=optimizer, loss=contrastive, metrics=[accuracy])

    callbacks = [DivergenceCheck(config), *callbacks]
    initial_epoch = 0
    if checkpoint is not None:
        initial_epoch = checkpoint.restore(fitted, config)
        # IdentityBatches counts Keras' on_epoch_end calls (one before the first epoch, then
        # one per epoch), so starting the count at the restored epoch draws the batches that
        # the uninterrupted run drew.
        batches.epoch = initial_epoch
        callbacks.append(checkpoint)

    started = time.perf_counter()
    # shuffle=False: Keras would otherwise reorder the batches of each epoch with Python's
    # unseeded global `random`, so one seed would not give one batch order.
    fit_history = fitted.fit(
        batches, epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    session_seconds = time.perf_counter() - started
    seconds = session_seconds

    logged = fit_history.history
    if checkpoint is not None:
        # Keras' history covers only this session, and the checkpoint's also has the restored epochs.
        logged = checkpoint.history
        seconds += checkpoint.restored_seconds
    history = {_history_key(key): [float(value) for value in values] for key, values in logged.items()}

    if config.discriminant_projection:
        started = time.perf_counter()
        network = add_discriminant_projection(network, fit_set, np.random.default_rng([config.seed, 2]))
        seconds += time.perf_counter() - started

    logger.info("%s", describe_training_time(initial_epoch, config.epochs, session_seconds, seconds))
    model = build_siamese_model(network)
    return TrainResult(model, network, history, seconds)


def describe_training_time(restored_epochs: int, epochs: int, session_seconds: float, total_seconds: float) -> str:
    """Describe which epochs this session trained and the run's whole training time, for the log.

    Args:
        restored_epochs: epochs restored from a checkpoint, 0 for a fresh run.
        epochs: epochs of the whole run.
        session_seconds: seconds in ``fit`` in this session.
        total_seconds: the run's training seconds (:attr:`TrainResult.train_seconds`): every
            session's time in ``fit`` plus the discriminant projection's.
    """
    total = f"training time in all: {total_seconds:.1f} s"
    if restored_epochs == 0:
        return f"Trained {epochs} epoch{'' if epochs == 1 else 's'} in {session_seconds:.1f} s; {total}"
    if restored_epochs >= epochs:
        return f"All {epochs} epochs were restored from the checkpoint, so none was trained again; {total}"
    trained = f"epoch {epochs}" if restored_epochs == epochs - 1 else f"epochs {restored_epochs + 1}-{epochs}"
    return f"Trained {trained} in {session_seconds:.1f} s after restoring {restored_epochs} from the checkpoint; {total}"


def _joint_training_model(network: keras.Model, n_identities: int, seed: int) -> keras.Model:
    """Wrap ``network`` with a cosine identity classifier for joint training.

    The outputs are a dict: ``embedding`` (for the contrastive loss) and ``identity`` logits
    (for softmax cross-entropy). The classifier is dropped after training.
    """
    images = keras.Input(shape=network.input_shape[1:], name="image")
    embeddings = network(images)
    logits = CosineClassifier(n_identities, seed=seed, name="identity")(embeddings)
    return keras.Model(images, {"embedding": embeddings, "identity": logits}, name="joint_training")


def _history_key(key: str) -> str:
    """Map Keras' per-output history names onto the single-output names used in reports."""
    renamed = {"embedding_accuracy": "accuracy", "embedding_loss": "contrastive_loss", "identity_loss": "identification_loss"}
    return renamed.get(key, key)
