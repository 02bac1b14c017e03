"""Measure one-shot identification and verification accuracy of every method on AT&T.

Usage::

    python -m benchmarks.accuracy --out DIR [--methods ...] [--protocols standard cv]
                                  [--quick] [--seed N] [--data ATT_DIR]

Writes ``DIR/results.json`` (a list with one object per method and protocol) and
``DIR/results.md``. Finished folds are kept in ``DIR/progress.json``, so an interrupted run
resumes where it stopped when started again with the same settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from benchmarks.baselines import BASELINES, DlibResNet, Selection
from benchmarks.protocols import FOLD_SEED, N_FOLDS, PROTOCOLS, protocol_splits
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
from siamese.commands.options import MAX_IMAGE_SIDE, seed_value
from siamese.data import DEFAULT_IMAGE_SIZE, FaceDataset, dataset_fingerprint, load_att_faces

logger = logging.getLogger("benchmarks.accuracy")

METHODS = (*BASELINES, "siamese", "siamese_pairwise")

#: One-shot gallery draws averaged per fold.
FULL_DRAWS, QUICK_DRAWS = 1000, 50

#: Inner folds and draws with which baselines choose their setting on the training
#: identities; ``--quick`` uses fewer of both.
FULL_SELECTION, QUICK_SELECTION = Selection(n_folds=5, n_draws=100), Selection(n_folds=2, n_draws=10)


def train_config(quick: bool, seed: int):
    """Return the Siamese training settings: ``TrainConfig()`` defaults, or a tiny config for ``--quick``."""
    from siamese.training import TrainConfig

    if quick:
        return TrainConfig(epochs=1, steps_per_epoch=2, widths=(8, 16), embedding_dim=16, seed=seed)
    return TrainConfig(seed=seed)


def summarize(method: str, protocol: str, folds: list[dict], header: dict) -> dict:
    """Combine per-fold records into one result object with means and standard deviations.

    Standard deviations are the sample standard deviation (``ddof=1``) over folds, and
    ``None`` for a protocol with one fold.
    """

    def mean(key):
        return float(np.mean([fold[key] for fold in folds]))

    def std(key):
        if len(folds) < 2:
            return None
        return float(np.std([fold[key] for fold in folds], ddof=1))

    return {
        "method": method,
        "protocol": protocol,
        "n_folds": len(folds),
        "n_way": folds[0]["n_way"],
        "one_shot_accuracy_mean": mean("one_shot_accuracy"),
        "one_shot_accuracy_std": std("one_shot_accuracy"),
        "eer_mean": mean("eer"),
        "eer_std": std("eer"),
        "roc_auc_mean": mean("roc_auc"),
        "roc_auc_std": std("roc_auc"),
        "verification_accuracy_mean": mean("verification_accuracy"),
        "train_seconds_per_fold": mean("train_seconds"),
        "folds": folds,
        "run": header,
    }


def score_baseline(
    method: str,
    train_set: FaceDataset,
    test_set: FaceDataset,
    rng: np.random.Generator,
    selection_rng: np.random.Generator,
    n_draws: int,
    selection: Selection,
) -> dict:
    """Fit one baseline on ``train_set`` and score its test embeddings like :func:`siamese.evaluation.evaluate`.

    The verification threshold is the one that maximises balanced accuracy on all pairs of
    training images, as ``evaluate`` chooses it for the network.
    """
    from siamese.evaluation import choose_threshold, evaluate_embeddings
    from siamese.pairs import all_pairs

    baseline = BASELINES[method]()
    started = time.perf_counter()
    baseline.fit(train_set, selection_rng, selection)
    train_embeddings = baseline.embed(train_set.images)
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    test_embeddings = baseline.embed(test_set.images)
    embed_seconds = time.perf_counter() - started

    index_pairs, pair_labels = all_pairs(train_set.labels)
    train_distances = np.linalg.norm(
        train_embeddings[index_pairs[:, 0]] - train_embeddings[index_pairs[:, 1]], axis=1
    )
    threshold = choose_threshold(pair_labels, train_distances)
    evaluation = evaluate_embeddings(test_embeddings, test_set.labels, rng, threshold, n_draws)
    return {
        **evaluation.metrics,
        "train_seconds": train_seconds,
        "embed_seconds_per_image": embed_seconds / len(test_set),
        "settings": baseline.settings,
    }


def score_siamese(
    method: str,
    train_set: FaceDataset,
    test_set: FaceDataset,
    rng: np.random.Generator,
    config,
    n_draws: int,
    budget_seconds: float | None,
) -> dict:
    """Train the network in-batch (``siamese``) or on pairs for ``budget_seconds`` (``siamese_pairwise``) and evaluate it."""
    from benchmarks.pairwise import train_pairwise
    from siamese.evaluation import evaluate
    from siamese.training import train

    extra = {}
    if method == "siamese":
        result = train(train_set, config, verbose=0)
        steps = config.epochs * config.steps_per_epoch
    else:
        result, steps = train_pairwise(train_set, config, budget_seconds)
        extra["time_budget_seconds"] = budget_seconds

    started = time.perf_counter()
    evaluation = evaluate(result.embedding_network, test_set, train_set, rng, n_draws)
    evaluate_seconds = time.perf_counter() - started
    return {
        **evaluation.metrics,
        "train_seconds": result.train_seconds,
        "train_steps": steps,
        "evaluate_seconds": evaluate_seconds,
        "settings": config.to_dict(),
        **extra,
    }


def run(args: argparse.Namespace) -> list[dict]:
    """Run every requested method on every requested protocol; returns the result objects."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = data_folder(args.data)
    header = run_header("benchmarks.accuracy", args.argv, data=data)
    config = train_config(args.quick, args.seed)
    n_draws, selection = (QUICK_DRAWS, QUICK_SELECTION) if args.quick else (FULL_DRAWS, FULL_SELECTION)

    methods = list(args.methods)
    skipped = {}
    if "dlib" in methods and not DlibResNet.is_available():
        logger.warning("Skipping dlib: the face_recognition package is not installed (pip install '.[dlib]').")
        skipped["dlib"] = "face_recognition is not installed"
        methods.remove("dlib")
    if not methods:
        raise ValueError("No method left to run; choose others with --methods.")

    datasets: dict[tuple[int, int], FaceDataset] = {DEFAULT_IMAGE_SIZE: load_att_faces(data, image_size=DEFAULT_IMAGE_SIZE)}
    signature = {
        # The content, not the path, so a moved checkout resumes and changed images do not.
        "data": dataset_fingerprint(datasets[DEFAULT_IMAGE_SIZE]),
        "quick": args.quick,
        "seed": args.seed,
        "n_draws": n_draws,
        "selection": dataclasses.asdict(selection),
        "image_size": list(args.image_size),
        "train_config": json.loads(json.dumps(config.to_dict())),
        "fold_seed": FOLD_SEED,
    }
    progress = Progress(out / "progress.json", signature)

    def dataset_for(method: str) -> FaceDataset:
        if method in ("siamese", "siamese_pairwise"):
            size = tuple(config.image_size)
        else:
            size = BASELINES[method].image_size or tuple(args.image_size)
        if size not in datasets:
            datasets[size] = load_att_faces(data, image_size=size)
        return datasets[size]

    results = []
    for protocol in args.protocols:
        # Seeds derive from the protocol's fixed position, so `--protocols cv` alone draws
        # the same galleries as a run of both.
        protocol_index = PROTOCOLS.index(protocol)
        names = dataset_for(methods[0]).names
        splits = protocol_splits(names, protocol)
        for method in tqdm(methods, desc=f"{protocol} methods", unit="method"):
            dataset = dataset_for(method)
            folds = []
            for fold, (train_names, test_names) in enumerate(tqdm(splits, desc=method, unit="fold", leave=False)):
                record = progress.get(protocol, method, fold)
                if record is None:
                    record = run_fold(
                        method, protocol, protocol_index, fold, dataset, train_names, test_names,
                        args.seed, config, n_draws, selection, progress,
                    )
                    progress.put(protocol, method, fold, record)
                logger.info(
                    "%s %s fold %d: one-shot %.4f, EER %.4f, ROC AUC %.4f, training %.1f s",
                    protocol, method, fold, record["one_shot_accuracy"], record["eer"], record["roc_auc"],
                    record["train_seconds"],
                )
                folds.append(record)
            results.append(summarize(method, protocol, folds, header))

            write_results(out, results, results_markdown(results, header, skipped))
    return results


def run_fold(method, protocol, protocol_index, fold, dataset, train_names, test_names, seed, config,
             n_draws, selection, progress) -> dict:
    """Train (or fit) ``method`` on one fold's training identities and score its test identities."""
    train_set = dataset.subset(train_names)
    test_set = dataset.subset(test_names)

    # The same gallery draws for every method on this fold, so all are scored identically.
    rng = np.random.default_rng([seed, protocol_index, fold])
    if method in BASELINES:
        selection_rng = np.random.default_rng([seed, protocol_index, fold, 1])
        # One BLAS thread: the matrices are small (hundreds of images), and multi-threaded
        # OpenBLAS spins when the cores are busy. On a loaded 2-core machine one PCA fit took
        # 9 s of wall time with two threads and 0.5 s with one.
        with threadpool_limits(limits=1, user_api="blas"):
            scores = score_baseline(method, train_set, test_set, rng, selection_rng, n_draws, selection)
    else:
        budget = None
        if method == "siamese_pairwise":
            reference = progress.get(protocol, "siamese", fold)
            budget = reference["train_seconds"]
        scores = score_siamese(method, train_set, test_set, rng, config, n_draws, budget)
    return {"fold": fold, "test_identities": list(test_names), **scores}


def describe_settings(result: dict) -> str:
    """Summarise the chosen baseline setting of each fold, e.g. ``variance_kept=0.9, whiten=False``."""
    if result["method"] in ("siamese", "siamese_pairwise"):
        steps = [fold["train_steps"] for fold in result["folds"]]
        if min(steps) == max(steps):
            text = f"{steps[0]} step" if steps[0] == 1 else f"{steps[0]} steps"
        else:
            text = f"{min(steps)}–{max(steps)} steps"
        if result["method"] == "siamese_pairwise":
            text += " at equal wall time"
        return text
    chosen = []
    for fold in result["folds"]:
        settings = {key: value for key, value in fold["settings"].items() if key != "inner_fold_scores"}
        text = ", ".join(f"{key}={value}" for key, value in settings.items())
        if text not in chosen:
            chosen.append(text)
    return "; ".join(chosen)


def results_markdown(results: list[dict], header: dict, skipped: dict[str, str]) -> str:
    """Format the results as one Markdown table per protocol, with the run's date, machine and command."""
    machine = header["machine"]
    lines = [
        "# Accuracy benchmark",
        "",
        f"- date: {header['date']}",
        f"- machine: {machine['cpu_count']}-core CPU, {machine['cpu_model']}; Python {machine['python']}",
        f"- command: `{header['command']}`",
        f"- data: `{header['data']}`",
        "",
    ]
    for protocol in PROTOCOLS:
        rows = []
        for result in results:
            if result["protocol"] != protocol:
                continue
            accuracy = format_number(result["one_shot_accuracy_mean"])
            if result["one_shot_accuracy_std"] is not None:
                accuracy += f" ± {format_number(result['one_shot_accuracy_std'])}"
            rows.append(
                [
                    result["method"],
                    accuracy,
                    format_number(result["eer_mean"]),
                    format_number(result["roc_auc_mean"]),
                    format_number(result["verification_accuracy_mean"]),
                    format_number(result["train_seconds_per_fold"], 1),
                    describe_settings(result),
                ]
            )
        if not rows:
            continue
        if protocol == "standard":
            title = "Standard split: train s1–s35, test 5-way one-shot on s36–s40"
        else:
            title = f"Cross-validation: {N_FOLDS} folds of 8 subjects, 8-way one-shot, mean ± std over folds"
        lines += [f"## {title}", ""]
        headers = ["method", "one-shot accuracy", "EER", "ROC AUC", "verification accuracy", "train s/fold", "setting"]
        lines.append(markdown_table(headers, rows))
    for method, reason in skipped.items():
        lines.append(f"- {method} skipped: {reason}.")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy",
        description="Measure one-shot accuracy, EER and ROC AUC of baselines and the Siamese network on AT&T.",
    )
    parser.add_argument("--out", required=True, help="folder for results.json, results.md and progress.json")
    parser.add_argument("--data", default=None, help="AT&T folder (default: $SIAMESE_ATT_DIR, then data/att_faces)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, metavar="METHOD",
                        help=f"methods to run (default: all): {', '.join(METHODS)}")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS,
                        help="standard: s1–s35 against s36–s40; cv: 5 subject-disjoint folds (default: both)")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny training config and {QUICK_DRAWS} gallery draws instead of {FULL_DRAWS}, for CI")
    parser.add_argument("--seed", type=seed_value, default=0,
                        help="seeds training, setting selection and gallery draws; the folds stay fixed (default: 0)")
    parser.add_argument("--image-size", nargs=2, type=int, default=list(DEFAULT_IMAGE_SIZE), metavar=("HEIGHT", "WIDTH"),
                        help="image size in pixels for the pixel-based baselines (default: 56 46, the network's input)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    args = parser.parse_args(argv)
    args.argv = argv
    check_out_folder(parser, args.out)

    if "siamese_pairwise" in args.methods and "siamese" not in args.methods:
        parser.error("siamese_pairwise trains for as long as siamese took on the same fold; add siamese to --methods.")
    if min(args.image_size) < 8:
        parser.error(f"--image-size must be at least 8 8 pixels; received {args.image_size[0]} {args.image_size[1]}.")
    # The same cap as `siamese train --image-size`: the pixel baselines hold every image flattened.
    if max(args.image_size) > MAX_IMAGE_SIDE:
        parser.error(
            f"--image-size must be at most {MAX_IMAGE_SIDE} pixels a side (the AT&T images are 112x92); "
            f"received {args.image_size[0]} {args.image_size[1]}."
        )
    # Keep the canonical order, so siamese runs before siamese_pairwise needs its time.
    args.methods = [method for method in METHODS if method in args.methods]
    return args


def main(argv: list[str] | None = None) -> int:
    return benchmark_main("benchmarks.accuracy", parse_args, run, logger, argv)


if __name__ == "__main__":
    sys.exit(main())
