"""``siamese compare``: which optimizer trains the Siamese network best, under equal conditions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siamese.cli import ERROR_STATUS
from siamese.commands.options import add_training_options, positive_float, positive_int, training_config

#: The optimizers compared when --optimizers is not given.
DEFAULT_OPTIMIZERS = ("rmsprop", "adam", "sgd", "adagrad", "nadam", "adamw")


def register(subparsers) -> None:
    from siamese.config import OPTIMIZERS

    parser = subparsers.add_parser(
        "compare",
        help="compare optimizers over seeds and folds, with significance tests",
        description="Train every combination of optimizer, learning rate, seed and subject fold "
        "with everything else held equal: for one seed and fold, every optimizer starts from the "
        "same weights and sees the same batches. Writes results.csv, summary.csv, roc.csv, "
        "report.md (mean ± sd, 95% confidence intervals, paired tests) and plots into --out. "
        "Finished runs are kept in --out/runs, so rerunning the same command resumes.",
    )
    parser.add_argument(
        "--data", default=None,
        help="folder with one subfolder per person (default: $SIAMESE_ATT_DIR, else data/att_faces)",
    )
    parser.add_argument("--out", required=True, help="folder for the comparison; an existing one with the same settings is resumed")
    parser.add_argument(
        "--optimizers", nargs="+", type=str.lower, choices=OPTIMIZERS, default=list(DEFAULT_OPTIMIZERS),
        metavar="NAME", help=f"optimizers to compare, from {', '.join(OPTIMIZERS)} (default: {' '.join(DEFAULT_OPTIMIZERS)})",
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=3,
        help="repetitions per optimizer and fold; the seeds are S, S+1, … where S is --seed (default: %(default)s)",
    )
    parser.add_argument(
        "--folds", type=positive_int, default=1,
        help="1 for the standard split (train s1-s35, test s36-s40); K from 2 to half the number of "
        "identities (20 for AT&T) for K subject-disjoint folds with a fixed permutation seed "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--learning-rate", type=positive_float, nargs="+", default=None, metavar="RATE",
        help="initial learning rate for every optimizer; several values run a sensitivity sweep "
        "(default: each optimizer's usual rate)",
    )
    parser.add_argument(
        "--jobs", type=positive_int, default=None,
        help="trainings run in parallel processes, each with cores/JOBS TensorFlow threads "
        "(default: 1, which uses every core for one training)",
    )
    add_training_options(parser, single_optimizer=False)
    parser.set_defaults(handler=run, interrupt_note=interrupt_note)


def run(args: argparse.Namespace) -> int:
    from siamese.compare import CompareSettings, RunsFailedError, check_seed_count, run_comparison
    from siamese.compare_report import format_summary
    from siamese.data import resolve_att_dir

    # Checked before the seeds are listed, because a list of 100 million seeds fills gigabytes of memory.
    check_seed_count(args.seeds)
    settings = CompareSettings(
        optimizers=tuple(args.optimizers),
        learning_rates=None if args.learning_rate is None else tuple(args.learning_rate),
        seeds=tuple(range(args.seed, args.seed + args.seeds)),
        folds=args.folds,
        train_config=training_config(args),
    )
    try:
        result = run_comparison(resolve_att_dir(args.data), args.out, settings, jobs=args.jobs, progress=not args.quiet)
    except RunsFailedError as error:
        # Each failure was logged with its traceback as it happened, so a second one adds nothing.
        print(f"siamese compare: error: {error}", file=sys.stderr)
        return ERROR_STATUS

    print()
    print(format_summary(result.summary, settings.is_sweep))
    print(f"\nWrote report.md, results.csv, summary.csv, roc.csv and plots to {result.out}")
    return 0


def interrupt_note(args: argparse.Namespace) -> str:
    """Return how many finished runs an interrupted comparison kept in --out/runs and how to resume it."""
    runs = Path(args.out).expanduser() / "runs"
    finished = len(list(runs.glob("*.json"))) if runs.is_dir() else 0
    if finished == 0:
        return "No run had finished, so nothing is kept; the same command starts the comparison from its first run."
    noun = "run is" if finished == 1 else "runs are"
    return (
        f"{finished} finished {noun} kept in {Path(args.out) / 'runs'}. Run the same command again "
        f"to train only the missing ones and write the report."
    )
