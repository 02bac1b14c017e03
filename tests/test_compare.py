"""Tests of ``siamese compare``: statistics by hand, and tiny real comparisons on the AT&T faces."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from siamese.compare_stats import (
    PAIRED_T,
    WILCOXON,
    choose_paired_test,
    compare_to_best,
    describe,
    holm,
    pairs_needed_for_wilcoxon,
)
from siamese.config import TrainConfig

# A network small enough that one run of 2 steps takes about a second on 2 cores.
TINY = dict(
    epochs=1,
    steps_per_epoch=2,
    widths=(8, 16),
    embedding_dim=16,
    convs_per_block=1,
    identities_per_batch=8,
    images_per_identity=2,
    image_size=(28, 23),
)


def tiny_settings(optimizers=("adam", "rmsprop"), seeds=(0, 1), **overrides):
    from siamese.compare import CompareSettings

    return CompareSettings(optimizers=optimizers, seeds=seeds, train_config=TrainConfig(**TINY), **overrides)


def summary_frame(values: dict[str, list[float]], metric: str = "one_shot_accuracy") -> pd.DataFrame:
    """One row per (condition, seed) with fold 0, from ``{condition: [value per seed]}``."""
    rows = [
        {"condition": condition, "seed": seed, "fold": 0, metric: value}
        for condition, per_seed in values.items()
        for seed, value in enumerate(per_seed)
    ]
    return pd.DataFrame(rows)


# --- statistics ---------------------------------------------------------------------------


def test_holm_by_hand():
    # Sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> running max 0.06.
    adjusted = holm([0.01, 0.04, 0.03, np.nan])

    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(adjusted[3])


def test_holm_caps_at_one():
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_describe_t_interval_by_hand():
    summary = describe([1.0, 2.0, 3.0])

    # t(0.975, df=2) = 4.302653 from a t table; half width = 4.302653 * 1 / sqrt(3).
    assert summary.n == 3
    assert summary.mean == pytest.approx(2.0)
    assert summary.std == pytest.approx(1.0)
    assert summary.ci_low == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert summary.ci_high == pytest.approx(2.0 + 2.484138, abs=1e-6)


def test_describe_single_value_has_no_interval():
    summary = describe([0.5])

    assert summary.mean == 0.5
    assert np.isnan(summary.ci_low)


def test_wilcoxon_pairs_needed():
    # The smallest exact two-sided p-value is 2 / 2**n; Holm multiplies it by m.
    assert pairs_needed_for_wilcoxon(1) == 6  # 2/64 = 0.031 < 0.05, 2/32 = 0.0625 is not
    assert pairs_needed_for_wilcoxon(5) == 8  # 5 * 2/256 = 0.039 < 0.05, 5 * 2/128 is not
    assert choose_paired_test(7, 5) == PAIRED_T
    assert choose_paired_test(8, 5) == WILCOXON


def test_paired_t_test_by_hand():
    # Differences A - B = 0.1, 0.2, 0.3: t = 0.2 / (0.1 / sqrt 3) = 3.4641, df = 2.
    # Differences A - C = 0.2, 0.1, 0.2: t = 0.1667 / (0.0577 / sqrt 3) = 5.0, df = 2.
    # For df = 2 the two-sided p is 1 - t / sqrt(2 + t**2): 0.07418 and 0.03775.
    summary = summary_frame({"A": [0.8, 0.9, 0.7], "B": [0.7, 0.7, 0.4], "C": [0.6, 0.8, 0.5]})
    summary = summary.sample(frac=1.0, random_state=0)  # pairing must follow (seed, fold), not row order

    result = compare_to_best(summary, "one_shot_accuracy", higher_is_better=True)
    table = result.table.set_index("condition")

    assert result.best == "A"
    assert result.test == PAIRED_T
    assert table.loc["B", "p_value"] == pytest.approx(1 - 3.4641016 / np.sqrt(2 + 12.0), abs=1e-6)
    assert table.loc["C", "p_value"] == pytest.approx(1 - 5.0 / np.sqrt(27.0), abs=1e-6)
    assert table.loc["B", "mean_difference"] == pytest.approx(0.2)
    # Holm: 0.03775 * 2 = 0.0755, then max(0.0755, 0.07418 * 1) = 0.0755 for both.
    assert table.loc["C", "p_holm"] == pytest.approx(2 * (1 - 5.0 / np.sqrt(27.0)), abs=1e-6)
    assert table.loc["B", "p_holm"] == pytest.approx(table.loc["C", "p_holm"])
    assert not table["significant"].any()


def test_wilcoxon_by_hand_lower_is_better():
    # B is lower (better EER) in all 8 pairs: exact two-sided p = 2 / 2**8 = 0.0078125.
    errors_a = [0.30, 0.25, 0.28, 0.31, 0.22, 0.27, 0.29, 0.26]
    errors_b = [error - 0.01 * (i + 1) for i, error in enumerate(errors_a)]
    summary = summary_frame({"A": errors_a, "B": errors_b}, metric="eer")

    result = compare_to_best(summary, "eer", higher_is_better=False)

    assert result.best == "B"
    assert result.test == WILCOXON
    assert result.table.loc[0, "p_value"] == pytest.approx(2 / 2**8)
    assert bool(result.table.loc[0, "significant"])


def test_compare_to_best_pairs_only_shared_runs():
    summary = summary_frame({"A": [0.9, 0.8, 0.7], "B": [0.5, 0.6, 0.4]})
    summary = summary.drop(index=summary.index[(summary["condition"] == "B") & (summary["seed"] == 2)])

    result = compare_to_best(summary, "one_shot_accuracy", higher_is_better=True)

    assert result.table.loc[0, "n_pairs"] == 2
    assert result.table.loc[0, "mean_difference"] == pytest.approx(0.3)


def test_compare_to_best_needs_two_conditions():
    with pytest.raises(ValueError, match="at least two conditions"):
        compare_to_best(summary_frame({"A": [0.9, 0.8]}), "one_shot_accuracy", higher_is_better=True)


# --- settings and planning ----------------------------------------------------------------


def test_plan_groups_runs_by_seed_and_fold():
    from siamese.compare import plan_runs

    plan = plan_runs(tiny_settings(seeds=(0, 1), learning_rates=(1e-3, 1e-2)))

    assert len(plan) == 2 * 2 * 2
    assert [spec.run_id for spec in plan[:4]] == [
        "adam_lr0.001_seed0_fold0",
        "adam_lr0.01_seed0_fold0",
        "rmsprop_lr0.001_seed0_fold0",
        "rmsprop_lr0.01_seed0_fold0",
    ]


def test_default_rates_are_per_optimizer():
    from siamese.compare import plan_runs

    rates = {spec.optimizer: spec.learning_rate for spec in plan_runs(tiny_settings(optimizers=("adam", "sgd")))}

    assert rates == {"adam": 1e-3, "sgd": 1e-2}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"optimizers": ("adam", "lion")}, "lion"),
        ({"optimizers": ("adam", "adam")}, "once"),
        ({"seeds": (0, 0)}, "distinct"),
        ({"learning_rates": (0.0,)}, "positive"),
        ({"learning_rates": (float("inf"),)}, "positive finite"),
        ({"seeds": (4294967295, 4294967296)}, r"Lower --seed, or --seeds"),
        ({"seeds": (-1,)}, "from 0 to 2"),
        ({"folds": 0}, "folds"),
        ({"seeds": tuple(range(1001))}, "--seeds must be at most 1000; received 1001"),
        ({"learning_rates": tuple(0.001 * (i + 1) for i in range(101))}, "at most 100 values; received 101"),
        (
            {"optimizers": ("adam", "sgd"), "learning_rates": (0.1, 0.01), "seeds": tuple(range(1000)), "folds": 3},
            "would train 12000 runs",
        ),
    ],
)
def test_settings_reject_invalid(overrides, message):
    from siamese.compare import CompareSettings

    arguments = {"optimizers": ("adam",), "seeds": (0,), **overrides}
    with pytest.raises(ValueError, match=message):
        CompareSettings(train_config=TrainConfig(**TINY), **arguments)


# --- real tiny comparisons ----------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded_comparison(att_dir, tmp_path_factory):
    """Run 2 optimizers x 2 seeds for one epoch and record what each training received.

    Records, per training call, the initial weights passed to ``train`` and a digest of
    every batch (images after augmentation, and labels) keyed by ``(epoch, step)``.
    """
    from siamese import compare_run, training
    from siamese.compare import run_comparison

    calls = []
    real_train = compare_run.train
    real_getitem = training.IdentityBatches.__getitem__

    def recording_getitem(self, step):
        images, targets = real_getitem(self, step)
        # Joint training yields a dict of identical label arrays, one per model output.
        labels = targets["embedding"] if isinstance(targets, dict) else targets
        digest = hashlib.sha256(np.ascontiguousarray(images).tobytes() + labels.tobytes()).hexdigest()
        calls[-1]["batches"][(self.epoch, step)] = digest
        return images, targets

    def recording_train(train_set, config, **kwargs):
        calls.append({"config": config, "weights": kwargs["initial_weights"], "batches": {}})
        return real_train(train_set, config, **kwargs)

    out = tmp_path_factory.mktemp("comparison")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare_run, "train", recording_train)
        patch.setattr(training.IdentityBatches, "__getitem__", recording_getitem)
        result = run_comparison(att_dir, out, tiny_settings(), progress=False)
    return result, calls


def test_comparison_writes_outputs(recorded_comparison):
    result, _ = recorded_comparison
    out = result.out

    results = pd.read_csv(out / "results.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert list(results.columns) == [
        "optimizer", "learning_rate", "seed", "fold", "epoch",
        "loss", "accuracy", "val_one_shot_accuracy", "val_eer", "val_roc_auc",
    ]
    assert len(results) == 4  # 2 optimizers x 2 seeds x 1 epoch
    assert {"one_shot_accuracy", "eer", "roc_auc", "verification_accuracy", "train_seconds"} <= set(summary.columns)
    assert len(summary) == 4
    last_epoch = results.groupby(["optimizer", "seed"])["val_one_shot_accuracy"].last()
    network_alone = summary.set_index(["optimizer", "seed"])["network_one_shot_accuracy"]
    assert network_alone.sort_index().tolist() == pytest.approx(last_epoch.sort_index().tolist())
    assert summary["one_shot_accuracy"].between(0, 1).all()
    assert summary["eer"].between(0, 1).all()
    assert sorted(path.name for path in (out / "runs").glob("*.json")) == [
        "adam_lr0.001_seed0_fold0.json",
        "adam_lr0.001_seed1_fold0.json",
        "rmsprop_lr0.001_seed0_fold0.json",
        "rmsprop_lr0.001_seed1_fold0.json",
    ]
    roc = pd.read_csv(out / "roc.csv")
    assert set(roc["optimizer"]) == {"adam", "rmsprop"}
    for name in ("training_curves.png", "final_metrics.png", "roc_curves.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert not (out / "learning_rate_sensitivity.png").exists()


def test_comparison_report_names_test(recorded_comparison):
    result, _ = recorded_comparison
    report = (result.out / "report.md").read_text(encoding="utf-8")

    assert "All 4 planned runs are finished." in report
    assert "Choice of test: the paired t-test. With 2 pairs" in report
    assert "too small to conclude firmly" in report
    assert "| adam | 0.001 | 2 |" in report
    assert "one-shot, network alone mean ± sd" in report
    assert "only 2 batches" in report  # the projection is on in these runs
    assert "every run started from identical initial weights" in report


def test_optimizers_get_same_weights_and_batches(recorded_comparison):
    _, calls = recorded_comparison
    by_key = {(call["config"].optimizer, call["config"].seed): call for call in calls}

    for seed in (0, 1):
        adam, rmsprop = by_key[("adam", seed)], by_key[("rmsprop", seed)]
        assert len(adam["weights"]) == len(rmsprop["weights"])
        assert all(np.array_equal(a, b) for a, b in zip(adam["weights"], rmsprop["weights"]))
        assert adam["batches"] == rmsprop["batches"]
        assert len(adam["batches"]) >= TINY["steps_per_epoch"]

    # The check can fail: another seed gives other weights and other batches.
    assert not np.array_equal(by_key[("adam", 0)]["weights"][0], by_key[("adam", 1)]["weights"][0])
    assert by_key[("adam", 0)]["batches"] != by_key[("adam", 1)]["batches"]


def test_run_records_fingerprints_match(recorded_comparison):
    from siamese.compare_tables import fairness_problems

    result, _ = recorded_comparison
    records = result.records

    assert records["adam_lr0.001_seed0_fold0"]["batches_sha256"] == records["rmsprop_lr0.001_seed0_fold0"]["batches_sha256"]
    assert records["adam_lr0.001_seed0_fold0"]["batches_sha256"] != records["adam_lr0.001_seed1_fold0"]["batches_sha256"]
    assert fairness_problems(records) == (2, [])

    tampered = json.loads(json.dumps(records))
    tampered["adam_lr0.001_seed0_fold0"]["initial_weights_sha256"] = "0" * 64
    groups, problems = fairness_problems(tampered)
    assert len(problems) == 1
    assert "initial_weights_sha256" in problems[0]


def test_resume_retrains_only_deleted_run(recorded_comparison, att_dir, tmp_path, monkeypatch):
    from siamese import compare_run
    from siamese.compare import run_comparison

    result, _ = recorded_comparison
    out = tmp_path / "copy"
    shutil.copytree(result.out, out)
    deleted = out / "runs" / "adam_lr0.001_seed1_fold0.json"
    original = json.loads(deleted.read_text())
    deleted.unlink()
    kept_run = out / "runs" / "rmsprop_lr0.001_seed0_fold0.json"
    kept_before = kept_run.read_bytes()

    calls = []
    real_train = compare_run.train

    def counting_train(train_set, config, **kwargs):
        calls.append((config.optimizer, config.seed))
        return real_train(train_set, config, **kwargs)

    monkeypatch.setattr(compare_run, "train", counting_train)
    resumed = run_comparison(att_dir, out, tiny_settings(), progress=False)

    assert calls == [("adam", 1)]
    assert resumed.trained == ["adam_lr0.001_seed1_fold0"]
    assert kept_run.read_bytes() == kept_before
    retrained = json.loads(deleted.read_text())
    # Same seed and thread count: the retrained run repeats the original exactly.
    assert retrained["history"] == original["history"]
    assert retrained["metrics"] == original["metrics"]
    assert retrained["roc"] == original["roc"]


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [("one_shot_accuracy", "abc", "'abc'"), ("one_shot_accuracy", float("nan"), "nan"), ("eer", None, "None")],
)
def test_resume_rejects_invalid_metric(recorded_comparison, att_dir, tmp_path, key, value, shown):
    from siamese.compare import run_comparison

    result, _ = recorded_comparison
    out = tmp_path / "copy"
    shutil.copytree(result.out, out)
    tampered = out / "runs" / "adam_lr0.001_seed0_fold0.json"
    record = json.loads(tampered.read_text())
    record["metrics"][key] = value
    tampered.write_text(json.dumps(record))

    with pytest.raises(ValueError) as raised:
        run_comparison(att_dir, out, tiny_settings(), progress=False)
    message = str(raised.value)
    assert str(tampered) in message
    assert f"metrics.{key} must be a number from 0 to 1; received {shown}" in message
    assert "Delete the file" in message


def valid_run_record() -> dict:
    """Return the fields of a run file that the report reads, as training writes them."""
    return {
        "optimizer": "adam",
        "learning_rate": 0.001,
        "seed": 0,
        "fold": 0,
        "train_seconds": 1.5,
        "history": {"loss": [0.9, 0.7], "val_one_shot_accuracy": [0.4, 0.5]},
        "metrics": {
            "one_shot_accuracy": 0.5,
            "n_way": 5,
            "roc_auc": 0.8,
            "eer": 0.2,
            "verification_accuracy": 0.75,
            "threshold": 0.6,
            "eer_threshold": 0.6,
        },
        "roc": {"false_positive_rate": [0.0, 0.5, 1.0], "true_positive_rate": [0.0, 0.8, 1.0]},
    }


def test_run_values_accept_valid_record(tmp_path):
    from siamese.compare import check_run_values

    check_run_values(tmp_path / "run.json", valid_run_record())


def _drop(record, section, key):
    del record[section][key]


def _append(record, section, key, value):
    record[section][key].append(value)


# Each case edits a valid record as a person might edit a run file: (edit, expected message).
BAD_RUN_EDITS = [
    (lambda r: r.update(roc=None), "roc.false_positive_rate is missing"),
    (lambda r: r["history"].update(loss="abc"), "history must be an object of lists of finite numbers"),
    (lambda r: r["history"]["loss"].append(float("nan")), "history must be"),
    (lambda r: r.update(seed="zero"), "seed must be an integer of at least 0; received 'zero'"),
    (lambda r: r.update(seed=True), "seed must be an integer"),
    (lambda r: r.update(fold=-1), "fold must be an integer of at least 0; received -1"),
    (lambda r: r.update(optimizer=3), "optimizer must be an optimizer name"),
    (lambda r: r.update(learning_rate=0), "learning_rate must be a finite number above 0"),
    (lambda r: r["metrics"].update(one_shot_accuracy=10**400), "metrics.one_shot_accuracy must be a number from 0 to 1"),
    (lambda r: r["metrics"].update(one_shot_accuracy=7.0), "metrics.one_shot_accuracy must be a number from 0 to 1; received 7.0"),
    (lambda r: r["metrics"].update(n_way=2.5), "metrics.n_way must be an integer of at least 2; received 2.5"),
    (lambda r: r["metrics"].update(threshold=float("inf")), "metrics.threshold must be a finite number; received inf"),
    (lambda r: _drop(r, "metrics", "eer"), "metrics.eer is missing; expected a number from 0 to 1"),
    (lambda r: r.update(train_seconds=-5), "train_seconds must be a finite number of at least 0; received -5"),
    (lambda r: r.update(train_seconds=True), "train_seconds must be a finite number of at least 0; received True"),
    (lambda r: _append(r, "roc", "false_positive_rate", "x"), "roc.false_positive_rate must be a list of numbers from 0 to 1"),
    (lambda r: _append(r, "roc", "true_positive_rate", float("inf")), "roc.true_positive_rate must be a list of numbers from 0 to 1"),
    (lambda r: _append(r, "roc", "true_positive_rate", 1.0), "roc.false_positive_rate has 3 values but roc.true_positive_rate has 4"),
]


@pytest.mark.parametrize(("edit", "expected"), BAD_RUN_EDITS)
def test_run_values_reject_bad_edit(tmp_path, edit, expected):
    from siamese.compare import check_run_values

    record = valid_run_record()
    edit(record)

    with pytest.raises(ValueError) as raised:
        check_run_values(tmp_path / "run.json", record)
    message = str(raised.value)
    assert str(tmp_path / "run.json") in message
    assert expected in message
    assert "Delete the file, and the next run of the same command trains that run again." in message


def test_run_values_shorten_huge_integer(tmp_path):
    from siamese.compare import check_run_values

    # JSON integers have no size limit, and this one overflows a float.
    record = valid_run_record()
    record["metrics"]["eer"] = json.loads("1" + "0" * 400)

    with pytest.raises(ValueError, match=r"metrics.eer must be a number from 0 to 1; received 1000") as raised:
        check_run_values(tmp_path / "run.json", record)
    assert len(str(raised.value)) < 400


def test_mean_sd_marks_missing_values():
    from siamese.compare_report import _mean_sd

    assert _mean_sd(pd.Series([0.5, 0.7])) == "0.600 ± 0.141"
    assert _mean_sd(pd.Series([0.5, np.nan])) == "0.500 (1 of 2)"
    assert _mean_sd(pd.Series([np.nan, np.nan])) == "– (0 of 2)"


def test_resume_rejects_other_settings(recorded_comparison, att_dir):
    from siamese.compare import run_comparison

    result, _ = recorded_comparison

    with pytest.raises(ValueError, match=r"seeds: \[0, 1\] -> \[0, 1, 2\].*new --out folder"):
        run_comparison(att_dir, result.out, tiny_settings(seeds=(0, 1, 2)), progress=False)


def test_out_folder_of_other_files_rejected(att_dir, tmp_path):
    from siamese.compare import run_comparison

    (tmp_path / "model.keras").write_bytes(b"not a comparison")

    with pytest.raises(FileExistsError, match="no config.json"):
        run_comparison(att_dir, tmp_path, tiny_settings(), progress=False)
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.keras"]  # neither runs/ nor a lock file


def test_out_folder_of_train_run_rejected(att_dir, tmp_path):
    from siamese.compare import run_comparison

    (tmp_path / "config.json").write_text(json.dumps({"config": {"epochs": 50}, "split": "standard"}))

    with pytest.raises(FileExistsError, match="that a comparison did not write"):
        run_comparison(att_dir, tmp_path, tiny_settings(), progress=False)
    assert [entry.name for entry in tmp_path.iterdir()] == ["config.json"]


def test_failed_start_keeps_user_folders(att_dir, tmp_path, monkeypatch):
    from siamese import compare
    from siamese.compare import run_comparison

    def fail(*args, **kwargs):
        raise ValueError("cannot write config.json")

    # A failure under the lock, after the folder checks passed.
    monkeypatch.setattr(compare, "write_json", fail)
    made = tmp_path / "made"
    made.mkdir()

    for out in (made, tmp_path / "made" / "new" / "run"):
        with pytest.raises(ValueError, match="cannot write config.json"):
            run_comparison(att_dir, out, tiny_settings(), progress=False)

    assert made.is_dir()
    assert list(made.iterdir()) == []


def test_out_folder_locked_by_other_command(att_dir, tmp_path):
    from siamese.compare import run_comparison
    from siamese.run_folder import lock_output_folder

    out = tmp_path / "out"
    # flock locks belong to the open file, so a lock held here blocks a second open in this process too.
    with lock_output_folder(out, "siamese compare"):
        with pytest.raises(FileExistsError, match=r"Another siamese compare is using .* \(pid \d+\)"):
            run_comparison(att_dir, out, tiny_settings(), progress=False)
        assert not (out / "config.json").exists()
        assert not (out / "runs").exists()


def test_empty_folder_with_lock_file_accepted(tmp_path):
    from siamese.compare import prepare_out_folder
    from siamese.files import LOCK_FILE

    (tmp_path / LOCK_FILE).write_text("123\n")

    prepare_out_folder(tmp_path, {"optimizers": ["adam"]})

    assert json.loads((tmp_path / "config.json").read_text()) == {"optimizers": ["adam"]}
    assert (tmp_path / "runs").is_dir()


def test_batch_above_data_writes_nothing(att_dir, tmp_path):
    from siamese.compare import CompareSettings, run_comparison

    settings = CompareSettings(optimizers=("adam",), seeds=(0,), train_config=TrainConfig(**{**TINY, "images_per_identity": 11}))

    with pytest.raises(ValueError, match="no training person has more than 10 images"):
        run_comparison(att_dir, tmp_path / "out", settings, progress=False)
    assert not (tmp_path / "out").exists()


def test_interrupted_comparison_keeps_finished_runs(att_dir, tmp_path, monkeypatch):
    from siamese import compare_run
    from siamese.compare import run_comparison

    real_train = compare_run.train
    calls = []

    def interrupted_train(train_set, config, **kwargs):
        calls.append(config.optimizer)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(train_set, config, **kwargs)

    monkeypatch.setattr(compare_run, "train", interrupted_train)
    with pytest.raises(KeyboardInterrupt):
        run_comparison(att_dir, tmp_path, tiny_settings(seeds=(0,)), progress=False)
    assert [path.name for path in (tmp_path / "runs").glob("*.json")] == ["adam_lr0.001_seed0_fold0.json"]

    def counting_train(train_set, config, **kwargs):
        calls.append(config.optimizer)
        return real_train(train_set, config, **kwargs)

    calls.clear()
    monkeypatch.setattr(compare_run, "train", counting_train)
    resumed = run_comparison(att_dir, tmp_path, tiny_settings(seeds=(0,)), progress=False)

    assert calls == ["rmsprop"]
    assert resumed.trained == ["rmsprop_lr0.001_seed0_fold0"]
    assert len(resumed.summary) == 2


def tiny_compare_args(att_dir, out, jobs: int) -> argparse.Namespace:
    """Parse a ``siamese compare`` of adam and sgd, one seed, one tiny epoch, with ``--jobs``."""
    from siamese.commands import compare as compare_command

    parser = argparse.ArgumentParser(prog="siamese")
    compare_command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(
        [
            "compare", "--data", str(att_dir), "--out", str(out), "--optimizers", "adam", "sgd",
            "--seeds", "1", "--epochs", "1", "--steps-per-epoch", "2", "--image-size", "28x23",
            "--embedding-dim", "8", "--identities-per-batch", "4", "--images-per-identity", "2",
            "--jobs", str(jobs), "--quiet",
        ]
    )


def test_cli_rejects_huge_seed_count(tmp_path, capsys):
    from siamese.cli import main

    code = main(["compare", "--out", str(tmp_path / "out"), "--optimizers", "adam", "--seeds", "100000000"])

    assert code == 2
    assert "--seeds must be at most 1000; received 100000000" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_runs_parallel_jobs(att_dir, tmp_path, capsys):
    from siamese.compare import available_cores

    args = tiny_compare_args(att_dir, tmp_path, jobs=2)

    assert args.handler(args) == 0

    printed = capsys.readouterr().out
    assert "adam" in printed
    assert "sgd" in printed
    record = json.loads((tmp_path / "runs" / "sgd_lr0.01_seed0_fold0.json").read_text())
    assert record["tensorflow_threads"] == max(1, available_cores() // 2)
    assert record["train_config"]["epochs"] == 1
    assert (tmp_path / "report.md").exists()


def test_cli_failed_run_exits_cleanly(att_dir, tmp_path, capsys, monkeypatch):
    from siamese import compare_run

    real_train = compare_run.train

    def failing_sgd(train_set, config, **kwargs):
        if config.optimizer == "sgd":
            raise ValueError("a training failure")
        return real_train(train_set, config, **kwargs)

    monkeypatch.setattr(compare_run, "train", failing_sgd)
    args = tiny_compare_args(att_dir, tmp_path, jobs=1)

    assert args.handler(args) == 2

    error = capsys.readouterr().err
    assert "siamese compare: error: 1 of 2 runs failed (sgd_lr0.01_seed0_fold0)" in error
    assert "Run the same command again" in error
    assert (tmp_path / "runs" / "adam_lr0.001_seed0_fold0.json").exists()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "only 2 batches scores about as well"),
        ({"folds": 5}, "cross-validation folds the default training added"),
        ({"discriminant_projection": False}, None),
    ],
)
def test_projection_note_fits_settings(overrides, expected):
    from siamese.compare import CompareSettings
    from siamese.compare_report import projection_note

    folds = overrides.pop("folds", 1)
    settings = CompareSettings(optimizers=("adam",), seeds=(0,), folds=folds, train_config=TrainConfig(**TINY, **overrides))

    note = " ".join(projection_note(settings))

    if expected is None:
        assert note == ""
    else:
        assert expected in note
