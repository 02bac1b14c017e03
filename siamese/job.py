"""The main job: train on the AT&T training identities, evaluate on unseen ones, save everything."""

from __future__ import annotations

import csv
import io
import logging
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamese.checkpoint import CHECKPOINT_FOLDER, TrainingCheckpoint, check_run_settings
from siamese.data import FaceDataset, load_image_folder
from siamese.download import ensure_att_faces
from siamese.evaluation import EpochEvaluation, Evaluation, check_test_identities, evaluate
from siamese.files import atomic_write, prepare_output_dir, write_json, write_text
from siamese.run_folder import check_training_folders
from siamese.splits import STANDARD_TEST, STANDARD_TRAIN, standard_split, subject_folds
from siamese.training import TrainConfig, TrainResult, train

logger = logging.getLogger(__name__)

SUMMARY_KEYS = (
    "one_shot_accuracy", "n_way", "roc_auc", "eer", "verification_accuracy", "threshold", "identify_threshold", "train_seconds",
)


@dataclass
class JobResult:
    """Outputs of :func:`run_training_job`: the trained run, its evaluation and the output folder."""

    out_dir: Path
    training: TrainResult
    evaluation: Evaluation
    metrics: dict
    train_set: FaceDataset
    test_set: FaceDataset


def split_identities(dataset: FaceDataset, seed: int) -> tuple[list[str], list[str], str]:
    """Return ``(train_names, test_names, description)``.

    The AT&T layout gets the standard split (s1–s35 against s36–s40). Any other dataset holds
    out one fifth of its identities, chosen by a permutation seeded with ``seed``.
    """
    standard_names = STANDARD_TRAIN + STANDARD_TEST
    missing = [name for name in standard_names if name not in dataset.names]
    if not missing:
        extra = [name for name in dataset.names if name not in standard_names]
        if extra:
            logger.warning(
                "Leaving out %d folder(s) beyond s1-s40 (%s), because the standard split trains on "
                "s1-s35 and tests on s36-s40 only.",
                len(extra), ", ".join(extra[:5]) + (" …" if len(extra) > 5 else ""),
            )
        train_names, test_names = standard_split(dataset.names)
        return train_names, test_names, "standard (train s1-s35, test s36-s40)"
    if len(missing) < len(standard_names):
        logger.warning(
            "The folder lacks %s of the AT&T subjects s1-s40, so the standard split cannot be used "
            "and a seeded fifth of the identities is held out instead. The results are not "
            "comparable with those of the standard split.",
            ", ".join(missing[:5]) + (" …" if len(missing) > 5 else ""),
        )
    # One-shot identification and verification need at least two test identities, and the
    # hold-out of one fifth gives two from 10 identities on.
    if len(dataset.names) < 10:
        raise ValueError(
            f"Training on a folder other than the AT&T faces needs at least 10 identities, so "
            f"that the held-out fifth has 2 people to test on; the dataset has "
            f"{len(dataset.names)}. Add more people's folders."
        )
    train_names, test_names = subject_folds(dataset.names, 5, np.random.default_rng(seed))[0]
    return train_names, test_names, f"seeded hold-out of {len(test_names)} identities (seed {seed})"


def _check_training_set(config: TrainConfig, labels: np.ndarray, resumed_dir: Path | None) -> None:
    """Run :meth:`TrainConfig.check_training_set`, naming --overwrite when it rejects a run to resume.

    Runs started before that check existed may store batch sizes that the data cannot fill.
    Such a run can only start over, because other settings would not match its checkpoint.
    """
    try:
        config.check_training_set(labels)
    except ValueError as error:
        if resumed_dir is None:
            raise
        raise ValueError(
            f"{resumed_dir} contains an unfinished run that these settings cannot resume: {error} "
            f"Pass --overwrite with the smaller value to start that run over, or choose another --out folder."
        ) from error


def run_training_job(
    data_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    overwrite: bool = False,
    download: bool = True,
    n_draws: int = 200,
    verbose: int | str = "auto",
) -> JobResult:
    """Train, evaluate and write a complete run folder.

    Writes into ``out_dir``: ``model.keras`` (the two-input Siamese model), ``config.json``,
    ``history.csv``, ``metrics.json`` and the plots ``training_curves.png``, ``roc.png``,
    ``distance_histogram.png`` and ``test_pairs.png``. Every file is written atomically.

    During training ``out_dir/checkpoint`` contains the state after the last finished epoch
    (see :class:`~siamese.checkpoint.TrainingCheckpoint`); it is deleted once every output
    is written. When ``out_dir`` contains such a checkpoint, the run resumes from it. When
    it contains only the ``config.json`` of a run stopped during its first epoch, that run
    starts over.

    Args:
        data_dir: folder with one subfolder per identity; the AT&T faces are downloaded into
            it when it is missing or empty and ``download`` is true.
        out_dir: output folder. It must be new or empty, or contain an unfinished run with
            the same settings, which is resumed. With ``overwrite`` any earlier run in it,
            finished or not, is replaced and training starts over.
        config: training settings.
        n_draws: one-shot gallery draws averaged in the final evaluation.
        verbose: Keras progress output.

    Raises:
        ValueError: ``out_dir`` contains an unfinished run with other settings. The message
            lists each difference.
        FileExistsError: ``out_dir`` contains a finished run or other files and
            ``overwrite`` is false.
    """
    out_dir = Path(out_dir).expanduser()
    checkpoint = TrainingCheckpoint(out_dir / CHECKPOINT_FOLDER)
    # Check before a download, which takes a while.
    resuming = check_training_folders(data_dir, out_dir, overwrite=overwrite, download=download)

    data_dir = ensure_att_faces(data_dir, download=download)

    dataset = load_image_folder(data_dir, image_size=config.image_size)
    train_names, test_names, split = split_identities(dataset, config.seed)
    check_test_identities(dataset, test_names)
    train_set, test_set = dataset.subset(train_names), dataset.subset(test_names)
    # Checked before prepare_output_dir, so a batch that the data cannot fill writes no config.json.
    _check_training_set(config, train_set.labels, out_dir if resuming else None)
    if not resuming:
        # Created only now, so that bad data leaves no empty run folder behind.
        out_dir = prepare_output_dir(out_dir, overwrite=overwrite)
        # A checkpoint of the run that --overwrite replaces must not be resumed later.
        checkpoint.delete()
    logger.info(
        "Split: %s; %d training images of %d identities, %d test images of %d identities",
        split, len(train_set), len(train_names), len(test_set), len(test_names),
    )

    run_info = {
        "config": config.to_dict(),
        "data_dir": str(Path(data_dir)),
        "split": split,
        "train_identities": train_names,
        "test_identities": test_names,
        "python": platform.python_version(),
    }
    if resuming:
        check_run_settings(out_dir / "config.json", run_info)
        if checkpoint.exists():
            logger.info("Resuming the unfinished run in %s", out_dir)
        else:
            logger.info("Starting over the run in %s, which stopped before its first epoch ended", out_dir)
    else:
        write_json(out_dir / "config.json", run_info)

    training = train(
        train_set,
        config,
        callbacks=[EpochEvaluation(test_set, seed=config.seed)],
        verbose=verbose,
        checkpoint=checkpoint,
    )
    atomic_write(out_dir / "model.keras", lambda temporary: training.model.save(temporary))

    evaluation = evaluate(training.embedding_network, test_set, train_set, np.random.default_rng(config.seed), n_draws)
    metrics = {**evaluation.metrics, "train_seconds": round(training.train_seconds, 2), "split": split}
    write_json(out_dir / "metrics.json", metrics)
    write_text(out_dir / "history.csv", history_csv(training.history))
    save_plots(out_dir, training, evaluation, test_set, np.random.default_rng(config.seed))
    checkpoint.delete()
    return JobResult(out_dir, training, evaluation, metrics, train_set, test_set)


def history_csv(history: dict[str, list[float]]) -> str:
    """Format per-epoch history as CSV with an ``epoch`` column counted from 1."""
    keys = list(history)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for epoch in range(len(history[keys[0]])):
        writer.writerow([epoch + 1, *(f"{history[key][epoch]:.6g}" for key in keys)])
    return buffer.getvalue()


def save_plots(out_dir: Path, training: TrainResult, evaluation: Evaluation, test_set: FaceDataset, rng) -> None:
    from siamese import plots

    metrics = evaluation.metrics
    plots.save_figure(plots.plot_history(training.history), out_dir / "training_curves.png")
    plots.save_figure(plots.plot_roc(*evaluation.roc, metrics["roc_auc"], metrics["eer"]), out_dir / "roc.png")
    plots.save_figure(
        plots.plot_distance_histogram(
            evaluation.pair_labels, evaluation.distances, metrics["threshold"], metrics.get("identify_threshold")
        ),
        out_dir / "distance_histogram.png",
    )
    plots.save_figure(
        plots.plot_pair_grid(
            test_set.images, evaluation.index_pairs, evaluation.pair_labels, evaluation.distances,
            metrics["threshold"], rng,
        ),
        out_dir / "test_pairs.png",
    )


def summary_table(metrics: dict) -> str:
    """Format the headline metrics as a two-column text table."""
    rows = [(key, metrics[key]) for key in SUMMARY_KEYS if key in metrics]
    width = max(len(key) for key, _ in rows)
    lines = [f"{'metric'.ljust(width)}  value", f"{'-' * width}  ------"]
    for key, value in rows:
        formatted = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key.ljust(width)}  {formatted}")
    return "\n".join(lines)
