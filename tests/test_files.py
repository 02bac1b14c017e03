"""Tests of atomic writes and output folders."""

from __future__ import annotations

import errno
import os

import pytest

from siamese.files import WriteFailedError, atomic_write, check_output_dir, make_folder, prepare_output_dir, write_text


def test_write_text_replaces_whole_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")

    write_text(path, "new")

    assert path.read_text() == "new"
    assert [entry.name for entry in tmp_path.iterdir()] == ["notes.txt"]


def test_failed_write_leaves_old_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")

    def fail(temporary):
        temporary.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail)

    assert path.read_text() == "old"
    assert [entry.name for entry in tmp_path.iterdir()] == ["notes.txt"]


def test_make_folder_under_file_named(tmp_path):
    (tmp_path / "afile").write_text("x")

    with pytest.raises(NotADirectoryError, match=r"afile is a file"):
        make_folder(tmp_path / "afile" / "sub")
    with pytest.raises(NotADirectoryError, match=r"afile is a file"):
        write_text(tmp_path / "afile" / "sub" / "crop.png", "x")
    assert make_folder(tmp_path / "a" / "b").is_dir()


def test_output_dir_under_file_rejected(tmp_path):
    (tmp_path / "afile").write_text("x")

    with pytest.raises(NotADirectoryError, match=r"lies under .*afile, which is a file"):
        check_output_dir(tmp_path / "afile" / "sub")
    with pytest.raises(NotADirectoryError, match=r"afile is a file; choose a folder name"):
        prepare_output_dir(tmp_path / "afile")


def test_unwritable_folder_names_target(tmp_path, monkeypatch):
    real_open = os.open

    def reject_temporary(path, flags, mode=0o777):
        if ".tmp" in str(path):
            raise PermissionError(1, "Operation not permitted", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", reject_temporary)

    with pytest.raises(PermissionError) as caught:
        write_text(tmp_path / "config.json", "{}")

    message = str(caught.value)
    assert f"Cannot write {tmp_path / 'config.json'}" in message
    assert "Operation not permitted" in message
    assert ".tmp" not in message


def test_atomic_write_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    write_text("~/sub/notes.txt", "hello")

    assert (tmp_path / "sub" / "notes.txt").read_text() == "hello"
    assert not (tmp_path / "~").exists()


def test_gallery_and_download_under_file_named(tmp_path):
    from siamese.download import download_att_faces
    from siamese.gallery import open_gallery

    (tmp_path / "afile").write_text("x")

    with pytest.raises(NotADirectoryError, match="afile is a file"):
        open_gallery(tmp_path / "afile" / "people.db", "fingerprint", create=True, embedding_dim=4)
    with pytest.raises(NotADirectoryError, match="afile is a file"):
        download_att_faces(tmp_path / "afile" / "att_faces", url="http://127.0.0.1:9/never-used.zip", progress=False)


def test_long_target_name_written(tmp_path):
    path = tmp_path / ("a" * 245 + ".txt")

    write_text(path, "long")

    assert path.read_text() == "long"
    assert [entry.name for entry in tmp_path.iterdir()] == [path.name]


def _raise_errno(number: int):
    def fail(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    return fail


@pytest.mark.parametrize(
    ("number", "cause", "fix"),
    [
        (errno.EROFS, "mounted read-only", "remount it read-write"),
        (errno.ENOSPC, "no space is left on the device", "Free space there"),
        (errno.EDQUOT, "disk quota", "outside the quota"),
    ],
)
def test_storage_error_on_create_named(tmp_path, monkeypatch, number, cause, fix):
    monkeypatch.setattr(os, "open", _raise_errno(number))

    with pytest.raises(WriteFailedError) as caught:
        write_text(tmp_path / "notes.txt", "text")

    message = str(caught.value)
    assert caught.value.errno == number
    assert str(tmp_path / "notes.txt") in message
    assert f"{cause}" in message
    assert str(tmp_path) in message
    assert fix in message


def test_full_disk_during_write_cleans_up(tmp_path):
    def fill_disk(temporary):
        temporary.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteFailedError, match="no space is left") as caught:
        atomic_write(tmp_path / "notes.txt", fill_disk)

    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_other_os_error_kept(tmp_path):
    def fail(temporary):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError) as caught:
        atomic_write(tmp_path / "notes.txt", fail)

    assert not isinstance(caught.value, WriteFailedError)
    assert caught.value.errno == errno.EIO


def test_read_only_folder_creation_named(tmp_path, monkeypatch):
    monkeypatch.setattr(type(tmp_path), "mkdir", _raise_errno(errno.EROFS))

    with pytest.raises(WriteFailedError, match="mounted read-only") as caught:
        make_folder(tmp_path / "new" / "run")

    assert str(tmp_path / "new" / "run") in str(caught.value)


def test_cli_reports_read_only_disk(tmp_path, monkeypatch, capsys):
    from siamese import cli

    # The download creates the parent folder before it opens any connection.
    monkeypatch.setattr(type(tmp_path), "mkdir", _raise_errno(errno.EROFS))

    status = cli.main(["download", "--data", str(tmp_path / "data" / "att_faces")])

    error = capsys.readouterr().err
    assert status == 2
    assert "siamese download: error: Cannot write" in error
    assert "mounted read-only" in error
    assert "Traceback" not in error
