"""Resuming interrupted training: the checkpoint's contents, exact reproduction, and the train job."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil

import h5py
import keras
import numpy as np
import pytest

from siamese.checkpoint import CHECKPOINT_FOLDER, PROGRESS_FILE, TrainingCheckpoint
from siamese.config import TrainConfig
from siamese.data import load_image_folder
from siamese.evaluation import EpochEvaluation
from siamese.training import train

pytestmark = pytest.mark.slow

# Small enough that a 3-epoch run, tracing included, took about 3 s on the 2-core development
# machine. The defaults keep dropout, augmentation, the identity classifier and the weights'
# moving average on, so every piece of state that a resume must restore is exercised.
TINY = TrainConfig(
    epochs=3,
    steps_per_epoch=2,
    widths=(8, 16),
    embedding_dim=8,
    image_size=(28, 23),
    identities_per_batch=4,
    images_per_identity=2,
)
QUICK = ["--epochs", "2", "--steps-per-epoch", "2", "--image-size", "28x23", "--quiet"]


class InterruptIn(keras.callbacks.Callback):
    """Raise KeyboardInterrupt after the first batch of ``epoch`` (counted from 0), as Ctrl-C would."""

    def __init__(self, epoch: int):
        super().__init__()
        self.interrupted_epoch = epoch
        self.current_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current_epoch == self.interrupted_epoch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def faces(att_dir):
    dataset = load_image_folder(att_dir, image_size=TINY.image_size)
    return dataset.subset([f"s{i}" for i in range(1, 7)]), dataset.subset(["s7", "s8", "s9"])


def train_tiny(faces, config=TINY, extra_callbacks=(), checkpoint=None):
    train_set, validation_set = faces
    callbacks = [EpochEvaluation(validation_set, seed=config.seed, n_draws=20), *extra_callbacks]
    return train(train_set, config, callbacks=callbacks, verbose=0, checkpoint=checkpoint)


@pytest.fixture(scope="module")
def uninterrupted(faces):
    return train_tiny(faces)


@pytest.fixture(scope="module")
def interrupted_folder(faces, tmp_path_factory):
    """A checkpoint folder left by a run interrupted during its second epoch."""
    folder = tmp_path_factory.mktemp("interrupted") / CHECKPOINT_FOLDER
    with pytest.raises(KeyboardInterrupt):
        train_tiny(faces, extra_callbacks=[InterruptIn(epoch=1)], checkpoint=TrainingCheckpoint(folder))
    return folder


@pytest.fixture(scope="module")
def resumed(faces, interrupted_folder, tmp_path_factory):
    """The interrupted run resumed from a copy of its checkpoint, and that copy afterwards."""
    folder = tmp_path_factory.mktemp("resumed") / CHECKPOINT_FOLDER
    shutil.copytree(interrupted_folder, folder)
    return train_tiny(faces, checkpoint=TrainingCheckpoint(folder)), folder


def assert_same_weights(expected: keras.Model, actual: keras.Model):
    expected_weights, actual_weights = expected.get_weights(), actual.get_weights()
    assert len(actual_weights) == len(expected_weights)
    for index, (want, got) in enumerate(zip(expected_weights, actual_weights)):
        np.testing.assert_array_equal(got, want, err_msg=f"weight {index}")


# --- the checkpoint's files ----------------------------------------------------------------


def test_interrupted_run_keeps_first_epoch(interrupted_folder):
    progress = json.loads((interrupted_folder / PROGRESS_FILE).read_text())

    assert progress["epochs_done"] == 1
    assert progress["weights_file"] == "epoch-0001.weights.h5"
    assert progress["config"]["epochs"] == 3
    assert len(progress["history"]["loss"]) == 1
    assert len(progress["history"]["val_one_shot_accuracy"]) == 1
    assert progress["train_seconds"] > 0
    # One dropout layer, so one seed-generator state of two integers.
    assert len(progress["seed_states"]) == 1
    assert len(progress["seed_states"][0]) == 2


def test_interrupted_run_leaves_one_weights_file(interrupted_folder):
    names = sorted(path.name for path in interrupted_folder.iterdir())

    assert names == ["epoch-0001.weights.h5", PROGRESS_FILE]


def test_weights_file_holds_optimizer_state(interrupted_folder):
    with h5py.File(interrupted_folder / "epoch-0001.weights.h5", "r") as weights:
        layer_variables = []
        weights["layers"].visititems(
            lambda name, item: layer_variables.append(name) if isinstance(item, h5py.Dataset) else None
        )
        optimizer_variables = list(weights["optimizer/vars"])

    # The joint model's trainable variables: 2 convolution kernels, 2 x (gamma, beta) of
    # batch normalisation, the dense kernel and bias, and the identity classifier's centres.
    # Their 4 batch-norm moving statistics are saved beside them.
    assert len(layer_variables) == 9 + 4
    # Adam keeps the step count and two moments per trainable variable; use_ema adds one
    # moving average per trainable variable.
    assert len(optimizer_variables) == 1 + 2 * 9 + 9


# --- resuming reproduces the uninterrupted run ---------------------------------------------


def test_resume_reproduces_weights(uninterrupted, resumed):
    result, _ = resumed

    assert_same_weights(uninterrupted.embedding_network, result.embedding_network)


def test_resume_reproduces_history(uninterrupted, resumed):
    result, _ = resumed

    assert result.history == uninterrupted.history
    assert len(result.history["val_one_shot_accuracy"]) == 3


def test_resume_adds_earlier_seconds(resumed, interrupted_folder):
    result, _ = resumed
    earlier = json.loads((interrupted_folder / PROGRESS_FILE).read_text())["train_seconds"]

    assert result.train_seconds > earlier


def test_resume_after_last_epoch_reproduces_weights(faces, uninterrupted, resumed, tmp_path, caplog):
    # An interruption after training but before the outputs are written leaves the state
    # after the last epoch. Restoring it trains nothing but must still apply the moving average.
    _, finished_folder = resumed
    folder = tmp_path / CHECKPOINT_FOLDER
    shutil.copytree(finished_folder, folder)
    assert json.loads((folder / PROGRESS_FILE).read_text())["epochs_done"] == 3
    caplog.set_level(logging.INFO)

    result = train_tiny(faces, checkpoint=TrainingCheckpoint(folder))

    assert_same_weights(uninterrupted.embedding_network, result.embedding_network)
    assert result.history == uninterrupted.history
    assert "All 3 epochs were restored from the checkpoint, so none was trained again" in caplog.text
    assert f"training time in all: {result.train_seconds:.1f} s" in caplog.text
    assert "Trained 0 epochs" not in caplog.text


def test_restore_rejects_other_settings(faces, interrupted_folder, tmp_path):
    folder = tmp_path / CHECKPOINT_FOLDER
    shutil.copytree(interrupted_folder, folder)
    other = dataclasses.replace(TINY, epochs=4, seed=1)

    with pytest.raises(ValueError, match="saved with other training settings") as error:
        train_tiny(faces, config=other, checkpoint=TrainingCheckpoint(folder))

    assert "epochs: 3 -> 4" in str(error.value)
    assert "seed: 0 -> 1" in str(error.value)


def test_restore_reports_missing_weights(faces, interrupted_folder, tmp_path):
    folder = tmp_path / CHECKPOINT_FOLDER
    shutil.copytree(interrupted_folder, folder)
    (folder / "epoch-0001.weights.h5").unlink()

    with pytest.raises(FileNotFoundError, match="epoch-0001.weights.h5"):
        train_tiny(faces, checkpoint=TrainingCheckpoint(folder))


def test_restore_reports_corrupt_weights(faces, interrupted_folder, tmp_path):
    folder = tmp_path / CHECKPOINT_FOLDER
    shutil.copytree(interrupted_folder, folder)
    weights = folder / "epoch-0001.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])

    with pytest.raises(ValueError, match="--overwrite") as error:
        train_tiny(faces, checkpoint=TrainingCheckpoint(folder))

    assert "epoch-0001.weights.h5" in str(error.value)


def test_divergence_stops_before_checkpoint(faces, tmp_path):
    folder = tmp_path / CHECKPOINT_FOLDER
    exploding = dataclasses.replace(TINY, learning_rate=1e30)

    with pytest.raises(ValueError, match=r"Training diverged: the loss became nan in epoch 1.*--learning-rate, now 1e\+30"):
        train_tiny(faces, exploding, checkpoint=TrainingCheckpoint(folder))

    assert not (folder / PROGRESS_FILE).exists()


@pytest.mark.parametrize("epochs_done", ["seven", 0, 99, 2])
def test_restore_rejects_inconsistent_epoch_count(faces, interrupted_folder, tmp_path, epochs_done):
    # The interrupted checkpoint contains 1 epoch of history, so 2 fits the run but not the history.
    folder = tmp_path / CHECKPOINT_FOLDER
    shutil.copytree(interrupted_folder, folder)
    progress = json.loads((folder / PROGRESS_FILE).read_text())
    progress["epochs_done"] = epochs_done
    (folder / PROGRESS_FILE).write_text(json.dumps(progress))

    with pytest.raises(ValueError, match="inconsistent"):
        train_tiny(faces, checkpoint=TrainingCheckpoint(folder))


# --- the train job and command -------------------------------------------------------------


def quick_config(**overrides) -> TrainConfig:
    return TrainConfig(epochs=2, steps_per_epoch=2, image_size=(28, 23), **overrides)


def interrupt_job(att_dir, out, epoch: int) -> None:
    """Run the ``siamese train`` job into ``out`` and interrupt it during ``epoch`` (from 0)."""
    from siamese import job

    with pytest.MonkeyPatch.context() as patch:

        def interrupted_train(train_set, config, *, callbacks=(), **kwargs):
            return train(train_set, config, callbacks=[*callbacks, InterruptIn(epoch=epoch)], **kwargs)

        patch.setattr(job, "train", interrupted_train)
        with pytest.raises(KeyboardInterrupt):
            job.run_training_job(att_dir, out, quick_config(), download=False, n_draws=20, verbose=0)


@pytest.fixture(scope="module")
def interrupted_job(att_dir, tmp_path_factory):
    """An output folder of ``siamese train`` interrupted during its second epoch."""
    out = tmp_path_factory.mktemp("job") / "out"
    interrupt_job(att_dir, out, epoch=1)
    return out


@pytest.fixture
def interrupted_out(interrupted_job, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(interrupted_job, out)
    return out


def test_interrupted_job_keeps_checkpoint(interrupted_job):
    assert (interrupted_job / "config.json").is_file()
    assert (interrupted_job / CHECKPOINT_FOLDER / PROGRESS_FILE).is_file()
    assert not (interrupted_job / "metrics.json").exists()


def test_cli_resumes_interrupted_run(att_dir, interrupted_out, caplog):
    from siamese.cli import main

    stored = json.loads((interrupted_out / CHECKPOINT_FOLDER / PROGRESS_FILE).read_text())["history"]
    caplog.set_level(logging.INFO)

    status = main(["train", "--data", str(att_dir), "--out", str(interrupted_out), "--no-download", *QUICK])

    assert status == 0
    assert "Resuming the unfinished run in" in caplog.text
    assert "Resuming training from epoch 2 of 2" in caplog.text
    train_seconds = json.loads((interrupted_out / "metrics.json").read_text())["train_seconds"]
    assert "Trained epoch 2 in " in caplog.text
    assert f"after restoring 1 from the checkpoint; training time in all: {train_seconds:.1f} s" in caplog.text
    assert (interrupted_out / "metrics.json").is_file()
    assert not (interrupted_out / CHECKPOINT_FOLDER).exists()
    rows = list(csv.DictReader((interrupted_out / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    # The first epoch comes from the checkpoint, not from training again.
    assert float(rows[0]["loss"]) == pytest.approx(stored["loss"][0], rel=1e-5)
    assert float(rows[0]["val_one_shot_accuracy"]) == pytest.approx(stored["val_one_shot_accuracy"][0], rel=1e-5)


def test_job_rejects_other_settings(att_dir, interrupted_out):
    from siamese.job import run_training_job

    config_before = (interrupted_out / "config.json").read_bytes()

    with pytest.raises(ValueError, match="unfinished run with other settings") as error:
        run_training_job(att_dir, interrupted_out, quick_config(margin=0.5), download=False, verbose=0)

    assert "config.margin: 1.0 -> 0.5" in str(error.value)
    assert "--overwrite" in str(error.value)
    assert "new --out" in str(error.value)
    assert (interrupted_out / "config.json").read_bytes() == config_before
    assert (interrupted_out / CHECKPOINT_FOLDER / PROGRESS_FILE).is_file()


def test_overwrite_discards_checkpoint(att_dir, interrupted_out, monkeypatch):
    from siamese import job

    seen = {}

    def stop_before_training(train_set, config, *, checkpoint, **kwargs):
        seen["checkpoint_exists"] = checkpoint.exists()
        seen["config"] = json.loads((interrupted_out / "config.json").read_text())["config"]
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "train", stop_before_training)
    with pytest.raises(KeyboardInterrupt):
        job.run_training_job(att_dir, interrupted_out, quick_config(margin=0.5), overwrite=True, download=False)

    assert seen["checkpoint_exists"] is False
    assert seen["config"]["margin"] == 0.5
    assert not (interrupted_out / CHECKPOINT_FOLDER).exists()


def test_first_epoch_stop_restarts(att_dir, tmp_path, caplog):
    from siamese import job

    out = tmp_path / "out"
    interrupt_job(att_dir, out, epoch=0)
    assert not (out / CHECKPOINT_FOLDER / PROGRESS_FILE).exists()
    caplog.set_level(logging.INFO)

    job.run_training_job(att_dir, out, quick_config(), download=False, n_draws=20, verbose=0)

    assert "stopped before its first epoch ended" in caplog.text
    assert (out / "metrics.json").is_file()


def test_first_epoch_restart_checks_settings(att_dir, tmp_path):
    from siamese import job

    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"config": quick_config().to_dict()}))

    with pytest.raises(ValueError, match="config.margin: 1.0 -> 0.5"):
        job.run_training_job(att_dir, out, quick_config(margin=0.5), download=False, verbose=0)


def test_other_files_still_rejected(att_dir, tmp_path):
    from siamese import job

    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "notes.txt").write_text("mine")

    with pytest.raises(FileExistsError, match="already contains files"):
        job.run_training_job(att_dir, out, quick_config(), download=False, verbose=0)


def small_model() -> keras.Model:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("internals", ["in memory", "missing"])
def test_save_weights_reloads(tmp_path, monkeypatch, caplog, internals):
    """Both writers give a file that load_weights reads: Keras's internals, and model.save_weights without them."""
    from siamese import checkpoint

    if internals == "missing":
        def no_internals(model):
            raise ImportError("no module named keras.src.saving")

        monkeypatch.setattr(checkpoint, "_weights_bytes", no_internals)
    model = small_model()
    path = tmp_path / "epoch-0001.weights.h5"

    with caplog.at_level(logging.WARNING, logger="siamese.checkpoint"):
        checkpoint._save_weights(model, path)

    copy = small_model()
    copy.load_weights(path)
    assert_same_weights(model, copy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001.weights.h5"]
    assert ("model.save_weights" in caplog.text) == (internals == "missing")
