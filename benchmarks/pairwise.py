"""The classic Siamese training: two forward passes per pair, on balanced pairs, for a fixed time.

This is the baseline for the package's in-batch training (:func:`siamese.training.train`):
the same embedding network, optimizer, margin and augmentation, but each step feeds
``pairs_per_batch`` balanced pairs from :func:`siamese.pairs.make_pairs` through the two-input
model built by :func:`siamese.model.build_siamese_model` with the pair
:class:`~siamese.losses.ContrastiveLoss`. Training stops when a wall-time budget is spent, so
both trainers can be compared at equal time.
"""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np

from siamese.augment import Augmentation
from siamese.data import FaceDataset
from siamese.losses import ContrastiveLoss, ThresholdAccuracy
from siamese.model import build_siamese_model
from siamese.pairs import make_pairs
from siamese.projection import add_discriminant_projection
from siamese.training import TrainConfig, TrainResult, build_network, make_optimizer, with_blended_identities

logger = logging.getLogger(__name__)

#: Upper bound on epochs; the time budget ends training long before it.
MAX_EPOCHS = 100_000


class PairBatches(keras.utils.PyDataset):
    """Batches of balanced image pairs, drawn afresh for every step.

    Each batch yields ``((images_a, images_b), labels)``: two float32 arrays
    ``(pairs_per_batch, height, width, 1)`` and float32 labels ``(pairs_per_batch,)``, 1 for
    the same person. Batch ``i`` of epoch ``e`` comes from a generator seeded with
    ``(seed, e, i)``, as in :class:`siamese.training.IdentityBatches`.
    """

    def __init__(
        self,
        dataset: FaceDataset,
        pairs_per_batch: int,
        steps: int,
        seed: int,
        augmentation: Augmentation | None,
    ):
        super().__init__()
        if pairs_per_batch < 2:
            raise ValueError(f"pairs_per_batch must be at least 2; received {pairs_per_batch}.")
        self.dataset = dataset
        self.pairs_per_batch = int(pairs_per_batch)
        self.steps = int(steps)
        self.seed = int(seed)
        self.augmentation = augmentation
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int):
        rng = np.random.default_rng([self.seed, self.epoch, step])
        index_pairs, labels = make_pairs(self.dataset.labels, self.pairs_per_batch, rng)
        first = self.dataset.images[index_pairs[:, 0]]
        second = self.dataset.images[index_pairs[:, 1]]
        if self.augmentation is not None:
            first = self.augmentation.apply(first, rng)
            second = self.augmentation.apply(second, rng)
        return (first, second), labels.astype(np.float32)

    def on_epoch_end(self):
        self.epoch += 1


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall time have passed since training began.

    The learning rate follows a cosine decay from ``learning_rate`` to 0 over the budget
    (by elapsed time, not steps), the time-based counterpart of the step-based cosine decay
    in :func:`siamese.training.train`. Set ``learning_rate=None`` to leave the rate alone.

    Attributes:
        steps: training steps finished.
        elapsed: seconds from the start of training to the end of the last step.
    """

    def __init__(self, seconds: float, learning_rate: float | None = None):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"The time budget must be positive seconds; received {seconds}.")
        self.seconds = float(seconds)
        self.learning_rate = learning_rate
        self.steps = 0
        self.elapsed = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.learning_rate is None:
            return
        progress = min((time.perf_counter() - self.started) / self.seconds, 1.0)
        self.model.optimizer.learning_rate = self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.elapsed = time.perf_counter() - self.started
        if self.elapsed >= self.seconds:
            self.model.stop_training = True


def train_pairwise(
    train_set: FaceDataset,
    config: TrainConfig,
    seconds: float,
    *,
    verbose: int | str = 0,
) -> tuple[TrainResult, int]:
    """Train the two-input Siamese model on balanced pairs for ``seconds`` of wall time.

    Uses the embedding network, optimizer, margin, augmentation, blended identities and seed
    of ``config``.
    Each step contains ``identities_per_batch * images_per_identity / 2`` pairs, so it forwards
    as many images as one step of :func:`siamese.training.train`. ``config.epochs`` is
    ignored, because the budget decides when training stops, and so is
    ``identification_weight``: this trainer uses the contrastive loss alone.

    Returns:
        ``(result, steps)``: a :class:`~siamese.training.TrainResult` whose ``train_seconds``
        is the wall time of ``fit`` (the budget plus the last step and shutdown) and of
        fitting the discriminant projection, and the number of training steps run.
    """
    if train_set.image_size != config.image_size:
        raise ValueError(
            f"Training images are {train_set.image_size} (height, width) but the config expects "
            f"{config.image_size}; load the data with image_size={config.image_size}."
        )

    fit_set = with_blended_identities(train_set, config)
    network = build_network(config)
    model = build_siamese_model(network)

    pairs_per_batch = max(config.identities_per_batch * config.images_per_identity // 2, 2)
    batches = PairBatches(
        fit_set,
        pairs_per_batch,
        config.steps_per_epoch,
        config.seed,
        Augmentation() if config.augment else None,
    )
    optimizer = make_optimizer(config.optimizer, config.learning_rate, total_steps=None, use_ema=config.use_ema)
    model.compile(
        optimizer=optimizer,
        loss=ContrastiveLoss(margin=config.margin),
        metrics=[ThresholdAccuracy(threshold=config.margin / 2)],
    )

    budget = TimeBudget(seconds, learning_rate=float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    started = time.perf_counter()
    # shuffle=False keeps the seeded batch order; Keras would reorder it with unseeded `random`.
    history = model.fit(batches, epochs=MAX_EPOCHS, callbacks=[budget], verbose=verbose, shuffle=False)
    train_seconds = time.perf_counter() - started
    logger.info(
        "Pairwise training: %d steps (%d pairs each) in %.1f s for a budget of %.1f s",
        budget.steps,
        pairs_per_batch,
        train_seconds,
        seconds,
    )

    values = {key: [float(value) for value in series] for key, series in history.history.items()}

    # The same post-processing as the in-batch trainer, so the two differ only in training.
    if config.discriminant_projection:
        started = time.perf_counter()
        network = add_discriminant_projection(network, fit_set, np.random.default_rng([config.seed, 2]))
        model = build_siamese_model(network)
        train_seconds += time.perf_counter() - started
    return TrainResult(model, network, values, train_seconds), budget.steps
