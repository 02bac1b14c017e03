"""Tests of the benchmark scripts: baselines on synthetic faces, then both scripts end to end."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.baselines import BASELINES, DlibResNet, Selection, lbp_histograms, select_setting
from benchmarks.protocols import N_FOLDS, protocol_splits
from benchmarks.report import write_atomic
from siamese.data import FaceDataset
from siamese.evaluation import evaluate_embeddings

REPOSITORY = Path(__file__).resolve().parents[1]
ATT_NAMES = tuple(f"s{i}" for i in range(1, 41))
REQUIRED_KEYS = {
    "method",
    "protocol",
    "one_shot_accuracy_mean",
    "one_shot_accuracy_std",
    "eer_mean",
    "roc_auc_mean",
    "train_seconds_per_fold",
    "folds",
}


def pattern_faces(
    n_identities: int,
    images_per_identity: int,
    rng: np.random.Generator,
    distinct: bool = True,
    size: tuple[int, int] = (48, 40),
    noise: float = 0.02,
) -> FaceDataset:
    """Make identities that are fixed random patterns of 8x8-pixel blocks plus Gaussian noise.

    With ``distinct`` every identity has its own pattern, so one-shot identification is
    trivial; without it all identities share one pattern and only noise separates them.
    """
    height, width = size
    images, labels = [], []
    pattern = None
    for identity in range(n_identities):
        if distinct or pattern is None:
            blocks = rng.random((height // 8, width // 8)) < 0.5
            pattern = np.kron(blocks, np.ones((8, 8))) * 0.6 + 0.2
        for _ in range(images_per_identity):
            images.append(np.clip(pattern + rng.normal(0.0, noise, size), 0.0, 1.0))
            labels.append(identity)
    names = tuple(f"p{identity}" for identity in range(n_identities))
    paths = tuple(Path(f"{names[label]}/{index}.png") for index, label in enumerate(labels))
    return FaceDataset(np.asarray(images, dtype=np.float32)[..., None], np.asarray(labels, dtype=np.int64), names, paths)


def train_test(dataset: FaceDataset, n_train: int) -> tuple[FaceDataset, FaceDataset]:
    return dataset.subset(list(dataset.names[:n_train])), dataset.subset(list(dataset.names[n_train:]))


@pytest.mark.parametrize("method", ["raw_pixels", "eigenfaces", "fisherfaces", "lbp"])
def test_baseline_distinct_patterns(method):
    train_set, test_set = train_test(pattern_faces(12, 5, np.random.default_rng(0)), 8)

    baseline = BASELINES[method]().fit(train_set, np.random.default_rng(1), Selection(n_folds=2, n_draws=5))
    embeddings = baseline.embed(test_set.images)
    metrics = evaluate_embeddings(embeddings, test_set.labels, np.random.default_rng(2), n_draws=50).metrics

    assert embeddings.shape[0] == len(test_set)
    assert np.all(np.isfinite(embeddings))
    assert metrics["one_shot_accuracy"] == 1.0
    assert metrics["eer"] == 0.0


def test_raw_pixels_shared_pattern_near_chance():
    # The counter-case: one pattern for everyone leaves only noise, so 4-way accuracy is near 1/4.
    _, test_set = train_test(pattern_faces(12, 5, np.random.default_rng(0), distinct=False), 8)

    embeddings = BASELINES["raw_pixels"]().fit(test_set, np.random.default_rng(1)).embed(test_set.images)
    metrics = evaluate_embeddings(embeddings, test_set.labels, np.random.default_rng(2), n_draws=200).metrics

    assert metrics["one_shot_accuracy"] < 0.5


def test_select_setting_best_candidate():
    dataset = pattern_faces(8, 2, np.random.default_rng(0))
    candidates = [{"value": 1}, {"value": 2}, {"value": 3}]

    best, scores = select_setting(
        candidates, lambda candidate, *_: 0.9 if candidate["value"] == 2 else 0.5, dataset, np.random.default_rng(0), 4
    )

    assert best == {"value": 2}
    assert scores == [0.5, 0.9, 0.5]


def test_select_setting_tie_takes_first():
    dataset = pattern_faces(8, 2, np.random.default_rng(0))
    candidates = [{"value": 1}, {"value": 2}]

    best, _ = select_setting(candidates, lambda *_: 0.7, dataset, np.random.default_rng(0), 4)

    assert best == {"value": 1}


def test_select_setting_inner_folds_disjoint():
    dataset = pattern_faces(8, 2, np.random.default_rng(0))
    seen = []

    def record(candidate, inner_train, inner_test, rng):
        seen.append((set(inner_train.names), set(inner_test.names)))
        return 0.0

    select_setting([{"value": 1}], record, dataset, np.random.default_rng(0), 4)

    assert len(seen) == 4
    for train_names, test_names in seen:
        assert not train_names & test_names
        assert len(test_names) == 2
    assert set().union(*(test for _, test in seen)) == set(dataset.names)


def test_lbp_histograms_shape_and_norm():
    images = pattern_faces(2, 1, np.random.default_rng(0)).images

    features = lbp_histograms(images, points=8, radius=1, grid=(4, 4))

    bins = 8 * 7 + 3
    assert features.shape == (2, 4 * 4 * bins)
    # Each cell histogram sums to 1, so its square roots have unit length.
    cells = features.reshape(2, 16, bins)
    np.testing.assert_allclose(np.sum(cells**2, axis=2), 1.0, rtol=1e-5)


def test_lbp_histograms_grid_too_large():
    images = np.zeros((1, 4, 4, 1), dtype=np.float32)

    with pytest.raises(ValueError, match="smaller than the 7x7 LBP grid"):
        lbp_histograms(images, points=8, radius=1, grid=(7, 7))


def test_protocol_standard_split():
    splits = protocol_splits(ATT_NAMES, "standard")

    assert len(splits) == 1
    assert splits[0][1] == [f"s{i}" for i in range(36, 41)]


def test_protocol_cv_folds():
    splits = protocol_splits(ATT_NAMES, "cv")

    assert len(splits) == N_FOLDS
    tested = [name for _, test in splits for name in test]
    assert sorted(tested) == sorted(ATT_NAMES)
    for train, test in splits:
        assert len(test) == 8
        assert len(train) == 32
        assert not set(train) & set(test)
    # benchmarks/README.md lists these folds; change both together.
    assert splits[0][1] == ["s3", "s4", "s5", "s12", "s24", "s25", "s28", "s35"]


def test_protocol_unknown():
    with pytest.raises(ValueError, match="Unknown protocol 'loo'"):
        protocol_splits(ATT_NAMES, "loo")


def test_write_atomic_leaves_no_temp(tmp_path):
    target = tmp_path / "results.md"

    write_atomic(target, "first\n")
    write_atomic(target, "second\n")

    assert target.read_text() == "second\n"
    assert [path.name for path in tmp_path.iterdir()] == ["results.md"]


def test_write_atomic_mode_follows_umask(tmp_path):
    target = tmp_path / "results.json"
    previous = os.umask(0o022)
    try:
        write_atomic(target, "{}\n")
    finally:
        os.umask(previous)

    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_accuracy_pairwise_needs_siamese(capsys):
    from benchmarks.accuracy import parse_args

    with pytest.raises(SystemExit) as raised:
        parse_args(["--out", "unused", "--methods", "siamese_pairwise"])

    assert raised.value.code == 2
    assert "add siamese to --methods" in capsys.readouterr().err


def test_accuracy_image_size_capped(tmp_path, capsys):
    from benchmarks.accuracy import parse_args

    with pytest.raises(SystemExit) as raised:
        parse_args(["--out", str(tmp_path / "out"), "--image-size", "100000", "100000"])

    assert raised.value.code == 2
    assert "at most 512 pixels a side" in capsys.readouterr().err
    assert parse_args(["--out", str(tmp_path / "out"), "--image-size", "512", "512"]).image_size == [512, 512]


def test_pair_batches_balanced():
    from benchmarks.pairwise import PairBatches

    # Each identity's images are constant at its own grey level, so equal images mean same person.
    images = np.repeat(np.linspace(0.1, 0.9, 4), 3)[:, None, None, None] * np.ones((1, 8, 8, 1))
    dataset = FaceDataset(images.astype(np.float32), np.repeat(np.arange(4), 3), ("a", "b", "c", "d"), tuple(Path(f"{i}") for i in range(12)))

    (first, second), labels = PairBatches(dataset, 8, steps=2, seed=0, augmentation=None)[0]

    assert first.shape == (8, 8, 8, 1)
    assert second.shape == (8, 8, 8, 1)
    assert labels.sum() == 4
    same_image = np.all(first == second, axis=(1, 2, 3))
    np.testing.assert_array_equal(same_image, labels == 1)


@pytest.mark.slow
def test_train_pairwise_stops_on_budget():
    from benchmarks.pairwise import train_pairwise
    from siamese.training import TrainConfig

    dataset = pattern_faces(6, 4, np.random.default_rng(0), size=(16, 16))
    config = TrainConfig(image_size=(16, 16), steps_per_epoch=3, identities_per_batch=4, images_per_identity=2,
                         widths=(4, 8), embedding_dim=8, augment=False, discriminant_projection=False)

    result, steps = train_pairwise(dataset, config, seconds=4.0)

    assert steps >= 2
    assert result.train_seconds >= 4.0
    # Training stops after the step that crosses the budget, not at the 100,000 epochs allowed.
    assert result.train_seconds < 120.0
    # The time-based cosine decay has brought the rate below its starting 1e-3.
    assert float(result.model.optimizer.learning_rate) < 1e-3
    assert result.embedding_network.output_shape == (None, 8)


@pytest.mark.skipif(not DlibResNet.is_available(), reason="face_recognition (the dlib extra) is not installed")
def test_dlib_same_person_closer(att_dir):
    from siamese.data import ATT_IMAGE_SIZE, load_att_faces

    faces = load_att_faces(att_dir, image_size=ATT_IMAGE_SIZE).subset(["s1", "s2"])
    embeddings = DlibResNet().fit(faces, np.random.default_rng(0)).embed(faces.images)

    assert embeddings.shape == (20, 128)
    same = np.linalg.norm(embeddings[0] - embeddings[1])
    different = np.linalg.norm(embeddings[0] - embeddings[10])
    assert same < different


def run_module(module: str, out: Path, att_dir: Path, photos_dir: Path | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SIAMESE_ATT_DIR": str(att_dir)}
    if photos_dir is not None:
        environment["SIAMESE_SAMPLE_PHOTOS"] = str(photos_dir)
    return subprocess.run(
        [sys.executable, "-m", module, "--out", str(out), "--quick"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_accuracy_quick_end_to_end(att_dir, tmp_path):
    completed = run_module("benchmarks.accuracy", tmp_path, att_dir)

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    methods = {"raw_pixels", "eigenfaces", "fisherfaces", "lbp", "siamese", "siamese_pairwise"}
    assert {(result["method"], result["protocol"]) for result in results} >= {
        (method, protocol) for method in methods for protocol in ("standard", "cv")
    }
    for result in results:
        assert REQUIRED_KEYS <= set(result), result["method"]
        assert 0.0 <= result["one_shot_accuracy_mean"] <= 1.0
        assert 0.0 <= result["eer_mean"] <= 1.0
        expected_folds = 1 if result["protocol"] == "standard" else N_FOLDS
        assert len(result["folds"]) == expected_folds
    by_key = {(result["method"], result["protocol"]): result for result in results}
    assert by_key[("raw_pixels", "cv")]["one_shot_accuracy_std"] > 0.0
    assert by_key[("raw_pixels", "standard")]["one_shot_accuracy_std"] is None
    # Raw pixels score about 0.94 on the real s36–s40; far lower would mean broken data.
    assert by_key[("raw_pixels", "standard")]["one_shot_accuracy_mean"] > 0.85
    assert "## Standard split" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_speed_quick_end_to_end(att_dir, sample_photos_dir, tmp_path):
    completed = run_module("benchmarks.speed", tmp_path, att_dir, sample_photos_dir)

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["training"]["image_passes_per_second"] > 0
    assert results["embedding"]["batch_1_faces_per_second"] > 0
    assert results["embedding"]["batch_256_faces_per_second"] > 0
    assert results["identify"]["faces_found"] == 4
    assert results["identify"]["identify"]["median_ms"] > 0
    assert [row["embeddings"] for row in results["gallery"]["sizes"]] == [1_000, 10_000, 100_000]
    assert "## Gallery search" in (tmp_path / "results.md").read_text()


def test_errors_rejects_unknown_fold(capsys):
    from benchmarks.errors import main

    with pytest.raises(SystemExit) as raised:
        main(["--out", "unused", "--folds", "1", "7"])
    assert raised.value.code == 2
    assert "received 7" in capsys.readouterr().err


def test_errors_rejects_folds_with_standard(capsys):
    from benchmarks.errors import main

    with pytest.raises(SystemExit) as raised:
        main(["--out", "unused", "--protocol", "standard", "--folds", "3"])
    assert raised.value.code == 2
    assert "--folds applies to --protocol cv only" in capsys.readouterr().err


def test_errors_training_length_options(tmp_path, capsys):
    from benchmarks.errors import parse_args, run_config

    config = run_config(parse_args(["--out", str(tmp_path / "out"), "--quick", "--epochs", "3"]))
    assert (config.epochs, config.steps_per_epoch, config.widths) == (3, 2, (8, 16))

    config = run_config(parse_args(["--out", str(tmp_path / "out"), "--steps-per-epoch", "2"]))
    assert (config.epochs, config.steps_per_epoch) == (50, 2)

    config = run_config(parse_args(["--out", str(tmp_path / "out"), "--widths", "64", "128", "256"]))
    assert config.widths == (64, 128, 256)
    assert config.epochs == 50

    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / "out"), "--epochs", "0"])
    assert "--epochs" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / "out"), "--widths", "32", "0"])
    assert "--widths" in capsys.readouterr().err


def test_errors_rejects_file_as_out(tmp_path, capsys):
    from benchmarks.errors import main

    existing = tmp_path / "results.txt"
    existing.write_text("not a folder")
    with pytest.raises(SystemExit) as raised:
        main(["--out", str(existing)])
    assert raised.value.code == 2
    assert f"{existing} is a file" in capsys.readouterr().err


def test_out_below_file_rejected(tmp_path, capsys):
    from benchmarks.errors import main

    existing = tmp_path / "results.txt"
    existing.write_text("not a folder")
    with pytest.raises(SystemExit) as raised:
        main(["--out", str(existing / "run")])
    assert raised.value.code == 2
    assert f"lies below {existing}, which is a file" in capsys.readouterr().err


def test_accuracy_reports_file_as_out(att_dir, tmp_path, capsys):
    from benchmarks.accuracy import main

    existing = tmp_path / "results.txt"
    existing.write_text("not a folder")
    with pytest.raises(SystemExit) as raised:
        main(["--out", str(existing), "--methods", "raw_pixels", "--data", str(att_dir)])
    assert raised.value.code == 2
    assert f"benchmarks.accuracy: error: --out must be a folder; {existing} is a file" in capsys.readouterr().err


def test_errors_missing_att_folder(tmp_path, capsys):
    from benchmarks.errors import main

    missing = tmp_path / "no_faces"
    assert main(["--out", str(tmp_path / "out"), "--data", str(missing)]) == 2
    assert f"benchmarks.errors: error: AT&T folder not found: {missing}" in capsys.readouterr().err


@pytest.mark.slow
def test_errors_quick_end_to_end(att_dir, tmp_path):
    command = [sys.executable, "-m", "benchmarks.errors", "--out", str(tmp_path), "--quick", "--folds", "1"]
    environment = {**os.environ, "SIAMESE_ATT_DIR": str(att_dir)}
    completed = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=600)

    assert completed.returncode == 0, completed.stderr[-3000:]
    (record,) = json.loads((tmp_path / "results.json").read_text())["folds"]
    assert record["fold"] == 1
    assert sorted(subject["subject"] for subject in record["subjects"]) == sorted(protocol_splits(ATT_NAMES, "cv")[1][1])
    for subject in record["subjects"]:
        assert len(subject["success"]) == 10
        assert [row[index] for index, row in enumerate(subject["success"])] == [None] * 10
    errors = [subject["error"] for subject in record["subjects"]]
    assert errors == sorted(errors, reverse=True)
    # Every subject has 10 images, so the accuracy is the mean of the subjects' successes.
    assert record["one_shot_accuracy"] == pytest.approx(1.0 - np.mean(errors))
    assert (tmp_path / "fold1_worst.png").stat().st_size > 0
    assert (tmp_path / "fold1.keras").is_file()
    assert "## cv fold 1" in (tmp_path / "results.md").read_text()

    again = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming: 1 finished folds" in again.stderr


def test_scene_rates_by_hand():
    from benchmarks.scenes import rates_at

    records = [
        {"subject": "s36", "enrolled": True, "nearest": "s36", "distance": 0.5},  # named correctly
        {"subject": "s36", "enrolled": True, "nearest": "s36", "distance": 1.5},  # unknown
        {"subject": "s37", "enrolled": True, "nearest": "s36", "distance": 0.9},  # wrong name
        {"subject": "s37", "enrolled": True, "nearest": "s37", "distance": 0.2},  # named correctly
        {"subject": "s40", "enrolled": False, "nearest": "s37", "distance": 0.8},  # stranger named
        {"subject": "s40", "enrolled": False, "nearest": "s36", "distance": 1.2},  # stranger unknown
    ]

    rates = rates_at(records, 1.0)

    assert rates["named_correctly"] == pytest.approx(0.5)
    assert rates["unknown"] == pytest.approx(0.25)
    assert rates["wrong_name"] == pytest.approx(0.25)
    assert rates["strangers_named"] == pytest.approx(0.5)

    enrolled_only = rates_at(records[:4], 1.0)  # no stranger face found: nothing to count

    assert enrolled_only["strangers_named"] is None
    assert enrolled_only["unknown"] == pytest.approx(0.25)


def test_scenes_missing_att_folder(tmp_path, capsys):
    from benchmarks.scenes import main

    missing = tmp_path / "no_faces"
    assert main(["--out", str(tmp_path / "out"), "--data", str(missing)]) == 2
    assert f"benchmarks.scenes: error: AT&T folder not found: {missing}" in capsys.readouterr().err


@pytest.mark.slow
def test_scenes_end_to_end(att_dir, tmp_path, tmp_path_factory):
    from benchmarks.scenes import main
    from faces_fixtures import trained_model_dir

    model = trained_model_dir(tmp_path_factory) / "model.keras"
    out = tmp_path / "scenes"

    status = main(["--out", str(out), "--model", str(model), "--data", str(att_dir), "--seeds", "3", "--thresholds", "0.5"])

    assert status == 0
    result = json.loads((out / "results.json").read_text())
    assert result["counts"]["enrolled_pasted"] == 5 * 9 * 4
    assert result["counts"]["strangers_pasted"] == 5 * 9
    assert result["counts"]["enrolled_found"] >= 0.9 * 180
    assert [row["source"] for row in result["rows"]] == ["threshold", "identify_threshold", "--thresholds"]
    for row in result["rows"]:
        assert row["named_correctly"] + row["unknown"] + row["wrong_name"] == pytest.approx(1.0)
    metrics = json.loads((model.parent / "metrics.json").read_text())
    assert [row["threshold"] for row in result["rows"]] == pytest.approx(
        [metrics["threshold"], metrics["identify_threshold"], 0.5]
    )
    assert "| identify_threshold |" in (out / "results.md").read_text()


@pytest.mark.parametrize("seeds, message", [(["1", "1"], "twice"), (["-3"], "0 or more")])
def test_scenes_rejects_bad_seeds(seeds, message, tmp_path, capsys):
    from benchmarks.scenes import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / "out"), "--seeds", *seeds])
    assert message in capsys.readouterr().err


def test_scenes_needs_a_threshold(att_dir, tmp_path, capsys):
    from benchmarks.scenes import main

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"never loaded")

    assert main(["--out", str(tmp_path / "out"), "--model", str(folder / "model.keras"), "--data", str(att_dir)]) == 2
    assert "No threshold to score" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_photo_pair_counts_by_hand():
    from benchmarks.photos import pair_counts

    rows = pair_counts([0.5, 0.9, 1.2], [("threshold", 1.0), ("--thresholds", 0.5)])

    assert rows == [
        {"source": "threshold", "threshold": 1.0, "pairs_below": 2, "pairs": 3},
        {"source": "--thresholds", "threshold": 0.5, "pairs_below": 0, "pairs": 3},  # 0.5 is not below 0.5
    ]


@pytest.mark.slow
def test_photos_end_to_end(sample_photos_dir, tmp_path, tmp_path_factory):
    from benchmarks.photos import main
    from faces_fixtures import trained_model_dir

    model = trained_model_dir(tmp_path_factory) / "model.keras"
    out = tmp_path / "photos"

    assert main(["--out", str(out), "--model", str(model), "--photos", str(sample_photos_dir), "--thresholds", "2.5"]) == 0

    result = json.loads((out / "results.json").read_text())
    assert len(result["faces"]) == 7  # one face in each of three photos, four in the group photo
    assert len(result["pairs"]) == 21
    distances = [pair["distance"] for pair in result["pairs"]]
    assert distances == sorted(distances)
    assert [row["source"] for row in result["rows"]] == ["threshold", "identify_threshold", "--thresholds"]
    assert result["rows"][-1]["pairs_below"] == 21  # unit embeddings are never 2.5 apart
    for row in result["rows"]:
        assert row["pairs_below"] == sum(distance < row["threshold"] for distance in distances)
    assert "| identify_threshold |" in (out / "results.md").read_text()
    group = [face["face"] for face in result["faces"] if face["photo"] == "four_faces_group.jpg"]
    assert group == [1, 2, 3, 4]  # numbered as `siamese detect --crops` names its crops
    assert "four_faces_group.jpg face4" in {pair["a"] for pair in result["pairs"]} | {pair["b"] for pair in result["pairs"]}


def test_photos_face_label_counts_from_one():
    from benchmarks.photos import face_label

    assert face_label({"photo": "four_faces_group.jpg", "face": 1, "box": [0, 0, 5, 5]}) == "four_faces_group.jpg face1"


def test_photos_missing_folder(tmp_path, capsys):
    from benchmarks.photos import main

    missing = tmp_path / "no_photos"
    assert main(["--out", str(tmp_path / "out"), "--photos", str(missing)]) == 2
    assert f"Photo folder not found: {missing}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_photos_default_folder(tmp_path, monkeypatch):
    from benchmarks.photos import photo_folder

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIAMESE_SAMPLE_PHOTOS", raising=False)
    with pytest.raises(ValueError, match="--photos DIR.*data/sample_photos"):
        photo_folder(None)

    (tmp_path / "data" / "sample_photos").mkdir(parents=True)
    assert photo_folder(None) == Path("data") / "sample_photos"


def test_out_home_expanded(tmp_path, monkeypatch):
    import argparse
    import logging

    from benchmarks.report import benchmark_main

    monkeypatch.setenv("HOME", str(tmp_path))
    seen = {}

    def parse(argv):
        return argparse.Namespace(out="~/results", verbose=False, data=None)

    def run(args):
        seen["out"] = args.out

    assert benchmark_main("benchmarks.test", parse, run, logging.getLogger("test"), [], needs_data=lambda args: False) == 0
    assert seen["out"] == str(tmp_path / "results")  # "--out=~/results" reaches Python unexpanded


def test_benchmark_logging_prints_tensorflow_once():
    script = (
        "import logging, benchmarks.errors\n"
        "from benchmarks.report import configure_logging\n"
        "configure_logging(False)\n"
        "logging.getLogger('tensorflow').warning('retracing example')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=REPOSITORY)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("retracing example") == 1, result.stderr


def test_accuracy_progress_follows_data_content(att_dir, tmp_path, caplog):
    import logging
    import shutil

    from PIL import Image

    from benchmarks.accuracy import main

    copy = tmp_path / "att_copy"
    shutil.copytree(att_dir, copy)
    out = tmp_path / "out"
    options = ["--out", str(out), "--quick", "--methods", "raw_pixels", "--protocols", "standard"]
    caplog.set_level(logging.INFO, logger="benchmarks")

    assert main([*options, "--data", str(att_dir)]) == 0
    # The same images in another folder, as after moving the checkout: the fold is reused.
    assert main([*options, "--data", str(copy)]) == 0
    assert "Resuming: 1 finished folds" in caplog.text

    # One changed image: the fold is run again.
    caplog.clear()
    image = Image.open(copy / "s1" / "1.pgm")
    Image.eval(image, lambda value: 255 - value).save(copy / "s1" / "1.pgm")
    assert main([*options, "--data", str(copy)]) == 0

    assert "Resuming" not in caplog.text
    assert "changed: data" in caplog.text
    (result,) = json.loads((out / "results.json").read_text())
    assert result["run"]["data"] == str(copy.resolve())


def test_errors_signature_has_data_content(att_dir, tmp_path, monkeypatch):
    import benchmarks.errors as errors
    from siamese.data import dataset_fingerprint, load_att_faces

    seen = {}

    class StopAfterProgress(Exception):
        pass

    def record_signature(path, signature):
        seen["signature"] = signature
        raise StopAfterProgress

    monkeypatch.setattr(errors, "Progress", record_signature)
    with pytest.raises(StopAfterProgress):
        errors.run(errors.parse_args(["--out", str(tmp_path / "out"), "--quick", "--data", str(att_dir)]))

    expected = dataset_fingerprint(load_att_faces(att_dir, image_size=(56, 46)))
    assert seen["signature"]["data"] == expected


@pytest.mark.parametrize(
    "contents, message",
    [
        ("{\n", "it is not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"signature": {}, "records": [1]}', "expected a JSON object"),
    ],
)
def test_progress_unreadable_file_named(tmp_path, contents, message):
    from benchmarks.report import Progress

    path = tmp_path / "progress.json"
    path.write_text(contents)

    with pytest.raises(ValueError) as raised:
        Progress(path, {"seed": 0})
    assert f"Cannot read {path}" in str(raised.value)
    assert message in str(raised.value)
    assert f"Delete {path} to start afresh" in str(raised.value)
    assert path.read_text() == contents  # Left unchanged, so its finished folds can be recovered.


def test_accuracy_corrupt_progress_exits_2(att_dir, tmp_path, capsys):
    from benchmarks.accuracy import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "progress.json").write_text("[1, 2]")

    assert main(["--out", str(out), "--quick", "--methods", "raw_pixels", "--data", str(att_dir)]) == 2
    assert f"benchmarks.accuracy: error: Cannot read {out / 'progress.json'}" in capsys.readouterr().err


def test_speed_model_run_folder(tmp_path):
    from benchmarks.speed import parse_args, run
    from siamese.model import build_embedding_network, build_siamese_model

    folder = tmp_path / "run"
    folder.mkdir()
    build_siamese_model(build_embedding_network(embedding_dim=8, widths=(4,))).save(folder / "model.keras")

    args = parse_args(["--out", str(tmp_path / "out"), "--model", str(folder), "--sections", "gallery", "--quick"])
    args.sections = []  # With no section to time, run only loads the model.
    assert run(args)["model"] == str(folder / "model.keras")

    empty = tmp_path / "empty"
    empty.mkdir()
    args = parse_args(["--out", str(tmp_path / "out"), "--model", str(empty), "--sections", "gallery", "--quick"])
    with pytest.raises(FileNotFoundError, match="model.keras"):
        run(args)


@pytest.mark.parametrize("module", ["accuracy", "errors", "speed"])
def test_benchmark_seed_range_checked(module, tmp_path, capsys):
    import importlib

    parse_args = importlib.import_module(f"benchmarks.{module}").parse_args

    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / "out"), "--seed", "-1"])
    assert "argument --seed: expected a seed from 0 to 4294967295" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["accuracy", "speed"])
def test_benchmark_out_below_file_rejected(module, tmp_path, capsys):
    import importlib

    parse_args = importlib.import_module(f"benchmarks.{module}").parse_args
    (tmp_path / "afile").write_text("x")

    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / "afile" / "out")])
    assert "which is a file" in capsys.readouterr().err


def test_errors_invalid_widths_leave_no_folder(tmp_path, capsys):
    from benchmarks.errors import main

    out = tmp_path / "out"
    code = main(["--out", str(out), "--quick", "--widths", "4", "4", "4", "4", "4", "4", "4", "4"])

    assert code == 2
    assert "or fewer blocks" in capsys.readouterr().err
    assert not out.exists()


def test_benchmark_out_odd_paths_rejected(tmp_path, capsys):
    from benchmarks.accuracy import parse_args

    loop = tmp_path / "loop"
    loop.symlink_to(loop)

    with pytest.raises(SystemExit):
        parse_args(["--out", str(loop)])
    assert "symbolic link to nothing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--out", str(tmp_path / ("a" * 300))])
    assert "cannot be used" in capsys.readouterr().err


def interrupted_benchmark(out: Path, progress: dict | None) -> None:
    """Stand-in for a benchmark's run: write ``progress`` (when given), then stop as Ctrl-C would."""
    if progress is not None:
        write_atomic(out / "progress.json", json.dumps(progress))
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (None, "bench: interrupted\n"),
        ({}, "bench: interrupted\n"),
        ({"loo/siamese/0": {}, "loo/siamese/1": {}}, "bench: interrupted. 2 finished folds are kept in {path}; run the same command again to skip them and resume.\n"),
    ],
)
def test_interrupted_benchmark_names_kept_folds(tmp_path, capsys, records, expected):
    import argparse
    import logging

    from benchmarks.report import run_benchmark

    progress = None if records is None else {"signature": {"seed": 0}, "records": records}
    args = argparse.Namespace(out=str(tmp_path))

    code = run_benchmark("bench", lambda args: interrupted_benchmark(tmp_path, progress), args, logging.getLogger("bench"))

    assert code == 130
    assert capsys.readouterr().err == expected.format(path=tmp_path / "progress.json")


def test_interrupted_benchmark_ignores_older_progress(tmp_path, capsys):
    import argparse
    import logging

    from benchmarks.report import run_benchmark

    # A file of an earlier run with other settings stays unchanged until a new fold finishes.
    write_atomic(tmp_path / "progress.json", json.dumps({"signature": {"seed": 1}, "records": {"loo/siamese/0": {}}}))
    os.utime(tmp_path / "progress.json", (0, 0))

    code = run_benchmark("bench", lambda args: interrupted_benchmark(tmp_path, None), argparse.Namespace(out=str(tmp_path)), logging.getLogger("bench"))

    assert code == 130
    assert capsys.readouterr().err == "bench: interrupted\n"
