"""Error analysis of the network's one-shot identification, per test subject and per image.

``python -m benchmarks.errors --out DIR`` trains the network with ``TrainConfig()`` on each
requested cross-validation fold (or the standard split), exactly as ``benchmarks.accuracy``
does, and writes for every test subject:

- its one-shot error rate as a query, computed exactly rather than by sampling galleries
  (``siamese.error_analysis.subject_errors``);
- the chance that each of its images is identified with each other image of it as the
  gallery image (a 10 × 10 matrix on AT&T), which shows whether a few images or whole
  groups of images fail;
- the mean distance between its own images and the median distance to other subjects' images.

Outputs in ``DIR``: ``results.json``, ``results.md``, a heat map per fold of the subject
with the most errors (``fold{N}_worst.png``) and the trained models (``fold{N}.keras``).
Finished folds are kept in ``DIR/progress.json`` and skipped when the run is started again
with the same settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from benchmarks.accuracy import train_config
from benchmarks.protocols import N_FOLDS, protocol_splits
from benchmarks.report import (
    Progress,
    benchmark_main,
    check_out_folder,
    data_folder,
    format_number,
    markdown_table,
    run_header,
    write_results,
)
from siamese.commands.options import positive_int, seed_value
from siamese.config import TrainConfig
from siamese.data import FaceDataset, dataset_fingerprint, load_att_faces

logger = logging.getLogger("benchmarks.errors")

#: Subjects whose error rate reaches this value get their matrix printed in ``results.md``.
REPORT_ERROR = 0.05


def analyse_fold(dataset: FaceDataset, train_names, test_names, config, model_path: Path) -> dict:
    """Train on ``train_names``, save the model to ``model_path`` and analyse ``test_names``."""
    from siamese.error_analysis import subject_errors
    from siamese.evaluation import distance_matrix, embed, expected_one_shot_accuracy
    from siamese.training import train

    test_set = dataset.subset(test_names)
    result = train(dataset.subset(train_names), config, verbose=0)
    result.embedding_network.save(model_path)

    embeddings = embed(result.embedding_network, test_set.images)
    distances = distance_matrix(embeddings, embeddings)
    return {
        "test_subjects": list(test_names),
        "one_shot_accuracy": expected_one_shot_accuracy(distances, test_set.labels),
        "train_seconds": result.train_seconds,
        "model": model_path.name,
        "subjects": subject_errors(distances, test_set),
    }


def plot_worst(record: dict, dataset: FaceDataset, path: Path) -> None:
    """Save the worst subject's images above the heat map of its success matrix."""
    from siamese import plots

    worst = record["subjects"][0]
    images = dataset.images[dataset.labels == dataset.names.index(worst["subject"])]
    plots.save_figure(plots.plot_success_matrix(images, worst), path, dpi=110)


def results_markdown(records: list[dict], header: dict) -> str:
    """Format the per-subject tables, and the matrices of subjects with many errors."""
    lines = [
        "# Where the one-shot errors come from",
        "",
        f"- date: {header['date']}",
        f"- command: `{header['command']}`",
        f"- data: `{header['data']}`",
        f"- matrices are shown for subjects whose error as a query is at least {REPORT_ERROR}",
        "",
    ]
    for record in records:
        lines += [
            f"## {record['protocol']} fold {record['fold']}",
            "",
            f"Exact one-shot accuracy {record['one_shot_accuracy']:.4f}, training {record['train_seconds']:.0f} s.",
            "",
        ]
        rows = [
            [subject["subject"], format_number(subject["error"], 3), format_number(subject["own_distance"], 3),
             format_number(subject["other_distance"], 3)]
            for subject in record["subjects"]
        ]
        lines.append(markdown_table(["subject", "error as query", "mean own distance", "median distance to others"], rows))
        for subject in record["subjects"]:
            if subject["error"] < REPORT_ERROR:
                continue
            lines += [f"{subject['subject']}: chance of identifying the query (column) from the gallery image (row).", ""]
            matrix_rows = [
                [subject["files"][row], *("–" if value is None else f"{value:.2f}" for value in values)]
                for row, values in enumerate(subject["success"])
            ]
            lines.append(markdown_table(["gallery \\ query", *subject["files"]], matrix_rows))
    return "\n".join(lines) + "\n"


def run_config(args: argparse.Namespace) -> TrainConfig:
    """Return the training settings: ``TrainConfig()`` or ``--quick``'s, with ``--epochs``,
    ``--steps-per-epoch`` and ``--widths`` applied when given."""
    config = train_config(args.quick, args.seed)
    widths = None if args.widths is None else tuple(args.widths)
    changes = {"epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "widths": widths}
    return dataclasses.replace(config, **{key: value for key, value in changes.items() if value is not None})


def run(args: argparse.Namespace) -> list[dict]:
    """Analyse every requested fold and return the fold records."""
    out = Path(args.out)
    config = run_config(args)  # before the folder exists, so invalid settings leave none behind
    data = data_folder(args.data)
    dataset = load_att_faces(data, image_size=tuple(config.image_size))
    out.mkdir(parents=True, exist_ok=True)
    header = run_header("benchmarks.errors", args.argv, data=data)

    splits = protocol_splits(dataset.names, args.protocol)
    signature = {
        # The content, not the path, so a moved checkout resumes and changed images do not.
        "data": dataset_fingerprint(dataset),
        "quick": args.quick,
        "seed": args.seed,
        "train_config": json.loads(json.dumps(config.to_dict())),
    }
    progress = Progress(out / "progress.json", signature)

    records = []
    for fold in args.folds:
        record = progress.get(args.protocol, "siamese", fold)
        if record is None:
            logger.info("Training on %s fold %d", args.protocol, fold)
            train_names, test_names = splits[fold]
            record = {"protocol": args.protocol, "fold": fold,
                      **analyse_fold(dataset, train_names, test_names, config, out / f"fold{fold}.keras")}
            plot_worst(record, dataset, out / f"fold{fold}_worst.png")
            progress.put(args.protocol, "siamese", fold, record)

        worst = record["subjects"][0]
        logger.info(
            "%s fold %d: one-shot %.4f; most errors: %s (%.3f)",
            args.protocol, fold, record["one_shot_accuracy"], worst["subject"], worst["error"],
        )
        records.append(record)
        write_results(out, {"header": header, "folds": records}, results_markdown(records, header))
    return records


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.errors",
        description="Train the network on cross-validation folds and show which test subjects and images it misidentifies.",
    )
    parser.add_argument("--out", required=True, help="folder for results.json, results.md, heat maps and models")
    parser.add_argument("--data", default=None, help="AT&T folder (default: $SIAMESE_ATT_DIR, then data/att_faces)")
    parser.add_argument("--protocol", default="cv", choices=("cv", "standard"),
                        help="cv: the five folds of benchmarks.accuracy; standard: s1–s35 against s36–s40 (default: cv)")
    parser.add_argument("--folds", nargs="+", type=int, default=None, metavar="FOLD",
                        help=f"CV folds to analyse, 0–{N_FOLDS - 1} (default: all); not with --protocol standard")
    parser.add_argument("--seed", type=seed_value, default=0, help="training seed (default: 0)")
    parser.add_argument("--quick", action="store_true", help="a tiny training config, for CI")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="training epochs (default: TrainConfig's, or --quick's). 1 with --steps-per-epoch 2 "
                        "shows what the projection does for a barely trained network")
    parser.add_argument("--steps-per-epoch", type=positive_int, default=None,
                        help="batches per epoch (default: TrainConfig's, or --quick's)")
    parser.add_argument("--widths", type=positive_int, nargs="+", default=None, metavar="FILTERS",
                        help="filters of each convolution block, one number per block "
                        f"(default: TrainConfig's, {' '.join(map(str, TrainConfig().widths))})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    args = parser.parse_args(argv)
    args.argv = argv

    if args.protocol == "standard" and args.folds is not None:
        parser.error("--folds applies to --protocol cv only; the standard split has one fold. Drop --folds.")
    if args.folds is None:
        args.folds = [0] if args.protocol == "standard" else list(range(N_FOLDS))
    wrong = [fold for fold in args.folds if not 0 <= fold < N_FOLDS]
    if wrong:
        parser.error(f"--folds takes fold numbers from 0 to {N_FOLDS - 1}; received {' '.join(map(str, wrong))}.")
    check_out_folder(parser, args.out)
    return args


def main(argv: list[str] | None = None) -> int:
    return benchmark_main("benchmarks.errors", parse_args, run, logger, argv)


if __name__ == "__main__":
    sys.exit(main())
