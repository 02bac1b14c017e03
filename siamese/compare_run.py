"""One training run of an optimizer comparison, stored as one JSON file.

A run trains one optimizer at one learning rate on one ``(seed, fold)``, records per-epoch
validation metrics and the final evaluation, and writes everything atomically to
``runs/RUN_ID.json``. The file's presence marks the run as finished. This module is what
the worker processes of ``siamese compare --jobs N`` import.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamese.config import TrainConfig
from siamese.data import FaceDataset
from siamese.files import write_json
from siamese.training import train

logger = logging.getLogger(__name__)

#: One-shot gallery draws of the final evaluation and of each per-epoch validation.
FINAL_N_DRAWS = 200
EPOCH_N_DRAWS = 50


@dataclass(frozen=True)
class RunSpec:
    """The condition and repetition of one run.

    Attributes:
        optimizer: optimizer name, lower case.
        learning_rate: initial learning rate actually used (the optimizer's default resolved).
        seed: seeds the initial weights, the batches and the augmentation.
        fold: index of the subject split; 0 is the standard split when there is one fold.
    """

    optimizer: str
    learning_rate: float
    seed: int
    fold: int

    @property
    def run_id(self) -> str:
        """File stem such as ``adam_lr0.001_seed0_fold0``."""
        return f"{self.optimizer}_lr{self.learning_rate:g}_seed{self.seed}_fold{self.fold}"


@dataclass
class RunTask:
    """Everything one worker needs to train and evaluate a run (it is pickled to the worker).

    Attributes:
        spec: which run this is.
        config: the full training settings, with ``optimizer``, ``learning_rate`` and
            ``seed`` taken from ``spec``.
        train_set: training identities of the fold.
        test_set: held-out identities of the fold, for validation and the final metrics.
        initial_weights: embedding-network weights shared by every optimizer of this
            ``(seed, fold)``.
        runs_dir: folder that receives ``RUN_ID.json``.
    """

    spec: RunSpec
    config: TrainConfig
    train_set: FaceDataset
    test_set: FaceDataset
    initial_weights: list[np.ndarray]
    runs_dir: Path


def limit_threads(threads: int) -> None:
    """Cap TensorFlow at ``threads`` intra-op and inter-op threads in this process.

    Worker processes call it before TensorFlow starts, so ``N`` jobs share the cores
    instead of each starting one thread per core.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def tensorflow_threads() -> int:
    """Return TensorFlow's intra-op thread limit in this process; 0 means one per core."""
    import tensorflow as tf

    return int(tf.config.threading.get_intra_op_parallelism_threads())


def fingerprint_weights(weights: list[np.ndarray]) -> str:
    """Return a SHA-256 hex digest of a list of weight arrays (shapes, dtypes and values)."""
    digest = hashlib.sha256()
    for array in weights:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_batches(train_set: FaceDataset, config: TrainConfig) -> str:
    """Return a SHA-256 hex digest of every batch's image indices over the whole training.

    The indices are those that :class:`~siamese.training.IdentityBatches` draws for
    ``config.seed``, epoch by epoch, from the training set with its blended identities.
    Augmentation is seeded by the same ``(seed, epoch, step)``, so equal digests mean equal
    batches, augmentation included. The digest covers
    epochs 0 … ``config.epochs`` because Keras 3.15 reads one epoch of batches to infer
    shapes before training starts.
    """
    from siamese.training import IdentityBatches, with_blended_identities

    batches = IdentityBatches(
        with_blended_identities(train_set, config),
        config.identities_per_batch,
        config.images_per_identity,
        config.steps_per_epoch,
        config.seed,
        augmentation=None,
    )
    digest = hashlib.sha256()
    for epoch in range(config.epochs + 1):
        batches.epoch = epoch
        for step in range(config.steps_per_epoch):
            digest.update(batches.indices(step).astype(np.int64).tobytes())
    return digest.hexdigest()


def evaluation_rng(seed: int, fold: int) -> np.random.Generator:
    """Return the generator of the final one-shot draws; it depends on ``(seed, fold)`` only."""
    return np.random.default_rng([seed, fold, 1])


def execute_run(task: RunTask) -> dict:
    """Train, evaluate and store one run; return the record written to ``runs/RUN_ID.json``.

    The record contains the spec and the full training config. ``history`` has one float
    per epoch for ``loss``, ``accuracy``, ``val_one_shot_accuracy``, ``val_eer`` and
    ``val_roc_auc``. ``metrics`` is the final result of :func:`siamese.evaluation.evaluate`,
    and ``roc`` the ROC curve of the test pairs. The record also has ``train_seconds``,
    ``evaluation_seconds``, the TensorFlow thread limit and the fingerprints of the initial
    weights and of the batches.
    """
    import keras

    from siamese.evaluation import EpochEvaluation, evaluate

    spec = task.spec
    logger.info("Training %s on %d images", spec.run_id, len(task.train_set))

    result = train(
        task.train_set,
        task.config,
        callbacks=[EpochEvaluation(task.test_set, seed=spec.seed, n_draws=EPOCH_N_DRAWS)],
        verbose=0,
        initial_weights=task.initial_weights,
    )

    started = time.perf_counter()
    evaluation = evaluate(result.embedding_network, task.test_set, task.train_set, evaluation_rng(spec.seed, spec.fold), FINAL_N_DRAWS)
    evaluation_seconds = time.perf_counter() - started

    false_positive, true_positive = evaluation.roc
    record = {
        "run_id": spec.run_id,
        "optimizer": spec.optimizer,
        "learning_rate": spec.learning_rate,
        "seed": spec.seed,
        "fold": spec.fold,
        "train_config": task.config.to_dict(),
        "history": result.history,
        "metrics": evaluation.metrics,
        "train_seconds": result.train_seconds,
        "evaluation_seconds": evaluation_seconds,
        "roc": {
            "false_positive_rate": [float(value) for value in false_positive],
            "true_positive_rate": [float(value) for value in true_positive],
        },
        "tensorflow_threads": tensorflow_threads(),
        "initial_weights_sha256": fingerprint_weights(task.initial_weights),
        "batches_sha256": fingerprint_batches(task.train_set, task.config),
        "train_identities": list(task.train_set.names),
        "test_identities": list(task.test_set.names),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(task.runs_dir / f"{spec.run_id}.json", record)

    # Free the graph and weights before the next run of this process.
    keras.utils.clear_session()
    return record
