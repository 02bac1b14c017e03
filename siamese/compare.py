"""Compare optimizers on the Siamese network under equal conditions, resumably.

Every combination of optimizer, learning rate, seed and subject fold is one run. For a given
``(seed, fold)`` every optimizer starts from the same initial weights and gets the same
batches in the same order, so the paired differences between optimizers contain no noise
from initialisation or data order. Each finished run is its own file under ``OUT/runs``, so
an interrupted comparison continues where it stopped. The tables, report and plots are
rebuilt from the run files at the end (see :func:`siamese.compare_report.write_outputs`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import math
import multiprocessing
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from siamese import compare_run
from siamese.commands.compare import DEFAULT_OPTIMIZERS
from siamese.compare_run import RunSpec, RunTask
from siamese.config import OPTIMIZER_DEFAULT_LEARNING_RATES, TrainConfig
from siamese.data import FaceDataset, dataset_fingerprint, load_image_folder
from siamese.evaluation import check_test_identities
from siamese.files import LOCK_FILE, file_in_the_way, make_folder, write_json
from siamese.run_folder import lock_output_folder
from siamese.splits import standard_split, subject_folds

logger = logging.getLogger(__name__)

#: Seed of the identity permutation behind ``--folds K`` (K >= 2), fixed so that every
#: comparison with the same K uses the same folds.
FOLD_SEED = 0

#: TrainConfig fields that vary per run and are therefore not part of the shared settings.
PER_RUN_FIELDS = ("optimizer", "learning_rate", "seed")

#: Keys every stored run record must have to count as finished.
RECORD_KEYS = ("run_id", "history", "metrics", "roc", "train_seconds", "initial_weights_sha256", "batches_sha256")

#: Maximum number of seeds (repetitions) per comparison. Each seed adds one full training per optimizer,
#: learning rate and fold, and 1000 repetitions already narrow a 95% confidence interval of a
#: mean to about ±0.06 standard deviations of one run (1.96 / sqrt(1000)), so more only cost time.
MAX_SEEDS = 1000
#: Maximum number of learning rates per sweep: ten rates per decade over ten decades, far more than the few
#: rates per decade that a sensitivity sweep samples.
MAX_LEARNING_RATES = 100
#: Maximum number of runs (optimizers × learning rates × seeds × folds) per comparison. The report keeps every
#: run record, each with an ROC curve of up to a few thousand points, in memory at once, and
#: 10000 runs of a minute each already take about a week (an estimate for the default settings).
MAX_RUNS = 10_000

#: Settings that ``config.json`` records but a resume does not need to match.
UNCHECKED_CONFIG_KEYS = ("environment", "data_folder")


def check_seed_count(count: int) -> None:
    """Raise ValueError if ``count`` seeds (--seeds) exceed :data:`MAX_SEEDS`."""
    if count > MAX_SEEDS:
        raise ValueError(f"--seeds must be at most {MAX_SEEDS}; received {count}. Use fewer repetitions.")


@dataclass
class CompareSettings:
    """Settings of one comparison, recorded in ``config.json``.

    Attributes:
        optimizers: optimizer names (see :data:`siamese.config.OPTIMIZERS`), lower case.
        learning_rates: initial learning rates tried with every optimizer, or ``None`` for
            each optimizer's own default rate. More than one rate makes a sensitivity sweep.
        seeds: seeds of the repetitions; each seeds the initial weights, batches and
            augmentation of the runs that use it.
        folds: 1 for the standard AT&T split (train s1–s35, test s36–s40), or ``K >= 2``
            subject-disjoint folds from :func:`siamese.splits.subject_folds` with
            :data:`FOLD_SEED`.
        train_config: shared training settings; its ``optimizer``, ``learning_rate`` and
            ``seed`` are replaced per run.
    """

    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    learning_rates: tuple[float, ...] | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    folds: int = 1
    train_config: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def __post_init__(self):
        self.optimizers = tuple(str(name).lower() for name in self.optimizers)
        unknown = [name for name in self.optimizers if name not in OPTIMIZER_DEFAULT_LEARNING_RATES]
        if unknown:
            raise ValueError(
                f"Unknown optimizers {unknown}; expected names from: {', '.join(OPTIMIZER_DEFAULT_LEARNING_RATES)}."
            )
        if not self.optimizers:
            raise ValueError("Expected at least one optimizer; received none.")
        if len(set(self.optimizers)) != len(self.optimizers):
            raise ValueError(f"Each optimizer may appear once; received {list(self.optimizers)}.")

        if self.learning_rates is not None:
            self.learning_rates = tuple(float(rate) for rate in self.learning_rates)
            if not self.learning_rates or any(not 0 < rate < np.inf for rate in self.learning_rates):
                raise ValueError(f"Learning rates must be positive finite numbers; received {list(self.learning_rates)}.")
            if len(set(self.learning_rates)) != len(self.learning_rates):
                raise ValueError(f"Each learning rate may appear once; received {list(self.learning_rates)}.")

        self.seeds = tuple(int(seed) for seed in self.seeds)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"Seeds must be distinct integers; received {list(self.seeds)}.")
        if any(not 0 <= seed < 2**32 for seed in self.seeds):
            raise ValueError(
                f"Seeds must lie from 0 to 2**32 - 1 (4294967295); received {min(self.seeds)} to "
                f"{max(self.seeds)}. Lower --seed, or --seeds, which counts up from it."
            )
        if not isinstance(self.folds, (int, np.integer)) or self.folds < 1:
            raise ValueError(f"folds must be a positive integer; received {self.folds!r}.")
        check_seed_count(len(self.seeds))
        rates = 1 if self.learning_rates is None else len(self.learning_rates)
        if rates > MAX_LEARNING_RATES:
            raise ValueError(
                f"--learning-rate accepts at most {MAX_LEARNING_RATES} values; received {rates}. "
                f"Sweep fewer rates, such as three per decade."
            )
        runs = len(self.optimizers) * rates * len(self.seeds) * int(self.folds)
        if runs > MAX_RUNS:
            raise ValueError(
                f"The comparison would train {runs} runs ({len(self.optimizers)} optimizers × {rates} "
                f"learning rates × {len(self.seeds)} seeds × {self.folds} folds), more than the maximum "
                f"of {MAX_RUNS}. Lower --seeds, --folds, --optimizers or --learning-rate."
            )

    @property
    def is_sweep(self) -> bool:
        """Whether several learning rates are tried per optimizer."""
        return self.learning_rates is not None and len(self.learning_rates) > 1

    def rates_for(self, optimizer: str) -> tuple[float, ...]:
        """Return the learning rates that ``optimizer`` runs with."""
        if self.learning_rates is None:
            return (OPTIMIZER_DEFAULT_LEARNING_RATES[optimizer],)
        return self.learning_rates

    def shared_train_config(self) -> dict:
        """Return the training settings that every run shares, as JSON-ready values."""
        shared = {key: value for key, value in self.train_config.to_dict().items() if key not in PER_RUN_FIELDS}
        return json.loads(json.dumps(shared))

    def to_dict(self) -> dict:
        return {
            "optimizers": list(self.optimizers),
            "learning_rates": None if self.learning_rates is None else list(self.learning_rates),
            "seeds": list(self.seeds),
            "folds": int(self.folds),
            "fold_seed": FOLD_SEED if self.folds > 1 else None,
            "train_config": self.shared_train_config(),
            "evaluation": {
                "final_n_draws": compare_run.FINAL_N_DRAWS,
                "epoch_n_draws": compare_run.EPOCH_N_DRAWS,
            },
        }


def plan_runs(settings: CompareSettings) -> list[RunSpec]:
    """List every run, grouped by ``(seed, fold)`` so paired results become complete early."""
    return [
        RunSpec(optimizer, rate, seed, fold)
        for seed in settings.seeds
        for fold in range(settings.folds)
        for optimizer in settings.optimizers
        for rate in settings.rates_for(optimizer)
    ]


class RunsFailedError(RuntimeError):
    """Error raised when some runs of a comparison failed. The finished runs are stored and in the outputs."""


def split_folds(dataset: FaceDataset, folds: int) -> list[tuple[FaceDataset, FaceDataset]]:
    """Return ``(train_set, test_set)`` per fold; one fold is the standard AT&T split.

    Raises:
        ValueError: ``folds == 1`` but the dataset lacks s1 … s40, ``folds`` leaves a test
            group of fewer than two identities, or a test identity has fewer than two images.
    """
    if folds == 1:
        splits = [standard_split(dataset.names)]
    else:
        splits = subject_folds(dataset.names, folds, np.random.default_rng(FOLD_SEED))
    for _, test_names in splits:
        check_test_identities(dataset, test_names)
    return [(dataset.subset(train_names), dataset.subset(test_names)) for train_names, test_names in splits]


def build_initial_weights(config: TrainConfig, seed: int) -> list[np.ndarray]:
    """Build the embedding network for ``seed`` once and return its weights.

    The weights depend on the seed and the architecture only, so the folds of one seed
    share them too.
    """
    import keras

    from siamese.training import build_network

    network = build_network(config, seed)
    weights = network.get_weights()
    keras.utils.clear_session()
    return weights


def run_config(settings: CompareSettings, spec: RunSpec) -> TrainConfig:
    """Return the shared training settings with the run's optimizer, rate and seed."""
    return dataclasses.replace(
        settings.train_config, optimizer=spec.optimizer, learning_rate=spec.learning_rate, seed=spec.seed
    )


def environment_info() -> dict:
    """Return library versions and the CPU count, recorded for reproducibility only."""
    import keras
    import scipy
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def differences(stored: dict, requested: dict, prefix: str = "") -> list[str]:
    """List the settings that differ between two config dictionaries, as ``key: stored -> requested``."""
    found = []
    for key in sorted(set(stored) | set(requested)):
        if not prefix and key in UNCHECKED_CONFIG_KEYS:
            continue
        old, new = stored.get(key), requested.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found.extend(differences(old, new, f"{prefix}{key}."))
        elif old != new:
            found.append(f"{prefix}{key}: {old!r} -> {new!r}")
    return found


def prepare_out_folder(out: Path, config: dict) -> None:
    """Create ``out`` and write ``config.json``, or check that an existing one matches.

    Raises:
        The errors of :func:`check_out_folder`.
    """
    stored = check_out_folder(out, config)
    make_folder(out)
    if stored is None:
        write_json(out / "config.json", config)
    else:
        logger.info("Resuming the comparison in %s", out)
        if stored.get("environment") != config.get("environment"):
            logger.warning(
                "Resuming with other library versions or hardware than %s records (%s); new runs may "
                "differ slightly from the stored ones.",
                out / "config.json",
                config.get("environment"),
            )
    (out / "runs").mkdir(exist_ok=True)


def check_out_folder(out: Path, config: dict) -> dict | None:
    """Raise the errors that keep ``out`` from holding this comparison, without writing anything.

    Returns the stored ``config.json`` when ``out`` contains this comparison already, which is
    then resumed, and ``None`` for a missing or empty folder.

    Raises:
        ValueError: ``out/config.json`` records different settings; the message lists each
            difference as ``stored -> requested``.
        FileExistsError: ``out`` contains files but no ``config.json``, or a ``config.json``
            that a comparison did not write, so it is not a comparison folder.
        NotADirectoryError: ``out`` is a file, or lies below one.
    """
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"Output path {out} is a file; pass a folder for --out.")
    blocking = file_in_the_way(out)
    if blocking is not None:
        raise NotADirectoryError(f"Output path {out} lies under {blocking}, which is a file; choose another --out.")
    if not out.exists():
        return None

    path = out / "config.json"
    if not path.exists():
        if any(entry.name != LOCK_FILE for entry in out.iterdir()):
            raise FileExistsError(
                f"{out} contains files but no config.json, so it is not a comparison folder; pass a new "
                f"or empty --out folder."
            )
        return None

    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); delete it or pass another --out folder.") from error
    if not isinstance(stored, dict) or "optimizers" not in stored:
        raise FileExistsError(
            f"{out} contains a config.json that a comparison did not write (such as the folder "
            f"of a `siamese train` run); pass a new or empty --out folder."
        )
    found = differences(stored, json.loads(json.dumps(config)))
    if found:
        raise ValueError(
            f"{out} contains a comparison with other settings, so it cannot be resumed with "
            f"these: {'; '.join(found)}. Rerun with the stored settings to resume it, or pass a "
            f"new --out folder to start another comparison."
        )
    return stored


def load_finished_runs(runs_dir: Path, plan: list[RunSpec]) -> dict[str, dict]:
    """Return the stored records of planned runs, keyed by run id.

    A file that cannot be read as a run record is logged and left out, so the run is
    trained again and the file replaced.

    Raises:
        ValueError: a run file has a field of the wrong type or range (see :func:`check_run_values`).
    """
    finished = {}
    for spec in plan:
        path = runs_dir / f"{spec.run_id}.json"
        if not path.exists():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            logger.warning("Ignoring unreadable run file %s (%s); the run will be trained again.", path, error)
            continue
        missing = [key for key in RECORD_KEYS if not isinstance(record, dict) or key not in record]
        if missing:
            logger.warning("Ignoring run file %s without %s; the run will be trained again.", path, missing)
            continue
        check_run_values(path, record)
        finished[spec.run_id] = record
    return finished


def _is_finite_number(value) -> bool:
    """Return whether ``value`` is an int or float, not a bool, that a finite float can hold.

    JSON integers have no size limit, and ``float(10**400)`` raises OverflowError.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_rate(value) -> bool:
    return _is_finite_number(value) and 0 <= value <= 1


def _is_count(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_rate_list(value) -> bool:
    return isinstance(value, list) and all(_is_rate(item) for item in value)


def _is_history(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(values, list) and all(_is_finite_number(item) for item in values) for values in value.values()
    )


#: Fields of a run file that the report reads, as (key, check, what the check expects). Training
#: never writes NaN, infinity or null, because :class:`siamese.training.DivergenceCheck` stops a
#: diverged run before its run file is written, so such a value means the file was edited.
RUN_FIELDS = (
    ("optimizer", lambda value: isinstance(value, str) and value != "", "an optimizer name"),
    ("learning_rate", lambda value: _is_finite_number(value) and value > 0, "a finite number above 0"),
    ("seed", lambda value: _is_count(value, 0), "an integer of at least 0"),
    ("fold", lambda value: _is_count(value, 0), "an integer of at least 0"),
    ("train_seconds", lambda value: _is_finite_number(value) and value >= 0, "a finite number of at least 0"),
    ("history", _is_history, "an object of lists of finite numbers, one per epoch"),
    ("metrics.one_shot_accuracy", _is_rate, "a number from 0 to 1"),
    ("metrics.n_way", lambda value: _is_count(value, 2), "an integer of at least 2"),
    ("metrics.roc_auc", _is_rate, "a number from 0 to 1"),
    ("metrics.eer", _is_rate, "a number from 0 to 1"),
    ("metrics.verification_accuracy", _is_rate, "a number from 0 to 1"),
    ("metrics.threshold", _is_finite_number, "a finite number"),
    ("metrics.eer_threshold", _is_finite_number, "a finite number"),
    ("roc.false_positive_rate", _is_rate_list, "a list of numbers from 0 to 1"),
    ("roc.true_positive_rate", _is_rate_list, "a list of numbers from 0 to 1"),
)

_MISSING = object()


def check_run_values(path: Path, record: dict) -> None:
    """Raise ValueError unless every field of :data:`RUN_FIELDS` in a run record has the expected type and range.

    A wrong value would otherwise fail deep inside the report, or leave a blank cell in
    ``summary.csv`` and make the report average over fewer runs than it counts.
    """
    for key, is_valid, expected in RUN_FIELDS:
        value = _field(record, key)
        if value is _MISSING:
            _reject_run_file(path, f"{key} is missing; expected {expected}")
        if not is_valid(value):
            _reject_run_file(path, f"{key} must be {expected}; received {_short_repr(value)}")

    roc = record["roc"]
    if len(roc["false_positive_rate"]) != len(roc["true_positive_rate"]):
        _reject_run_file(
            path,
            f"roc.false_positive_rate has {len(roc['false_positive_rate'])} values but "
            f"roc.true_positive_rate has {len(roc['true_positive_rate'])}; expected one of each per ROC point",
        )


def _field(record: dict, key: str):
    """Return the value at a dotted ``key`` such as ``metrics.eer``, or ``_MISSING``."""
    value = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _short_repr(value, max_length: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= max_length else text[: max_length - 1] + "…"


def _reject_run_file(path: Path, problem: str):
    raise ValueError(
        f"The run file {path} is invalid: {problem}. Delete the file, and the next run of the same "
        f"command trains that run again."
    )


def default_jobs(planned_runs: int) -> int:
    """Return 1: one training at a time, using every core.

    On a 2-core machine, two single-threaded jobs were slower than one job with two threads.
    With the default TrainConfig (TensorFlow 2.21, 50 epochs) a single-threaded run took about
    360 s and a two-threaded run about 130 s, because batch preparation and augmentation stall
    a lone TensorFlow thread. ``--jobs N`` still runs N at once.
    """
    return 1


def available_cores() -> int:
    """Return the number of CPU cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass
class ComparisonResult:
    """Outputs of :func:`run_comparison`.

    Attributes:
        out: the output folder.
        records: run records keyed by run id, in plan order.
        results: the per-epoch table written to ``results.csv``.
        summary: the per-run table written to ``summary.csv``.
        report: text of ``report.md``.
        trained: ids of the runs trained by this call (finished runs found on disk are not).
    """

    out: Path
    records: dict[str, dict]
    results: pd.DataFrame
    summary: pd.DataFrame
    report: str
    trained: list[str]


def run_comparison(
    data: str | os.PathLike,
    out: str | os.PathLike,
    settings: CompareSettings,
    jobs: int | None = 1,
    progress: bool = True,
) -> ComparisonResult:
    """Train every planned run that is not yet finished, then write the tables, report and plots.

    Args:
        data: folder with one subfolder of images per identity (the AT&T faces for
            ``folds=1``).
        out: output folder; an existing one is resumed when its ``config.json`` matches.
        settings: what to compare.
        jobs: trainings run at once. ``1`` trains in this process; more start that many
            worker processes ("spawn"), each limited to ``cores // jobs`` TensorFlow threads.
            ``None`` picks :func:`default_jobs`.
            A script that passes ``jobs > 1`` needs an ``if __name__ == "__main__":`` guard,
            because spawned workers import the main module.
        progress: show a tqdm progress bar over runs.

    Raises:
        ValueError: invalid settings, or ``out`` contains a comparison with other settings.
        FileNotFoundError: ``data`` does not exist.
        RunsFailedError: some runs failed; the others are stored and in the outputs, and
            running the same command again retries the failed ones.
    """
    if jobs is not None and (not isinstance(jobs, (int, np.integer)) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer or None; received {jobs!r}.")
    out = Path(out).expanduser()
    dataset = load_image_folder(data, image_size=settings.train_config.image_size)
    folds = split_folds(dataset, settings.folds)
    for train_set, _ in folds:
        settings.train_config.check_training_set(train_set.labels)

    config = settings.to_dict()
    config["dataset"] = dataset_fingerprint(dataset)
    config["data_folder"] = str(Path(data).expanduser().resolve())
    config["environment"] = environment_info()
    # Two comparisons writing into one --out would mix their config.json, run files and report.
    # The folder check runs before the lock, so that a rejected command creates nothing, and
    # again under it (in prepare_out_folder), in case another command wrote into --out meanwhile.
    check_out_folder(out, config)
    with lock_output_folder(out, "siamese compare"):
        prepare_out_folder(out, config)

        runs_dir = out / "runs"
        plan = plan_runs(settings)
        if jobs is None:
            jobs = default_jobs(len(plan))
        records = load_finished_runs(runs_dir, plan)
        pending = [spec for spec in plan if spec.run_id not in records]
        logger.info("%d of %d runs finished; %d to train", len(records), len(plan), len(pending))

        weights_by_seed = {}
        tasks = []
        for spec in pending:
            if spec.seed not in weights_by_seed:
                weights_by_seed[spec.seed] = build_initial_weights(settings.train_config, spec.seed)
            train_set, test_set = folds[spec.fold]
            tasks.append(RunTask(spec, run_config(settings, spec), train_set, test_set, weights_by_seed[spec.seed], runs_dir))

        trained, failures = execute_tasks(tasks, jobs, progress, total=len(plan), already_done=len(records))
        records.update(trained)
        ordered = {spec.run_id: records[spec.run_id] for spec in plan if spec.run_id in records}

        from siamese.compare_report import write_outputs

        results, summary, report = write_outputs(out, settings, ordered, planned=len(plan))
        if failures:
            raise RunsFailedError(
                f"{len(failures)} of {len(plan)} runs failed ({', '.join(failures)}); the others are stored "
                f"in {runs_dir}. Run the same command again to retry the failed runs."
            )
        return ComparisonResult(out, ordered, results, summary, report, list(trained))


def execute_tasks(
    tasks: list[RunTask],
    jobs: int,
    progress: bool,
    total: int,
    already_done: int,
) -> tuple[dict[str, dict], list[str]]:
    """Run ``tasks`` in this process (``jobs == 1``) or in ``jobs`` spawned processes.

    Returns the new records keyed by run id and the ids of the runs that raised. A failed
    run is logged with its traceback and the others continue.
    """
    records: dict[str, dict] = {}
    failures: list[str] = []
    bar = tqdm(total=total, initial=already_done, desc="runs", unit="run", disable=not progress)

    def collect(run_id: str, outcome) -> None:
        try:
            records[run_id] = outcome()
        except Exception:
            logger.exception("Run %s failed", run_id)
            failures.append(run_id)
        bar.update(1)

    try:
        if not tasks:
            return records, failures
        if jobs == 1:
            for task in tasks:
                bar.set_postfix_str(task.spec.run_id)
                collect(task.spec.run_id, lambda task=task: compare_run.execute_run(task))
            return records, failures

        # The thread count depends on jobs only, not on how many runs are left, so a resumed
        # comparison trains with the same threads as the first attempt.
        threads = max(1, available_cores() // jobs)
        workers = min(jobs, len(tasks))
        logger.info("Starting %d worker processes with %d TensorFlow threads each", workers, threads)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=compare_run.limit_threads, initargs=(threads,)
        ) as pool:
            futures = {pool.submit(compare_run.execute_run, task): task.spec.run_id for task in tasks}
            try:
                for future in concurrent.futures.as_completed(futures):
                    collect(futures[future], future.result)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return records, failures
    finally:
        bar.close()
