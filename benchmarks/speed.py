"""Measure training, embedding, identification and gallery-search speed on the CPU.

Usage::

    python -m benchmarks.speed --out DIR [--model PATH] [--quick] [--seed N]
                               [--sections training embedding identify gallery]

Writes ``DIR/results.json`` (one object per section) and ``DIR/results.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from benchmarks.report import (
    benchmark_main,
    check_out_folder,
    data_folder,
    format_number,
    markdown_table,
    run_header,
    write_results,
)
from siamese.commands.options import seed_value
from siamese.data import load_att_faces

logger = logging.getLogger("benchmarks.speed")

SECTIONS = ("training", "embedding", "identify", "gallery")

#: One-shot accuracy on the standard split (5-way, s36–s40) that "time to target" measures.
TARGET_ACCURACY = 0.97

GALLERY_SIZES = (1_000, 10_000, 100_000)
PHOTO_ENV_VAR = "SIAMESE_SAMPLE_PHOTOS"
GROUP_PHOTO = "four_faces_group.jpg"


@contextlib.contextmanager
def gallery_logs_quiet():
    """Raise the ``siamese.gallery`` log level to WARNING inside the block.

    ``Gallery.add`` logs one line per person, which would bury the benchmark's own log.
    """
    gallery_logger = logging.getLogger("siamese.gallery")
    level = gallery_logger.level
    gallery_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        gallery_logger.setLevel(level)


def percentiles_ms(seconds: list[float]) -> dict:
    """Return the median, 95th percentile and maximum of ``seconds``, in milliseconds."""
    values = np.asarray(seconds) * 1000.0
    return {
        "median_ms": float(np.median(values)),
        "p95_ms": float(np.percentile(values, 95)),
        "max_ms": float(np.max(values)),
    }


def measure_training(dataset, config, quick: bool, seed: int) -> tuple[dict, object]:
    """Train on s1–s35 and time it; returns the section's results and the trained Siamese model.

    Training stops at the first epoch whose one-shot accuracy on s36–s40 reaches
    ``TARGET_ACCURACY``. The step-based learning-rate schedule does not depend on when
    training stops, so the time to that epoch equals the time in a full run.
    """
    import keras

    from benchmarks.timing import TargetTimer, ThroughputMeter
    from siamese.splits import standard_split
    from siamese.training import train

    train_names, test_names = standard_split(dataset.names)
    train_set, test_set = dataset.subset(train_names), dataset.subset(test_names)

    meter = ThroughputMeter()
    timer = TargetTimer(test_set, TARGET_ACCURACY, seed=seed, n_draws=50 if quick else 200)
    callbacks = [meter]
    if config.use_ema:
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(timer)

    result = train(train_set, config, callbacks=callbacks, verbose=0)

    # train() rejects a batch of more identities than the data has, so every step is this size.
    images_per_step = config.identities_per_batch * config.images_per_identity
    steps = len(meter.step_seconds)
    section = {
        "config": config.to_dict(),
        "images_per_step": images_per_step,
        "steps": steps,
        "fit_seconds": result.train_seconds,
        "image_passes_per_second": meter.images_per_second(images_per_step),
        "image_passes_per_second_with_overhead": images_per_step * steps / result.train_seconds,
        "target_one_shot_accuracy": TARGET_ACCURACY,
        "target_reached_epoch": timer.reached_epoch,
        "target_reached_seconds": timer.reached_seconds,
        "epochs_run": len(timer.accuracies),
        "epoch_one_shot_accuracy": timer.accuracies,
        "epoch_training_seconds": timer.epoch_seconds,
    }
    if timer.reached_epoch is None:
        logger.info("One-shot accuracy %.2f was not reached in %d epochs", TARGET_ACCURACY, config.epochs)
    return section, result.model


def measure_embedding(network, images: np.ndarray, quick: bool) -> dict:
    """Time :func:`siamese.evaluation.embed` on single faces and on batches of 256."""
    from siamese.evaluation import embed

    single_calls = 20 if quick else 200
    batch_repeats = 2 if quick else 10
    batch = np.resize(images, (256, *images.shape[1:])).astype(np.float32)

    for index in range(3):
        embed(network, batch[index : index + 1])
    single = []
    for index in range(single_calls):
        started = time.perf_counter()
        embed(network, batch[index % len(batch) : index % len(batch) + 1])
        single.append(time.perf_counter() - started)

    embed(network, batch, batch_size=256)
    batched = []
    for _ in range(batch_repeats):
        started = time.perf_counter()
        embed(network, batch, batch_size=256)
        batched.append(time.perf_counter() - started)

    return {
        "input_shape": list(images.shape[1:]),
        "batch_1_faces_per_second": single_calls / float(np.sum(single)),
        "batch_1_latency": percentiles_ms(single),
        "batch_256_faces_per_second": 256 * batch_repeats / float(np.sum(batched)),
        "batch_256_latency": percentiles_ms(batched),
        "single_calls": single_calls,
        "batch_repeats": batch_repeats,
    }


def find_group_photo(path: str | None) -> Path | None:
    """Return ``path``, else ``$SIAMESE_SAMPLE_PHOTOS/four_faces_group.jpg``, or ``None`` when neither exists."""
    if path is not None:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise FileNotFoundError(f"Photo not found: {candidate}. Pass an existing image with --photo.")
        return candidate
    folder = os.environ.get(PHOTO_ENV_VAR)
    if folder and (Path(folder) / GROUP_PHOTO).is_file():
        return Path(folder) / GROUP_PHOTO
    return None


def measure_identify(model, att_dir: Path, photo: Path, quick: bool) -> dict:
    """Time :meth:`siamese.recognize.Recognizer.identify` on one photo against a 40-person gallery.

    The gallery contains the embeddings of all 400 AT&T images (10 per person). The threshold is
    0.5, which changes the names reported but not the work done.
    """
    from siamese.detect import as_photo
    from siamese.recognize import Recognizer

    recognizer = Recognizer(model, threshold=0.5)
    faces = load_att_faces(att_dir, image_size=recognizer.input_size)
    repeats = 3 if quick else 20

    with tempfile.TemporaryDirectory() as folder:
        gallery = recognizer.open_gallery(Path(folder) / "gallery.sqlite", create=True)
        with gallery:
            embeddings = recognizer.embed(faces.images)
            with gallery_logs_quiet():
                for label, name in enumerate(faces.names):
                    rows = np.flatnonzero(faces.labels == label)
                    gallery.add(name, embeddings[rows], [str(faces.paths[row]) for row in rows])

            matches = recognizer.identify(photo, gallery)
            totals, reads, detections = [], [], []
            for _ in range(repeats):
                started = time.perf_counter()
                matches = recognizer.identify(photo, gallery)
                totals.append(time.perf_counter() - started)

                started = time.perf_counter()
                loaded = as_photo(photo)
                reads.append(time.perf_counter() - started)
                started = time.perf_counter()
                recognizer.detector.detect(loaded)
                detections.append(time.perf_counter() - started)

    height, width = loaded.shape
    return {
        "photo": photo.name,
        "photo_size": [width, height],
        "faces_found": len(matches),
        "gallery_people": len(faces.names),
        "gallery_embeddings": len(faces),
        "repeats": repeats,
        "identify": percentiles_ms(totals),
        "read_photo": percentiles_ms(reads),
        "detect": percentiles_ms(detections),
    }


def random_unit_vectors(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Return float32 ``(count, dim)`` rows drawn uniformly on the unit sphere."""
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure_gallery(dim: int, quick: bool, seed: int) -> dict:
    """Time a one-face search among 1,000, 10,000 and 100,000 enrolled embeddings.

    Uses :class:`siamese.gallery.Gallery` (a SQLite file whose embeddings are searched in
    memory) when the module imports, else a NumPy brute-force nearest neighbour. The
    ``implementation`` field names the one measured. Embeddings are random unit vectors of length
    ``dim`` in 100 people, because search time depends only on their number and length.
    Memory is measured with ``tracemalloc``, which counts NumPy arrays and Python objects.
    Each size is timed twice: with the BLAS library's default threads and with one thread,
    because multi-threaded BLAS can be slower for one query on a busy machine.
    """
    try:
        from siamese import gallery as gallery_module
    except ImportError as error:
        logger.warning("siamese.gallery is not importable (%s); timing a NumPy nearest neighbour instead", error)
        gallery_module = None

    n_queries = 20 if quick else 200
    rng = np.random.default_rng(seed)
    rows = []
    for size in tqdm(GALLERY_SIZES, desc="gallery sizes", unit="size"):
        embeddings = random_unit_vectors(size, dim, rng)
        queries = random_unit_vectors(n_queries, dim, rng)
        if gallery_module is not None:
            row = _time_gallery(gallery_module, embeddings, queries)
        else:
            row = _time_numpy_search(embeddings, queries)
        rows.append({"embeddings": size, "dim": dim, "queries": n_queries, **row})
        logger.info("Gallery of %d: median search %.2f ms", size, row["search"]["median_ms"])

    implementation = (
        "siamese.gallery.Gallery.search (SQLite file, in-memory EmbeddingIndex)"
        if gallery_module is not None
        else "NumPy brute-force nearest neighbour (siamese.gallery not importable)"
    )
    return {"implementation": implementation, "sizes": rows}


def time_queries(search, queries: np.ndarray) -> list[float]:
    """Return the seconds ``search(query)`` takes for each single query, after one warm-up call."""
    search(queries[0])
    timings = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        timings.append(time.perf_counter() - started)
    return timings


def _time_gallery(gallery_module, embeddings: np.ndarray, queries: np.ndarray) -> dict:
    people = 100
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gallery.sqlite"
        gallery = gallery_module.open_gallery(path, "benchmark", embeddings.shape[1], create=True)
        with gallery:
            started = time.perf_counter()
            with gallery_logs_quiet():
                for person, chunk in enumerate(np.array_split(embeddings, people)):
                    gallery.add(f"person{person}", chunk, [f"random{person}"] * len(chunk))
            enroll_seconds = time.perf_counter() - started

            tracemalloc.start()
            started = time.perf_counter()
            index = gallery.index()
            load_seconds = time.perf_counter() - started
            index_bytes, load_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            gallery.search(queries[0])
            search_peak = tracemalloc.get_traced_memory()[1] - index_bytes
            tracemalloc.stop()

            timings = time_queries(gallery.search, queries)
            with threadpool_limits(limits=1, user_api="blas"):
                single_thread = time_queries(gallery.search, queries)
            array_bytes = index.embeddings.nbytes + index.squared_norms.nbytes + index.person_ids.nbytes
        file_bytes = path.stat().st_size

    return {
        "search": percentiles_ms(timings),
        "search_one_blas_thread": percentiles_ms(single_thread),
        "enroll_seconds": enroll_seconds,
        "index_load_seconds": load_seconds,
        "index_bytes": int(index_bytes),
        "index_array_bytes": int(array_bytes),
        "index_load_peak_bytes": int(load_peak),
        "search_peak_bytes": int(search_peak),
        "file_bytes": int(file_bytes),
    }


def _time_numpy_search(embeddings: np.ndarray, queries: np.ndarray) -> dict:
    from siamese.evaluation import distance_matrix

    tracemalloc.start()
    stored = np.ascontiguousarray(embeddings)
    index_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    np.argmin(distance_matrix(queries[:1], stored), axis=1)
    search_peak = tracemalloc.get_traced_memory()[1] - index_bytes
    tracemalloc.stop()

    def search(query):
        return np.argmin(distance_matrix(query[None, :], stored), axis=1)

    timings = time_queries(search, queries)
    with threadpool_limits(limits=1, user_api="blas"):
        single_thread = time_queries(search, queries)
    return {
        "search": percentiles_ms(timings),
        "search_one_blas_thread": percentiles_ms(single_thread),
        "index_bytes": int(stored.nbytes),
        "search_peak_bytes": int(search_peak),
    }


def model_file(path: str | os.PathLike) -> Path:
    """Return ``path`` (the ``--model`` value), or ``path/model.keras`` when ``path`` is a folder.

    A run folder written by ``siamese train`` is accepted the way the ``siamese`` commands accept
    it (``siamese.recognize.resolve_model_path``). That module is not imported here because the
    identify section treats it as optional.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return path / "model.keras"
    return path


def speed_config(quick: bool, seed: int):
    """Return ``TrainConfig()`` defaults, or the tiny config of ``--quick``."""
    from benchmarks.accuracy import train_config

    return train_config(quick, seed)


def run(args: argparse.Namespace) -> dict:
    """Measure every requested section; returns the results written to ``results.json``."""
    import keras

    from siamese.model import embedding_network_of, load_model

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = speed_config(args.quick, args.seed)
    data = data_folder(args.data) if _needs_data(args) else None
    results = {"run": run_header("benchmarks.speed", args.argv, data=data), "skipped": {}}

    def save():
        write_results(out, results, results_markdown(results))

    dataset = None
    if "training" in args.sections or "embedding" in args.sections or "identify" in args.sections:
        dataset = load_att_faces(data, image_size=tuple(config.image_size))

    model = None
    if args.model is not None:
        path = model_file(args.model)
        model = load_model(path)
        results["model"] = str(path)
    if "training" in args.sections:
        logger.info("Training section: %s", "tiny --quick config" if args.quick else "TrainConfig() defaults")
        results["training"], trained = measure_training(dataset, config, args.quick, args.seed)
        save()
        if model is None:
            model = trained
            results["model"] = "trained by the training section"
    if model is None and ({"embedding", "identify"} & set(args.sections)):
        logger.info("No --model and no training section: training a tiny model to time")
        from siamese.training import train

        model = train(dataset, speed_config(True, args.seed), verbose=0).model
        results["model"] = "tiny model trained for timing only"
    network = embedding_network_of(model) if model is not None else None

    if "embedding" in args.sections:
        size = tuple(network.input_shape[1:3])
        images = dataset.images if size == dataset.image_size else load_att_faces(data, image_size=size).images
        results["embedding"] = measure_embedding(network, images, args.quick)
        save()

    if "identify" in args.sections:
        photo = find_group_photo(args.photo)
        if photo is None:
            reason = f"no photo: set {PHOTO_ENV_VAR} to the sample photo folder or pass --photo"
            logger.warning("Skipping identify: %s", reason)
            results["skipped"]["identify"] = reason
        else:
            try:
                import siamese.recognize  # noqa: F401
            except ImportError as error:
                results["skipped"]["identify"] = f"siamese.recognize is not importable: {error}"
                logger.warning("Skipping identify: %s", results["skipped"]["identify"])
            else:
                results["identify"] = measure_identify(model, Path(data), photo, args.quick)
        save()

    if "gallery" in args.sections:
        from siamese.config import DEFAULT_EMBEDDING_DIM

        dim = int(network.output_shape[-1]) if network is not None else DEFAULT_EMBEDDING_DIM
        results["gallery"] = measure_gallery(dim, args.quick, args.seed)
        save()

    keras.backend.clear_session()
    return results


def results_markdown(results: dict) -> str:
    """Format the speed results as Markdown tables with the run's date, machine and command."""
    header = results["run"]
    machine = header["machine"]
    lines = [
        "# Speed benchmark",
        "",
        f"- date: {header['date']}",
        f"- machine: {machine['cpu_count']}-core CPU, {machine['cpu_model']}; Python {machine['python']}",
        f"- command: `{header['command']}`",
        f"- data: `{header['data']}`" if "data" in header else "- data: not read",
        f"- model: {results.get('model', '–')}",
        "",
    ]
    formatters = (
        ("training", _training_markdown),
        ("embedding", _embedding_markdown),
        ("identify", _identify_markdown),
        ("gallery", _gallery_markdown),
    )
    for section, formatter in formatters:
        if results.get(section):
            lines += formatter(results[section])
    for section, reason in results.get("skipped", {}).items():
        lines.append(f"- {section} skipped: {reason}.")
    return "\n".join(lines) + "\n"


def _training_markdown(training: dict) -> list[str]:
    reached = training["target_reached_seconds"]
    if reached is not None:
        target = f"{reached:.1f} s (epoch {training['target_reached_epoch']})"
    else:
        target = f"not reached in {training['epochs_run']} epochs"
    rows = [
        ["image passes per second (steps after the first)", format_number(training["image_passes_per_second"], 1)],
        ["image passes per second (whole fit)", format_number(training["image_passes_per_second_with_overhead"], 1)],
        ["steps × images per step", f"{training['steps']} × {training['images_per_step']}"],
        [f"training time to one-shot ≥ {training['target_one_shot_accuracy']} (standard split)", target],
    ]
    return ["## Training", "", markdown_table(["measure", "value"], rows)]


def _embedding_markdown(embedding: dict) -> list[str]:
    rows = [
        [
            batch,
            format_number(embedding[f"batch_{batch}_faces_per_second"], 1),
            format_number(embedding[f"batch_{batch}_latency"]["median_ms"], 2),
        ]
        for batch in (1, 256)
    ]
    return ["## Embedding", "", markdown_table(["batch", "faces per second", "median latency (ms)"], rows)]


def _identify_markdown(identify: dict) -> list[str]:
    width, height = identify["photo_size"]
    summary = (
        f"{identify['photo']} ({width}×{height} pixels), {identify['faces_found']} faces found, "
        f"gallery of {identify['gallery_people']} people ({identify['gallery_embeddings']} embeddings), "
        f"{identify['repeats']} repeats."
    )
    steps = (("identify (end to end)", "identify"), ("read photo", "read_photo"), ("detect faces", "detect"))
    rows = [
        [name, format_number(identify[key]["median_ms"], 1), format_number(identify[key]["p95_ms"], 1)]
        for name, key in steps
    ]
    return ["## Identify a photo", "", summary, "", markdown_table(["step", "median (ms)", "p95 (ms)"], rows)]


def _gallery_markdown(gallery: dict) -> list[str]:
    headers = [
        "embeddings",
        "median search (ms)",
        "p95 (ms)",
        "median, 1 BLAS thread (ms)",
        "index memory (MB)",
        "search peak (MB)",
    ]
    rows = [
        [
            f"{row['embeddings']:,}",
            format_number(row["search"]["median_ms"], 3),
            format_number(row["search"]["p95_ms"], 3),
            format_number(row["search_one_blas_thread"]["median_ms"], 3),
            format_number(row["index_bytes"] / 1e6, 2),
            format_number(row["search_peak_bytes"] / 1e6, 2),
        ]
        for row in gallery["sizes"]
    ]
    return ["## Gallery search", "", f"Measured: {gallery['implementation']}.", "", markdown_table(headers, rows)]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description="Measure training, embedding, identification and gallery-search speed on the CPU.",
    )
    parser.add_argument("--out", required=True, help="folder for results.json and results.md")
    parser.add_argument("--model", default=None,
                        help="model.keras, or the run folder containing it, to time for embedding and identify "
                             "(default: the model the training section trains)")
    parser.add_argument("--data", default=None, help="AT&T folder (default: $SIAMESE_ATT_DIR, then data/att_faces)")
    parser.add_argument("--photo", default=None,
                        help=f"photo for the identify section (default: ${PHOTO_ENV_VAR}/{GROUP_PHOTO})")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS,
                        help="what to measure (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny training config and fewer repeats, for CI")
    parser.add_argument("--seed", type=seed_value, default=0, help="seeds training, gallery draws and random embeddings (default: 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    args = parser.parse_args(argv)
    args.argv = argv
    check_out_folder(parser, args.out)
    return args


def _needs_data(args: argparse.Namespace) -> bool:
    """Return whether the requested sections read the AT&T faces."""
    return bool({"training", "embedding", "identify"} & set(args.sections))


def main(argv: list[str] | None = None) -> int:
    return benchmark_main("benchmarks.speed", parse_args, run, logger, argv, needs_data=_needs_data)


if __name__ == "__main__":
    sys.exit(main())
