"""The AT&T downloader against a local HTTP server on 127.0.0.1, never the network."""

import functools
import http.server
import threading
import zipfile

import pytest

from siamese.download import download_att_faces, verify_att_faces


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
    with pytest.raises(FileExistsError, match="remove it"):
        download_att_faces(tmp_path / "att_faces", url="http://127.0.0.1:9/unused.zip")
