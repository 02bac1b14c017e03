"""Argument errors, interrupt messages and help text of the ``siamese`` command, which need no model or data."""

import json

import pytest

from siamese.cli import main


def test_misspelt_option_suggested(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["detect", "photo.jpg", "--min-neighbours", "3"])

    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert "usage: siamese detect" in err
    assert "unrecognized arguments: --min-neighbours 3. Did you mean --min-neighbors instead of --min-neighbours?" in err


def test_unknown_argument_of_nested_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["gallery", "list", "--gallery", "people.db", "--jsn"])

    err = capsys.readouterr().err
    assert "usage: siamese gallery list" in err
    assert "Did you mean --json instead of --jsn?" in err


def test_stray_word_has_no_suggestion(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", "runs/x", "fast"])

    err = capsys.readouterr().err
    assert "siamese train: error: unrecognized arguments: fast" in err
    assert "Did you mean" not in err


def test_misspelt_required_option_suggested(capsys):
    with pytest.raises(SystemExit):
        main(["identify", "photo.jpg", "--galery=people.db"])

    err = capsys.readouterr().err
    assert "the following arguments are required: --gallery" in err
    assert "Did you mean --gallery instead of --galery?" in err


def test_global_option_after_subcommand_hinted(capsys):
    with pytest.raises(SystemExit):
        main(["detect", "photo.jpg", "-v"])

    assert "-v is an option of `siamese` itself: put it before the subcommand." in capsys.readouterr().err


def test_unknown_option_before_subcommand_blames_siamese(capsys):
    with pytest.raises(SystemExit):
        main(["--bogus", "detect", "photo.jpg"])

    err = capsys.readouterr().err
    assert "siamese: error: unrecognized arguments: --bogus" in err
    assert "siamese detect" not in err


@pytest.mark.parametrize("value", ["1", "0.9", "1.00001", "1.049", "inf", "x"])
def test_scale_factor_below_minimum(value, capsys):
    with pytest.raises(SystemExit):
        main(["detect", "photo.jpg", "--scale-factor", value])

    err = capsys.readouterr().err
    assert "argument --scale-factor: expected a" in err
    assert "number of at least 1.05" in err
    assert f"received {value!r}" in err


def test_crash_exits_with_error_status(monkeypatch, capsys):
    # verify exits with 1 for "different people", so a bug must not exit with Python's 1.
    import siamese.commands.faces as faces

    def crash(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(faces, "run_verify", crash)

    code = main(["verify", "a.jpg", "b.jpg"])

    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" in err
    assert "siamese verify: internal error: RuntimeError: boom" in err


def test_runtime_error_names_nested_action(tmp_path, capsys):
    missing = tmp_path / "missing.db"

    code = main(["gallery", "rename", "a", "b", "--gallery", str(missing)])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"siamese gallery rename: error: Gallery not found: {missing}")


# --- Ctrl-C: what each command kept, and how to resume -----------------------------------


def interrupt_handlers(monkeypatch):
    """Make every subcommand's handler raise KeyboardInterrupt, as Ctrl-C during its work would."""
    import siamese.commands.compare
    import siamese.commands.download
    import siamese.commands.train

    def interrupted(args):
        raise KeyboardInterrupt

    for module in (siamese.commands.train, siamese.commands.compare, siamese.commands.download):
        monkeypatch.setattr(module, "run", interrupted)


def write_progress(out, epochs_done: int, epochs: int) -> None:
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "progress.json").write_text(json.dumps({"epochs_done": epochs_done, "config": {"epochs": epochs}}))


def test_interrupted_train_names_resume_epoch(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)
    out = tmp_path / "run"
    write_progress(out, 3, 6)

    code = main(["train", "--out", str(out)])

    assert code == 130
    err = capsys.readouterr().err
    assert err.startswith("siamese train: interrupted. Epochs 1-3 of 6 are saved in ")
    assert str(out / "checkpoint") in err
    assert "Run the same command again to resume from epoch 4." in err


def test_interrupted_train_after_last_epoch(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)
    out = tmp_path / "run"
    write_progress(out, 6, 6)

    main(["train", "--out", str(out)])

    assert "All 6 epochs are saved in" in capsys.readouterr().err


def test_interrupted_overwrite_resumes_without_it(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)
    out = tmp_path / "run"
    write_progress(out, 1, 6)

    main(["train", "--out", str(out), "--overwrite"])

    err = capsys.readouterr().err
    assert "Epoch 1 of 6 is saved in" in err
    assert "Run the command again without --overwrite to resume from epoch 2." in err


def test_interrupted_train_without_epoch(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)

    main(["train", "--out", str(tmp_path / "run")])

    err = capsys.readouterr().err
    assert "No epoch had finished" in err
    assert "resume" not in err


def test_interrupted_compare_counts_finished_runs(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)
    out = tmp_path / "comparison"
    (out / "runs").mkdir(parents=True)
    for name in ("adam-seed0-fold0.json", "sgd-seed0-fold0.json"):
        (out / "runs" / name).write_text("{}")

    code = main(["compare", "--out", str(out)])

    assert code == 130
    err = capsys.readouterr().err
    assert f"siamese compare: interrupted. 2 finished runs are kept in {out / 'runs'}." in err
    assert "train only the missing ones" in err


def test_interrupted_download_promises_nothing(tmp_path, monkeypatch, capsys):
    interrupt_handlers(monkeypatch)

    code = main(["download", "--data", str(tmp_path / "faces")])

    assert code == 130
    assert capsys.readouterr().err == "siamese download: interrupted\n"


# --- help text -----------------------------------------------------------------------------


def test_compare_help_lists_default_optimizers(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: rmsprop adam sgd adagrad nadam adamw)" in help_text
    assert "['rmsprop'" not in help_text


def test_download_help_mentions_verification(capsys):
    with pytest.raises(SystemExit):
        main(["download", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "When --data already contains files, nothing is downloaded or changed: the files are verified" in help_text


# --- JSON output ---------------------------------------------------------------------------


def test_json_text_keeps_boxes_on_one_line():
    from siamese.commands.faces import _json_text

    results = [{"path": "a,\n[1, 2]", "faces": [{"box": [10, 20, -3, 40], "distance": 1.06e-06}], "boxes": [[1, 2, 3, 4]]}]

    text = _json_text(results)

    assert json.loads(text) == results
    assert '"box": [10, 20, -3, 40],' in text
    assert "      [1, 2, 3, 4]\n" in text
    assert '"path": "a,\\n[1, 2]"' in text
    assert len(text.splitlines()) == 14
