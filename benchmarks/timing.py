"""Keras callbacks that time training: step throughput and the time to reach an accuracy target."""

from __future__ import annotations

import logging
import time

import keras
import numpy as np

from siamese.data import FaceDataset
from siamese.evaluation import embed, one_shot_accuracy
from siamese.model import embedding_network_of

logger = logging.getLogger(__name__)


class ThroughputMeter(keras.callbacks.Callback):
    """Record the wall time of every training step.

    Attributes:
        step_seconds: seconds from the start to the end of each step, in order. A step
            includes loading and augmenting its batch, the forward and backward pass and the
            weight update. The first step also traces the training graph.
    """

    def __init__(self):
        super().__init__()
        self.step_seconds: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.step_seconds.append(time.perf_counter() - self._started)

    def images_per_second(self, images_per_step: int) -> float | None:
        """Return images forwarded and backpropagated per second, leaving out the first step.

        ``None`` when fewer than two steps ran.
        """
        if len(self.step_seconds) < 2:
            return None
        return images_per_step * (len(self.step_seconds) - 1) / float(np.sum(self.step_seconds[1:]))


class TargetTimer(keras.callbacks.Callback):
    """Find the first epoch whose one-shot accuracy on held-out identities reaches ``target``.

    After each epoch the embedding network is evaluated on ``validation_set`` with
    :func:`siamese.evaluation.one_shot_accuracy`. The clock counts training time only: each
    evaluation's own time is left out. Place ``keras.callbacks.SwapEMAWeights(swap_on_epoch=True)``
    before this callback to evaluate the moving-average weights that training ends with.

    Args:
        validation_set: identities the network does not train on.
        target: one-shot accuracy to reach, for example 0.97.
        seed: seeds the gallery draws; every epoch uses the same draws.
        n_draws: gallery draws per evaluation.
        stop_at_target: stop training at the first epoch that reaches the target.

    Attributes:
        accuracies: one-shot accuracy after each epoch.
        epoch_seconds: training seconds (without evaluation) at the end of each epoch.
        reached_epoch: 1-based epoch that first reached the target, or ``None``.
        reached_seconds: training seconds up to the end of that epoch, or ``None``.
    """

    def __init__(
        self,
        validation_set: FaceDataset,
        target: float,
        seed: int = 0,
        n_draws: int = 200,
        stop_at_target: bool = True,
    ):
        super().__init__()
        self.validation_set = validation_set
        self.target = float(target)
        self.seed = seed
        self.n_draws = n_draws
        self.stop_at_target = stop_at_target
        self.accuracies: list[float] = []
        self.epoch_seconds: list[float] = []
        self.reached_epoch: int | None = None
        self.reached_seconds: float | None = None

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()
        self._evaluation_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        training_seconds = time.perf_counter() - self._started - self._evaluation_seconds
        evaluation_started = time.perf_counter()

        # The fitted model may wrap the embedding network (joint identification training).
        embeddings = embed(embedding_network_of(self.model), self.validation_set.images)
        rng = np.random.default_rng(self.seed)
        accuracy = one_shot_accuracy(embeddings, self.validation_set.labels, rng, self.n_draws)
        self.accuracies.append(accuracy)
        self.epoch_seconds.append(training_seconds)
        logger.info("Epoch %d: one-shot accuracy %.4f after %.1f s of training", epoch + 1, accuracy, training_seconds)

        if self.reached_epoch is None and accuracy >= self.target:
            self.reached_epoch = epoch + 1
            self.reached_seconds = training_seconds
            logger.info("Reached one-shot accuracy %.2f at epoch %d", self.target, epoch + 1)
            if self.stop_at_target:
                self.model.stop_training = True
        self._evaluation_seconds += time.perf_counter() - evaluation_started
