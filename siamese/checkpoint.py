"""Save the training state after every epoch, so an interrupted run continues where it stopped.

:class:`TrainingCheckpoint` is a Keras callback that keeps two files in one folder
(``OUT/checkpoint`` for ``siamese train``):

- ``epoch-NNNN.weights.h5``: the output of ``Model.save_weights``. In Keras 3.15 it contains
  the model's weights (batch-norm moving statistics included) and the optimizer's variables:
  the step count, the moment estimates and, with ``use_ema``, the moving average of the
  weights. It leaves out the dropout layers' seed-generator states.
- ``progress.json``: the finished epoch count, the per-epoch history so far (with the
  ``val_*`` entries of callbacks that run before this one), the training seconds so far, the
  seed-generator states, the name of the weights file and the training settings.

Both files are written atomically and ``progress.json`` last, so it always names a complete
weights file. An interruption at any point leaves the state after the last finished epoch.

``keras.callbacks.BackupAndRestore`` (Keras 3.15) does not fit: it writes non-atomically,
keeps neither the history nor the seed-generator states, and deletes its backup when ``fit``
returns, before the run's evaluation and outputs are written.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from siamese.compare import differences
from siamese.config import TrainConfig
from siamese.files import atomic_write, write_json
# Defined in run_folder, which the command line imports without Keras, and kept importable from here.
from siamese.run_folder import CHECKPOINT_FOLDER, PROGRESS_FILE  # noqa: F401

logger = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".weights.h5"


@dataclass
class Progress:
    """Contents of ``progress.json``.

    Attributes:
        epochs_done: finished epochs, from 1 to ``config["epochs"]``.
        history: per-epoch values under Keras' log names, one float per finished epoch.
        train_seconds: wall time in ``fit`` up to the end of the last finished epoch, summed
            over every session of the run.
        seed_states: the state of each seed generator (one per dropout layer), in the order
            of ``model.variables``.
        weights_file: name of the weights file in the checkpoint folder.
        config: the run's :class:`~siamese.config.TrainConfig` as a JSON object.
    """

    epochs_done: int
    history: dict[str, list[float]]
    train_seconds: float
    seed_states: list[list[int]]
    weights_file: str
    config: dict


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save the training state into ``folder`` after every epoch, and restore it.

    Call :meth:`restore` on the compiled model before ``fit``, pass the returned epoch count
    as ``fit(initial_epoch=...)``, and list this callback after every callback that adds
    entries to the epoch logs (such as :class:`~siamese.evaluation.EpochEvaluation`), so the
    saved history contains them. :func:`siamese.training.train` does all three.

    Attributes:
        folder: the checkpoint folder; it is created at the first save.
        history: per-epoch values under Keras' log names: the restored epochs followed by
            the epochs of this session.
        restored_seconds: training seconds of the earlier sessions, up to the restored epoch.
    """

    def __init__(self, folder: str | os.PathLike):
        super().__init__()
        self.folder = Path(folder)
        self.history: dict[str, list[float]] = {}
        self.restored_seconds = 0.0
        self._config: dict | None = None
        self._session_started = time.perf_counter()

    @property
    def progress_path(self) -> Path:
        return self.folder / PROGRESS_FILE

    def exists(self) -> bool:
        """Return whether the folder contains a saved state (a ``progress.json``)."""
        return self.progress_path.is_file()

    def read_progress(self) -> Progress | None:
        """Read ``progress.json``, or return ``None`` when it is missing.

        Raises:
            ValueError: the file is not a checkpoint that this version wrote.
        """
        if not self.exists():
            return None
        try:
            return Progress(**json.loads(self.progress_path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(
                f"{self.progress_path} is not a readable training checkpoint ({error}); pass "
                f"--overwrite to discard it and start the run over."
            ) from error

    def restore(self, model: keras.Model, config: TrainConfig) -> int:
        """Load the saved state into ``model`` and return the number of finished epochs.

        ``model`` must be compiled and built exactly as in the saved run. Without a saved
        state nothing changes and the result is 0. Either way the callback then saves
        ``config`` with every later checkpoint.

        Raises:
            ValueError: the checkpoint was saved with other training settings (the message
                lists each as ``stored -> requested``), or it cannot be read.
            FileNotFoundError: the weights file that ``progress.json`` names is missing.
        """
        self._config = json.loads(json.dumps(config.to_dict()))
        progress = self.read_progress()
        if progress is None:
            return 0

        found = differences(progress.config, self._config)
        if found:
            raise ValueError(
                f"The checkpoint in {self.folder} was saved with other training settings: "
                f"{'; '.join(found)}. Train with the stored settings to resume it, or delete "
                f"the folder to start over."
            )
        self._check_progress(progress, config)
        weights = self.folder / progress.weights_file
        if not weights.is_file():
            raise FileNotFoundError(
                f"{self.progress_path} names the weights file {weights.name}, which is missing; "
                f"pass --overwrite to discard the checkpoint and start the run over."
            )

        # load_weights fills the optimizer's variables only when they exist already.
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(weights)
            _set_seed_states(model, progress.seed_states)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"Cannot restore the checkpoint weights {weights}: {error}. Pass --overwrite to "
                f"discard the checkpoint and start the run over."
            ) from error

        self.history = {key: list(values) for key, values in progress.history.items()}
        self.restored_seconds = float(progress.train_seconds)
        if progress.epochs_done < config.epochs:
            logger.info(
                "Resuming training from epoch %d of %d with the state saved in %s",
                progress.epochs_done + 1, config.epochs, self.folder,
            )
        else:
            logger.info("Restored the state after the last epoch (%d) from %s", config.epochs, self.folder)
        return progress.epochs_done

    def _check_progress(self, progress, config: TrainConfig) -> None:
        """Raise ValueError unless the epoch count and history of ``progress`` agree with ``config``."""
        epochs_done = progress.epochs_done
        valid = isinstance(epochs_done, int) and not isinstance(epochs_done, bool) and 1 <= epochs_done <= config.epochs
        lengths = {len(values) for values in progress.history.values()} if isinstance(progress.history, dict) else set()
        if not valid or lengths != {epochs_done}:
            raise ValueError(
                f"{self.progress_path} is inconsistent: epochs_done is {epochs_done!r} for a run of "
                f"{config.epochs} epochs, and its history has {sorted(lengths)} entries per metric. "
                f"Pass --overwrite to discard the checkpoint and start the run over."
            )

    def on_train_begin(self, logs=None):
        self._session_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._config is None:
            raise RuntimeError("TrainingCheckpoint.restore() must be called before fit().")
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        epochs_done = epoch + 1
        weights_file = f"epoch-{epochs_done:04d}{WEIGHTS_SUFFIX}"

        _save_weights(self.model, self.folder / weights_file)

        progress = Progress(
            epochs_done=epochs_done,
            history=self.history,
            train_seconds=self.restored_seconds + time.perf_counter() - self._session_started,
            seed_states=[np.asarray(state).tolist() for state in _seed_state_variables(self.model)],
            weights_file=weights_file,
            config=self._config,
        )
        write_json(self.progress_path, dataclasses.asdict(progress))

        for old in self.folder.glob(f"epoch-*{WEIGHTS_SUFFIX}"):
            if old.name != weights_file:
                old.unlink()
        logger.debug("Saved the training state after epoch %d in %s", epochs_done, self.folder)

    def delete(self) -> None:
        """Delete the checkpoint folder, if there is one."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
            logger.debug("Deleted the checkpoint %s", self.folder)


def check_run_settings(config_path: Path, requested: dict) -> None:
    """Check that an unfinished run's ``config.json`` matches the run now requested.

    ``requested`` has the layout of ``config.json``. Data folders count as equal when they
    resolve to the same path. A different Python version only logs a warning, because it
    may change the last digits of the results but not the run's meaning.

    Raises:
        ValueError: a setting differs (the message lists each as ``stored -> requested``)
            or ``config.json`` is missing or unreadable.
    """
    out_dir = config_path.parent
    try:
        stored = json.loads(config_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{out_dir} contains a training checkpoint but no readable config.json ({error}), "
            f"so its settings cannot be checked; pass a new --out folder, or --overwrite to "
            f"discard the checkpoint and start over."
        ) from error

    stored = {**stored, "data_dir": _resolved(stored.get("data_dir"))}
    requested = {**json.loads(json.dumps(requested)), "data_dir": _resolved(requested.get("data_dir"))}
    stored_python = stored.pop("python", None)
    requested_python = requested.pop("python", platform.python_version())

    found = differences(stored, requested)
    if found:
        raise ValueError(
            f"{out_dir} contains an unfinished run with other settings, so it cannot be resumed "
            f"with these: {'; '.join(found)}. Rerun with the stored settings to resume it, pass a "
            f"new --out folder, or pass --overwrite to discard it and start over."
        )
    if stored_python != requested_python:
        logger.warning(
            "Resuming a run that started under Python %s with Python %s; the results may differ "
            "in the last digits from an uninterrupted run.",
            stored_python, requested_python,
        )


def _resolved(path: str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _save_weights(model: keras.Model, path: Path) -> None:
    """Write the weights and optimizer state of ``model`` to ``path`` atomically, in the ``.weights.h5`` format.

    HDF5 writes into memory first and Python writes the bytes to disk. h5py 3.14 writing
    straight to a nearly full disk crashed the process with a segmentation fault, which no
    handler can catch. Python's own write raises ENOSPC as an exception instead, which
    :func:`~siamese.files.atomic_write` reports. ``model.load_weights`` reads the file as usual.
    Where the Keras internals this needs are missing, ``model.save_weights`` writes the file.
    """
    try:
        data = _weights_bytes(model)
    except (ImportError, AttributeError, TypeError) as error:
        logger.warning(
            "Writing checkpoint weights with model.save_weights, because this Keras %s lacks the "
            "in-memory writer (%s); on a nearly full disk h5py may then crash instead of reporting it.",
            keras.__version__, error,
        )
        atomic_write(path, lambda temporary: _save_weights_through_keras(model, temporary))
        return
    atomic_write(path, lambda temporary: temporary.write_bytes(data))


def _weights_bytes(model: keras.Model) -> bytes:
    """Return what ``model.save_weights`` would write, built in memory."""
    # NOTE: H5IOStore and _save_state are Keras internals (keras.src.saving.saving_lib, Keras
    # 3.15); model.save_weights itself does exactly this with a file path in place of the buffer.
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def _save_weights_through_keras(model: keras.Model, temporary: Path) -> None:
    """Write ``model.save_weights`` output to ``temporary``, which lacks the ``.weights.h5`` ending Keras requires."""
    keras_path = temporary.with_name(temporary.name + WEIGHTS_SUFFIX)
    try:
        model.save_weights(keras_path)
        os.replace(keras_path, temporary)
    finally:
        keras_path.unlink(missing_ok=True)


def _seed_state_variables(model: keras.Model) -> list[keras.Variable]:
    """Return the seed-generator states: the variables in ``model.variables`` but not in ``model.weights``."""
    weights = {id(variable) for variable in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _set_seed_states(model: keras.Model, states: list[list[int]]) -> None:
    variables = _seed_state_variables(model)
    if len(variables) != len(states):
        raise ValueError(
            f"The checkpoint contains {len(states)} seed-generator states but the model has "
            f"{len(variables)}; it was saved from another architecture."
        )
    for variable, state in zip(variables, states):
        variable.assign(np.asarray(state, dtype=variable.dtype))
