"""`siamese train` end to end on the real AT&T folder, and its input checks."""

import csv
import json
import logging
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

QUICK = ["--epochs", "2", "--steps-per-epoch", "3", "--image-size", "28x23", "--quiet"]


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "siamese", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quick_run(att_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = run_cli("train", "--data", att_dir, "--out", out, "--no-download", *QUICK)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_train_writes_every_output(quick_run):
    out, _ = quick_run
    for name in [
        "model.keras", "config.json", "history.csv", "metrics.json",
        "training_curves.png", "roc.png", "distance_histogram.png", "test_pairs.png",
    ]:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name


def test_finished_run_leaves_no_checkpoint(quick_run):
    assert not (quick_run[0] / "checkpoint").exists()


def test_metrics_hold_required_keys(quick_run):
    metrics = json.loads((quick_run[0] / "metrics.json").read_text())
    for key in ["one_shot_accuracy", "n_way", "roc_auc", "eer", "verification_accuracy", "threshold", "train_seconds"]:
        assert key in metrics, key
    assert metrics["n_way"] == 5
    assert 0.0 <= metrics["one_shot_accuracy"] <= 1.0
    # Two quick epochs already beat chance (0.2 for 5-way) by a wide margin.
    assert metrics["one_shot_accuracy"] > 0.4


def test_history_has_one_row_per_epoch(quick_run):
    rows = list(csv.DictReader((quick_run[0] / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"loss", "accuracy", "val_one_shot_accuracy"} <= set(rows[0])


def test_config_records_split(quick_run):
    config = json.loads((quick_run[0] / "config.json").read_text())
    assert config["test_identities"] == ["s36", "s37", "s38", "s39", "s40"]
    assert config["config"]["epochs"] == 2


def test_summary_printed(quick_run):
    assert "one_shot_accuracy" in quick_run[1].stdout


def test_existing_out_not_overwritten(quick_run, att_dir):
    out, _ = quick_run
    before = (out / "metrics.json").read_bytes()
    result = run_cli("train", "--data", att_dir, "--out", out, "--no-download", *QUICK)
    assert result.returncode == 2
    assert "--overwrite" in result.stderr
    assert (out / "metrics.json").read_bytes() == before


def test_missing_data_without_download(tmp_path):
    result = run_cli("train", "--data", tmp_path / "absent", "--out", tmp_path / "out", "--no-download")
    assert result.returncode == 2
    assert "siamese download" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # bad data leaves no empty run folder


def test_file_as_data_rejected(att_dir, tmp_path):
    result = run_cli("train", "--data", att_dir / "s1" / "1.pgm", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "received the file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_too_few_identities_rejected(att_dir, tmp_path):
    few = tmp_path / "few"
    few.mkdir()
    for name in ("s1", "s2", "s3", "s4", "s5"):
        (few / name).symlink_to(att_dir / name)

    result = run_cli("train", "--data", few, "--out", tmp_path / "out", "--epochs", "1")

    assert result.returncode == 2
    assert "at least 10 identities" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_optimizer_lists_choices(tmp_path):
    result = run_cli("train", "--out", tmp_path / "out", "--optimizer", "adamax2")
    assert result.returncode == 2
    assert "rmsprop" in result.stderr


def test_bad_image_size_rejected(tmp_path):
    result = run_cli("train", "--out", tmp_path / "out", "--image-size", "56by46")
    assert result.returncode == 2
    assert "HEIGHTxWIDTH" in result.stderr


def test_data_defaults_to_environment(tmp_path):
    # With no --data, the folder comes from SIAMESE_ATT_DIR; an empty one plus --no-download
    # must fail naming that folder, not data/att_faces.
    folder = tmp_path / "from_env"
    env = {**os.environ, "SIAMESE_ATT_DIR": str(folder)}
    result = subprocess.run(
        [sys.executable, "-m", "siamese", "train", "--out", str(tmp_path / "out"), "--no-download"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 2
    assert str(folder) in result.stderr
    assert f"AT&T faces: {folder} (from $SIAMESE_ATT_DIR)" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": -1}, "seed must be an integer from 0"),
        ({"seed": 2**32}, "seed must be an integer from 0"),
        ({"margin": float("inf")}, "margin must be a positive finite"),
        ({"identification_weight": float("inf")}, "identification_weight must be 0 or a positive finite"),
        ({"learning_rate": float("inf")}, "learning_rate must be a positive finite"),
    ],
)
def test_config_rejects_out_of_range(overrides, message):
    from siamese.config import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--seed", "-1", "expected a seed from 0 to 4294967295"),
        ("--seed", "99999999999999999999", "expected a seed from 0 to 4294967295"),
        ("--identification-weight", "inf", "expected 0 or a positive finite number"),
        ("--margin", "1e400", "expected a positive finite number"),
        ("--image-size", "100000x100000", "expected at most 512 pixels a side"),
    ],
)
def test_train_options_out_of_range(option, value, message, tmp_path, capsys):
    from siamese.cli import main

    with pytest.raises(SystemExit) as raised:
        main(["train", "--out", str(tmp_path / "out"), option, value])

    assert raised.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_test_identities_need_two_images():
    import numpy as np

    from siamese.data import FaceDataset
    from siamese.evaluation import check_test_identities

    labels = np.array([0, 0, 1, 2, 2])
    dataset = FaceDataset(np.zeros((5, 4, 4, 1), np.float32), labels, ("ann", "bob", "cid"), tuple(f"{i}.pgm" for i in range(5)))

    check_test_identities(dataset, ["ann", "cid"])
    with pytest.raises(ValueError, match=r"bob \(1 image\) has fewer\. Add images"):
        check_test_identities(dataset, ["ann", "bob"])


def test_too_small_image_size_rejected_before_out(tmp_path, capsys):
    from siamese.cli import main

    code = main(["train", "--out", str(tmp_path / "out"), "--image-size", "7x7", "--no-download"])

    assert code == 2
    assert "7x7 is too small for the network's 3 convolution blocks" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _names_dataset(names):
    import numpy as np

    from siamese.data import FaceDataset

    labels = np.repeat(np.arange(len(names)), 2)
    return FaceDataset(np.zeros((len(labels), 4, 4, 1), np.float32), labels, tuple(names), tuple(f"{i}.pgm" for i in range(len(labels))))


def test_split_warns_about_extra_folders(caplog):
    from siamese.job import split_identities

    names = [f"s{i}" for i in range(1, 41)] + ["me"]
    with caplog.at_level(logging.WARNING, logger="siamese.job"):
        train_names, test_names, split = split_identities(_names_dataset(names), seed=0)

    assert split.startswith("standard")
    assert "me" not in train_names + test_names
    assert "Leaving out 1 folder(s) beyond s1-s40 (me)" in caplog.text


def test_split_warns_about_missing_subject(caplog):
    from siamese.job import split_identities

    names = [f"s{i}" for i in range(1, 41) if i != 37]
    with caplog.at_level(logging.WARNING, logger="siamese.job"):
        _, test_names, split = split_identities(_names_dataset(names), seed=0)

    assert split.startswith("seeded hold-out")
    assert len(test_names) == 8
    assert "lacks s37 of the AT&T subjects" in caplog.text
    assert "not comparable" in caplog.text


REJECTION_SCRIPT = """
import sys
from siamese.cli import main
status = main(sys.argv[1:])
print("tensorflow imported" if "tensorflow" in sys.modules else "tensorflow not imported")
sys.exit(status)
"""


def run_rejection(*args):
    """Run ``siamese`` in a fresh interpreter that reports whether TensorFlow got imported."""
    return subprocess.run(
        [sys.executable, "-c", REJECTION_SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_finished_out_rejected_before_tensorflow(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{}")

    result = run_rejection("train", "--data", tmp_path / "absent", "--out", out)

    assert result.returncode == 2
    assert "already contains files from an earlier run" in result.stderr
    assert "tensorflow not imported" in result.stdout


def test_missing_data_rejected_before_tensorflow(tmp_path):
    result = run_rejection("train", "--data", tmp_path / "absent", "--out", tmp_path / "out", "--no-download")

    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "tensorflow not imported" in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("restored", "session", "expected"),
    [
        (0, 12.34, "Trained 6 epochs in 12.3 s; training time in all: 12.5 s"),
        (4, 5.0, "Trained epochs 5-6 in 5.0 s after restoring 4 from the checkpoint; training time in all: 12.5 s"),
        (5, 2.0, "Trained epoch 6 in 2.0 s after restoring 5 from the checkpoint; training time in all: 12.5 s"),
        (6, 0.0, "All 6 epochs were restored from the checkpoint, so none was trained again; training time in all: 12.5 s"),
    ],
)
def test_training_time_description(restored, session, expected):
    from siamese.training import describe_training_time

    assert describe_training_time(restored, 6, session, 12.5) == expected


HOLD_LOCK = """
import sys, time
from siamese.run_folder import lock_output_folder
with lock_output_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held_lock(tmp_path):
    """Hold the lock on ``tmp_path / "run"`` in another process; yields ``(folder, pid)``."""
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield folder, holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_lock_rejects_second_process(held_lock):
    from siamese.run_folder import lock_output_folder

    folder, pid = held_lock

    with pytest.raises(FileExistsError) as caught:
        with lock_output_folder(folder):
            pass

    assert f"Another siamese train is using {folder} (pid {pid})" in str(caught.value)


def test_train_rejects_locked_out(held_lock, att_dir, capsys):
    from siamese import cli

    folder, pid = held_lock

    status = cli.main(["train", "--data", str(att_dir), "--out", str(folder), "--overwrite"])

    assert status == 2
    assert f"(pid {pid})" in capsys.readouterr().err


def test_lock_released_when_holder_dies(held_lock):
    from siamese.run_folder import lock_output_folder

    folder, pid = held_lock
    os.kill(pid, 9)
    os.waitpid(pid, 0)

    with lock_output_folder(folder) as locked:
        assert (locked / ".siamese.lock").read_text() == f"{os.getpid()} siamese train\n"


def test_lock_leaves_no_empty_folder(tmp_path):
    from siamese.run_folder import lock_output_folder

    with pytest.raises(ValueError):
        with lock_output_folder(tmp_path / "run"):
            raise ValueError("bad data")

    assert not (tmp_path / "run").exists()


def test_lock_file_not_counted(tmp_path):
    from siamese.files import check_output_dir
    from siamese.run_folder import lock_output_folder, stopped_before_first_epoch

    folder = tmp_path / "run"
    with lock_output_folder(folder):
        assert check_output_dir(folder) == folder
        (folder / "config.json").write_text("{}")
        assert stopped_before_first_epoch(folder)

    assert not (folder / ".siamese.lock").exists()  # this call created it, so it removed it
    assert stopped_before_first_epoch(folder)


def test_lock_names_holder_command(tmp_path):
    from siamese.run_folder import lock_output_folder

    folder = tmp_path / "run"
    # flock locks belong to the open file, so a lock held here blocks a second open in this process too.
    with lock_output_folder(folder, "siamese train"):
        with pytest.raises(FileExistsError) as caught:
            with lock_output_folder(folder, "siamese compare"):
                pass

    assert f"Another siamese train is using {folder} (pid {os.getpid()})" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "holder"),
    [("123\n", "siamese command is using {folder} (pid 123)"), ("", "siamese command is using {folder} (pid unknown)")],
)
def test_lock_holder_without_command(tmp_path, text, holder):
    import fcntl

    from siamese.run_folder import lock_output_folder

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".siamese.lock").write_text(text)  # as written by an older version, or not yet written

    with open(folder / ".siamese.lock") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(FileExistsError) as caught:
            with lock_output_folder(folder, "siamese compare"):
                pass

    assert f"Another {holder.format(folder=folder)}" in str(caught.value)
    assert (folder / ".siamese.lock").read_text() == text


def test_lock_keeps_folder_made_before(tmp_path):
    from siamese.run_folder import lock_output_folder

    folder = tmp_path / "run"
    folder.mkdir()

    with pytest.raises(ValueError):
        with lock_output_folder(folder):
            raise ValueError("bad data")

    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_lock_removes_only_created_parents(tmp_path):
    from siamese.run_folder import lock_output_folder

    (tmp_path / "lk").mkdir()

    with pytest.raises(ValueError):
        with lock_output_folder(tmp_path / "lk" / "new" / "parent" / "run"):
            raise ValueError("bad data")

    assert (tmp_path / "lk").is_dir()
    assert not (tmp_path / "lk" / "new").exists()


def test_lock_keeps_lock_file_found(tmp_path):
    from siamese.run_folder import lock_output_folder

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".siamese.lock").write_text("123\n")

    with lock_output_folder(folder):
        pass

    assert (folder / ".siamese.lock").is_file()


def test_lock_on_replaced_file_not_held(tmp_path, monkeypatch):
    import fcntl

    from siamese import run_folder

    folder = tmp_path / "run"
    lock_path = folder / ".siamese.lock"
    real_open = run_folder._open_lock_file
    newer = []

    def open_then_replace(path):
        # Another command removes the file after this one opened it, and a third creates and locks a new one.
        opened = real_open(path)
        path.unlink()
        newer.append(open(path, "w"))
        fcntl.flock(newer[0], fcntl.LOCK_EX)
        return opened

    monkeypatch.setattr(run_folder, "_open_lock_file", open_then_replace)
    try:
        with pytest.raises(FileExistsError, match="Another siamese command is using"):
            with run_folder.lock_output_folder(folder):
                pass
    finally:
        newer[0].close()
    assert lock_path.is_file()


def test_lock_retries_on_removed_file(tmp_path, monkeypatch):
    import fcntl

    from siamese import run_folder

    folder = tmp_path / "run"
    lock_path = folder / ".siamese.lock"
    real_open = run_folder._open_lock_file
    calls = []

    def open_then_remove(path):
        # The holder before this command removes the file just after this command opened it.
        calls.append(path)
        opened = real_open(path)
        if len(calls) == 1:
            path.unlink()
        return opened

    monkeypatch.setattr(run_folder, "_open_lock_file", open_then_remove)

    with run_folder.lock_output_folder(folder):
        assert len(calls) == 2
        with open(lock_path) as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize("files", [["a.jpg"], ["config.json", "metrics.json", "model.keras"]])
def test_rejected_out_left_unchanged(tmp_path, files):
    out = tmp_path / "out"
    out.mkdir()
    for name in files:
        (out / name).write_text("x")

    result = run_rejection("train", "--data", tmp_path / "absent", "--out", out)

    assert result.returncode == 2
    assert "already contains files" in result.stderr
    assert sorted(entry.name for entry in out.iterdir()) == files


def test_bad_data_keeps_user_folders(tmp_path):
    made = tmp_path / "runs" / "a"
    made.mkdir(parents=True)
    (tmp_path / "lk").mkdir()

    for out in (made, tmp_path / "lk" / "new" / "parent" / "run"):
        result = run_rejection("train", "--data", tmp_path / "absent", "--out", out, "--no-download")
        assert result.returncode == 2
        assert "does not exist" in result.stderr

    assert made.is_dir()
    assert list(made.iterdir()) == []
    assert list((tmp_path / "lk").iterdir()) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # 16 × 65 = 1040 images, just above the 1024-image maximum; 16 × 64 = 1024 is accepted below.
        ({"identities_per_batch": 16, "images_per_identity": 65}, r"= 1040 images exceeds the maximum of 1024"),
        ({"embedding_dim": 4097}, "embedding_dim .* must be an integer from 1 to 4096; received 4097"),
        # 16x16 input, 3 blocks: 2 × 2 pixels × 128 filters = 512 flattened features.
        ({"image_size": (16, 16), "embedding_dim": 513}, "from 1 to 512; received 513"),
        ({"blended_identities": 1001}, "must be at most 1000, .*received 1001"),
    ],
)
def test_config_rejects_sizes_above_maximum(overrides, message):
    from siamese.config import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


def test_config_accepts_sizes_at_maximum():
    from siamese.config import TrainConfig

    TrainConfig(identities_per_batch=16, images_per_identity=64)
    TrainConfig(image_size=(16, 16), embedding_dim=512)
    TrainConfig(blended_identities=1000)


def test_training_set_check_names_data_limits():
    import numpy as np

    from siamese.config import TrainConfig

    # Three people with 2, 3 and 1 images.
    labels = np.array([0, 0, 1, 1, 1, 2])
    TrainConfig(identities_per_batch=3, images_per_identity=3, blended_identities=0).check_training_set(labels)
    TrainConfig(identities_per_batch=5, images_per_identity=2, blended_identities=2).check_training_set(labels)

    with pytest.raises(ValueError, match=r"is 4, but training has only 3 identities \(3 people and 0 blended\)\. Pass at most 3"):
        TrainConfig(identities_per_batch=4, blended_identities=0).check_training_set(labels)
    with pytest.raises(ValueError, match="is 4, but no training person has more than 3 images. Pass at most 3"):
        TrainConfig(identities_per_batch=3, images_per_identity=4, blended_identities=0).check_training_set(labels)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--images-per-identity", "11"], "no training person has more than 10 images"),
        (["--identities-per-batch", "36", "--blended-identities", "0"], "training has only 35 identities"),
    ],
)
def test_train_rejects_batch_above_data(options, message, att_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("train", "--data", att_dir, "--out", out, "--no-download", *QUICK, *options, timeout=300)

    assert result.returncode == 2
    assert message in result.stderr
    # No config.json is left behind to block the next command in --out.
    assert not out.exists()


def test_resume_above_data_names_overwrite(att_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # A run that an older version started with a batch the data cannot fill, stopped before epoch 1 ended.
    (out / "config.json").write_text("{}")

    result = run_cli("train", "--data", att_dir, "--out", out, "--no-download", *QUICK, "--images-per-identity", "11", timeout=300)

    assert result.returncode == 2
    assert f"{out} contains an unfinished run that these settings cannot resume" in result.stderr
    assert "no training person has more than 10 images" in result.stderr
    assert "Pass --overwrite with the smaller value" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(entry.name for entry in out.iterdir()) == ["config.json"]
