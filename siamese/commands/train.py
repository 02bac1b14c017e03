"""``siamese train``: the main job."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from siamese.commands.options import add_training_options, training_config

if TYPE_CHECKING:
    from siamese.config import TrainConfig

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train on the AT&T faces and evaluate on unseen identities",
        description="Train the Siamese network on s1-s35 of the AT&T faces with the contrastive "
        "loss, evaluate 5-way one-shot identification and verification on the unseen s36-s40, "
        "and write the model, metrics and plots into --out. Other folder-per-person datasets "
        "hold out a seeded fifth of their identities instead. The training state is saved in "
        "--out/checkpoint after every epoch, so rerunning an interrupted command with the same "
        "--out and settings resumes it after its last finished epoch.",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="folder with one subfolder per person; the AT&T faces are downloaded into it when "
        "it is missing (default: $SIAMESE_ATT_DIR, else data/att_faces)",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="new or empty folder for the run's outputs, or the folder of an interrupted run with "
        "the same settings, which is resumed",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in --out, finished or interrupted, and train from the start",
    )
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    add_training_options(parser)
    parser.set_defaults(handler=run, interrupt_note=interrupt_note)


def run(args: argparse.Namespace) -> int:
    from siamese.data import att_dir_and_source
    from siamese.run_folder import lock_output_folder

    config = training_config(args)
    data_dir, source = att_dir_and_source(args.data)
    logger.info("AT&T faces: %s (from %s)", data_dir.absolute(), source)

    # The folder checks run before the lock, so that a rejected command creates nothing, and
    # again under it, in case another command wrote into --out meanwhile.
    _check_folders(args, data_dir)
    # Two commands training into one --out would overwrite each other's checkpoints.
    with lock_output_folder(args.out):
        _check_folders(args, data_dir)
        return _train(args, config, data_dir)


def _check_folders(args: argparse.Namespace, data_dir: Path) -> None:
    """Raise the errors that the listings of --out and the data folder decide.

    These checks take milliseconds and the imports in :func:`_train` take seconds.
    """
    from siamese.run_folder import check_training_folders

    check_training_folders(data_dir, args.out, overwrite=args.overwrite, download=not args.no_download)


def _train(args: argparse.Namespace, config: TrainConfig, data_dir: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")

    from siamese.job import run_training_job, summary_table

    result = run_training_job(
        data_dir,
        args.out,
        config,
        overwrite=args.overwrite,
        download=not args.no_download,
        # One line per epoch with --quiet, or when stdout is a file, where a live bar only adds noise.
        verbose=2 if args.quiet or not sys.stdout.isatty() else "auto",
    )
    print()
    print(summary_table(result.metrics))
    print(f"\nWrote model.keras, metrics.json, history.csv, config.json and plots to {result.out_dir}")
    return 0


def interrupt_note(args: argparse.Namespace) -> str:
    """Return which finished epochs an interrupted run kept in --out and how to resume it."""
    from siamese.run_folder import interrupted_training_note

    return interrupted_training_note(args.out, overwrite=args.overwrite)
