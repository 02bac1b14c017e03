"""The AT&T downloader against a local HTTP server on 127.0.0.1, never the network."""

import functools
import http.server
import shutil
import threading
import zipfile

import pytest

from siamese.download import _fetch, download_att_faces, ensure_att_faces, needs_download, verify_att_faces


@pytest.fixture
def serve_folder():
    """Serve a folder over HTTP on 127.0.0.1 and return its base URL."""
    servers = []

    def start(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def serve_cut_off():
    """Serve 100 kB under a ``Content-Length`` of 4 MB, then close the connection.

    Returns the archive URL on 127.0.0.1.
    """

    class CutOffHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(4_000_000))
            self.end_headers()
            self.wfile.write(b"PK" + bytes(100_000 - 2))
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutOffHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/att_faces.zip"
    server.shutdown()
    server.server_close()


def zip_att_folder(source, archive, corrupt=None):
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                relative = path.relative_to(source).as_posix()
                if relative == corrupt:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                zipped.writestr(f"att_faces/{relative}", data)


def test_download_verifies_and_places(att_dir, tmp_path, serve_folder):
    served = tmp_path / "served"
    served.mkdir()
    zip_att_folder(att_dir, served / "att_faces.zip")
    destination = tmp_path / "data" / "att_faces"

    result = download_att_faces(destination, url=f"{serve_folder(served)}/att_faces.zip", progress=False)

    assert result == destination
    assert (destination / "s40" / "10.pgm").is_file()
    assert verify_att_faces(destination) == []
    assert [p.name for p in destination.parent.iterdir()] == ["att_faces"]


def test_corrupt_file_rejected_and_nothing_written(att_dir, tmp_path, serve_folder):
    served = tmp_path / "served"
    served.mkdir()
    zip_att_folder(att_dir, served / "att_faces.zip", corrupt="s7/3.pgm")
    destination = tmp_path / "data" / "att_faces"

    with pytest.raises(ValueError, match="s7/3.pgm"):
        download_att_faces(destination, url=f"{serve_folder(served)}/att_faces.zip", progress=False)
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []


def test_not_a_zip_rejected(tmp_path, serve_folder):
    served = tmp_path / "served"
    served.mkdir()
    (served / "att_faces.zip").write_text("<html>moved</html>")
    with pytest.raises(ValueError, match="not a zip"):
        download_att_faces(tmp_path / "out", url=f"{serve_folder(served)}/att_faces.zip", progress=False)


def test_offline_says_how_to_place_files(tmp_path, serve_folder):
    base = serve_folder(tmp_path)  # serves an empty folder: the archive is missing (404)
    with pytest.raises(ConnectionError, match="by hand"):
        download_att_faces(tmp_path / "out", url=f"{base}/att_faces.zip", progress=False)


def test_existing_verified_copy_reused(att_dir):
    assert download_att_faces(att_dir, url="http://127.0.0.1:9/unused.zip") == att_dir


def test_existing_incomplete_folder_rejected(tmp_path):
    (tmp_path / "att_faces").mkdir()
    (tmp_path / "att_faces" / "README").write_text("partial")
    with pytest.raises(FileExistsError, match="Remove it") as raised:
        download_att_faces(tmp_path / "att_faces", url="http://127.0.0.1:9/unused.zip")
    assert "401 of 401 files" in str(raised.value)
    assert "README (checksum mismatch)" in str(raised.value)
    assert (tmp_path / "att_faces" / "README").read_text() == "partial"


def test_missing_readme_named(att_dir, tmp_path):
    copy = tmp_path / "att_faces"
    shutil.copytree(att_dir, copy, ignore=shutil.ignore_patterns("README"))
    with pytest.raises(FileExistsError, match=r"1 of 401 files .*README \(missing\)"):
        download_att_faces(copy, url="http://127.0.0.1:9/unused.zip")


def test_cut_off_download_reported(tmp_path, serve_cut_off):
    destination = tmp_path / "data" / "att_faces"

    with pytest.raises(ConnectionError, match="cut off") as raised:
        download_att_faces(destination, url=serve_cut_off, progress=False)

    message = str(raised.value)
    assert "100,000 of 4,000,000 bytes" in message
    assert serve_cut_off in message
    assert "retry" in message.lower()
    assert list(destination.parent.iterdir()) == []


def test_cut_off_fetch_leaves_no_file(tmp_path, serve_cut_off):
    target = tmp_path / "att_faces.zip"
    with pytest.raises(ConnectionError, match="cut off"):
        _fetch(serve_cut_off, target, timeout=10.0, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_empty_folder_filled(att_dir, tmp_path, serve_folder):
    served = tmp_path / "served"
    served.mkdir()
    zip_att_folder(att_dir, served / "att_faces.zip")
    destination = tmp_path / "data" / "att_faces"
    destination.mkdir(parents=True)

    download_att_faces(destination, url=f"{serve_folder(served)}/att_faces.zip", progress=False)

    assert verify_att_faces(destination) == []
    assert [p.name for p in destination.parent.iterdir()] == ["att_faces"]


def test_file_destination_rejected(tmp_path):
    not_a_folder = tmp_path / "att_faces.zip"
    not_a_folder.write_bytes(b"PK")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        download_att_faces(not_a_folder, url="http://127.0.0.1:9/unused.zip")
    assert not_a_folder.read_bytes() == b"PK"


def test_no_download_advice_for_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is empty") as raised:
        ensure_att_faces(tmp_path, download=False)
    assert f"siamese download --data {tmp_path}" in str(raised.value)


def test_no_download_advice_for_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ensure_att_faces(tmp_path / "nowhere", download=False)


def test_needs_download_reads_listing_only(tmp_path):
    (tmp_path / "filled").mkdir()
    (tmp_path / "filled" / "notes.txt").write_text("not checked here")

    assert needs_download(tmp_path / "filled") is False
    assert needs_download(tmp_path / "nowhere") is True
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(NotADirectoryError, match="received the file"):
        needs_download(tmp_path / "filled" / "notes.txt", download=False)


def test_symlinked_empty_folder_filled(att_dir, tmp_path, serve_folder):
    served = tmp_path / "served"
    served.mkdir()
    zip_att_folder(att_dir, served / "att_faces.zip")
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)

    returned = download_att_faces(link, url=f"{serve_folder(served)}/att_faces.zip", progress=False)

    assert returned == link
    assert link.is_symlink()
    assert verify_att_faces(target) == []


def test_working_folder_not_replaced(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)

    with pytest.raises(ValueError, match="the working folder or a folder above it"):
        download_att_faces(".", url="http://127.0.0.1:9/unused.zip")
    assert empty.is_dir()


def test_content_length_parsed():
    from siamese.download import _content_length

    assert _content_length("4000") == 4000
    assert _content_length(None) is None
    assert _content_length("abc") is None
    assert _content_length("0") is None


def test_symlink_loop_destination_named(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)

    with pytest.raises(ValueError, match="Remove the link or pass another folder"):
        download_att_faces(loop, url="http://127.0.0.1:9/unused.zip")
