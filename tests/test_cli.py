"""Argument errors of the ``siamese`` command, which need no model or data."""

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


@pytest.mark.parametrize("value", ["1", "0.9", "inf", "x"])
def test_scale_factor_must_exceed_one(value, capsys):
    with pytest.raises(SystemExit):
        main(["detect", "photo.jpg", "--scale-factor", value])

    assert "--scale-factor: expected a number greater than 1" in capsys.readouterr().err


def test_runtime_error_names_nested_action(tmp_path, capsys):
    missing = tmp_path / "missing.db"

    code = main(["gallery", "rename", "a", "b", "--gallery", str(missing)])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"siamese gallery rename: error: Gallery not found: {missing}")
