"""Download the AT&T Database of Faces and verify it file by file."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from siamese.files import WriteFailedError, explain_storage_errors, make_folder

logger = logging.getLogger(__name__)

ATT_FACES_URL = "http://www.cl.cam.ac.uk/Research/DTG/attarchive/pub/data/att_faces.zip"

# SHA-256 of each of the 401 files (README and s1/1.pgm … s40/10.pgm) of the published
# database, in `sha256sum` format. The archive's own hash is not pinned because only its
# contents matter: a repacked archive with identical files is accepted.
CHECKSUM_FILE = "att_faces.sha256"


def expected_checksums() -> dict[str, str]:
    """Return the packaged SHA-256 of each AT&T file, keyed by path relative to the folder."""
    text = resources.files("siamese").joinpath(CHECKSUM_FILE).read_text(encoding="ascii")
    checksums = {}
    for line in text.splitlines():
        digest, relative = line.split(maxsplit=1)
        checksums[relative.strip()] = digest
    return checksums


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_att_faces(folder: str | os.PathLike) -> list[str]:
    """Check every AT&T file in ``folder`` against the packaged SHA-256 checksums.

    Returns:
        Relative paths that are missing or whose content differs; empty when all match.
    """
    folder = Path(folder)
    problems = []
    for relative, digest in expected_checksums().items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"{relative} (missing)")
        elif sha256_of(path) != digest:
            problems.append(f"{relative} (checksum mismatch)")
    return problems


def describe_problems(problems: list[str], *, max_listed: int = 3) -> str:
    """Summarize ``verify_att_faces`` output as a count and the first ``max_listed`` problems."""
    total = len(expected_checksums())
    listed = ", ".join(problems[:max_listed])
    summary = f"{len(problems)} of {total} files failed verification: {listed}"
    if len(problems) > max_listed:
        summary += f" and {len(problems) - max_listed} more"
    return summary


def download_att_faces(
    destination: str | os.PathLike,
    *,
    url: str = ATT_FACES_URL,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download, verify and unpack the AT&T faces into ``destination``.

    The archive is fetched into a temporary folder beside ``destination``, every file is
    checked against the packaged SHA-256 checksums, and only then is the folder renamed into
    place, so an interrupted or corrupted download never leaves a partial dataset behind.

    Args:
        destination: folder to create, for example ``data/att_faces``. It may exist if it is
            empty. A non-empty folder is never changed: the function returns it when it
            contains a verified copy and raises FileExistsError otherwise.
        url: archive address; tests point it at a local server.
        timeout: seconds to wait for the server before giving up.
        progress: show a progress bar while downloading.

    Returns:
        ``destination`` as a :class:`~pathlib.Path`.

    Raises:
        ConnectionError: the archive could not be fetched or the download was cut off. The
            message explains how to place the files by hand.
        ValueError: the archive does not contain the AT&T faces or a file fails its checksum.
        NotADirectoryError: ``destination`` is a file.
        WriteFailedError: the disk of ``destination`` is read-only, full or over quota.
        FileExistsError: ``destination`` is a non-empty folder without a verified copy. The
            message lists the first problems that verification found.
    """
    requested = Path(destination).expanduser()
    if _has_verified_copy(requested):
        logger.info("AT&T faces already present and verified in %s", requested)
        return requested

    # An empty folder is replaced by the unpacked one, so work on the real folder that a
    # symbolic link or "." names, and never on the working folder itself or one above it.
    try:
        destination = requested.resolve()
    except RuntimeError as error:  # Python 3.11 raises RuntimeError for a symbolic link loop
        raise ValueError(f"Cannot download into {requested}: {error}. Remove the link or pass another folder.") from error
    if destination == Path.cwd().resolve() or destination in Path.cwd().resolve().parents:
        raise ValueError(
            f"Cannot download into {requested}, the working folder or a folder above it, because the "
            f"download replaces the empty folder. Pass a subfolder such as data/att_faces."
        )

    make_folder(destination.parent)
    # A read-only, full or over-quota disk is reported with the folder and the fix.
    with explain_storage_errors(destination):
        with tempfile.TemporaryDirectory(prefix=".att_faces-", dir=destination.parent) as scratch:
            archive = Path(scratch) / "att_faces.zip"
            _fetch(url, archive, timeout=timeout, progress=progress)

            unpacked = Path(scratch) / "unpacked"
            try:
                with zipfile.ZipFile(archive) as zipped:
                    _safe_extract(zipped, unpacked)
            except zipfile.BadZipFile as error:
                raise ValueError(
                    f"The file downloaded from {url} is not a zip archive ({error}). The server may have "
                    f"sent another file, or cut the download short without saying how long it was. "
                    f"Retry, or download it by hand."
                ) from error

            root = _find_dataset_root(unpacked)
            problems = verify_att_faces(root)
            if problems:
                raise ValueError(
                    f"The archive from {url} was rejected because {describe_problems(problems)}. "
                    f"Nothing was written to {destination}."
                )

            # rmdir fails unless the folder is still empty, so files added meanwhile are never lost.
            if destination.is_dir():
                destination.rmdir()

            # A rename within one file system is atomic, so the folder appears complete or not at all.
            os.replace(root, destination)

    logger.info("AT&T faces downloaded and verified into %s", destination)
    return requested


def _has_verified_copy(destination: Path) -> bool:
    """Return True if ``destination`` contains a verified copy, False if it is absent or empty.

    Raises:
        NotADirectoryError: ``destination`` is a file.
        FileExistsError: ``destination`` is a non-empty folder that fails verification.
    """
    if not destination.exists():
        return False
    if not destination.is_dir():
        raise NotADirectoryError(
            f"{destination} is a file, not a folder. Pass the path of a folder to download the "
            f"AT&T faces into, for example data/att_faces."
        )
    if not any(destination.iterdir()):
        return False

    problems = verify_att_faces(destination)
    if problems:
        raise FileExistsError(
            f"{destination} exists but is not a complete AT&T copy because "
            f"{describe_problems(problems)}. The folder was left unchanged. Remove it or move it "
            f"away and run this again, or choose another folder."
        )
    return True


def _fetch(url: str, target: Path, *, timeout: float, progress: bool) -> None:
    """Download ``url`` into ``target``, which appears only once every byte has arrived.

    The body goes to ``target`` with a ``.part`` suffix first and is renamed once its size
    matches ``Content-Length`` (when the server sends one).

    Raises:
        ConnectionError: the request failed, or the body is shorter than ``Content-Length``.
        WriteFailedError: the disk of ``target`` is read-only, full or over quota.
    """
    manual_steps = (
        f"Download {url} by hand, unzip it, and pass the folder that holds s1 … s40 with "
        f"--data, or set SIAMESE_ATT_DIR to it."
    )
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            expected = _content_length(response.headers.get("Content-Length"))
            received = _copy_body(response, partial, total=expected, progress=progress)
    except WriteFailedError:
        # The local disk failed, not the connection, so the message names the folder instead.
        partial.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as error:
        partial.unlink(missing_ok=True)
        raise ConnectionError(f"Could not download the AT&T faces from {url}: {error}. {manual_steps}") from error

    # http.client (Python 3.11) returns b"" instead of raising IncompleteRead when the server
    # closes before Content-Length bytes, so the byte count is the only sign of a cut-off body.
    if expected is not None and received < expected:
        partial.unlink(missing_ok=True)
        raise ConnectionError(
            f"The download of {url} was cut off after {received:,} of {expected:,} bytes, so "
            f"the partial file was deleted. Retry the download. "
            f"{manual_steps}"
        )

    os.replace(partial, target)


def _content_length(header: str | None) -> int | None:
    """Return the byte count of a ``Content-Length`` header, or ``None`` when it is missing or invalid."""
    try:
        length = int(header)
    except (TypeError, ValueError):
        if header is not None:
            logger.warning("Ignoring the invalid Content-Length header %r", header)
        return None
    if length < 0:
        logger.warning("Ignoring the invalid Content-Length header %r", header)
    return length if length > 0 else None


def _copy_body(response, path: Path, *, total: int | None, progress: bool) -> int:
    """Write the body of ``response`` to ``path`` in 64 KiB blocks and return the byte count."""
    received = 0
    with explain_storage_errors(path), open(path, "wb") as handle, tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc="att_faces.zip",
        disable=not progress,
    ) as bar:
        for block in iter(lambda: response.read(1 << 16), b""):
            handle.write(block)
            bar.update(len(block))
            received += len(block)
    return received


def _safe_extract(zipped: zipfile.ZipFile, target: Path) -> None:
    target = target.resolve()
    for member in zipped.infolist():
        path = (target / member.filename).resolve()
        if not path.is_relative_to(target):
            raise ValueError(f"Archive member {member.filename!r} points outside the archive; so it was not unpacked.")
    zipped.extractall(target)


def _find_dataset_root(unpacked: Path) -> Path:
    """Return the folder inside ``unpacked`` that contains ``s1`` (archives differ in nesting)."""
    for candidate in [unpacked, *sorted(p for p in unpacked.rglob("*") if p.is_dir())]:
        if (candidate / "s1").is_dir():
            return candidate
    raise ValueError("The downloaded archive contains no s1 … s40 folders; it is not the AT&T Database of Faces.")


def ensure_att_faces(folder: str | os.PathLike, *, download: bool = True) -> Path:
    """Return ``folder`` when it is not empty, else download the AT&T faces into it.

    Raises:
        NotADirectoryError: ``folder`` is a file.
        FileNotFoundError: ``folder`` is missing or empty and ``download`` is false.
    """
    folder = Path(folder).expanduser()
    if not needs_download(folder, download=download):
        return folder
    return download_att_faces(folder)


def needs_download(folder: str | os.PathLike, *, download: bool = True) -> bool:
    """Return whether ``folder`` is missing or empty, so :func:`ensure_att_faces` would download into it.

    Reads only the folder's listing, so the command line calls it before the slow imports.

    Raises:
        NotADirectoryError: ``folder`` is a file.
        FileNotFoundError: ``folder`` is missing or empty and ``download`` is false.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"Expected the folder of the AT&T faces (subfolders s1 … s40); received the file {folder}. "
            f"Pass the folder that holds the subject folders."
        )
    if folder.is_dir() and any(folder.iterdir()):
        return False

    if not download:
        state = "is empty" if folder.is_dir() else "does not exist"
        raise FileNotFoundError(
            f"AT&T faces not found: {folder} {state}. Run `siamese download --data {folder}` to "
            f"download them there, or download {ATT_FACES_URL} by hand and unzip it there."
        )
    return True
