"""Download the AT&T Database of Faces and verify it file by file."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

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
        destination: folder to create, for example ``data/att_faces``. It must not exist yet
            unless it already contains a verified copy, which is then returned unchanged.
        url: archive address; tests point it at a local server.
        timeout: seconds to wait for the server before giving up.
        progress: show a progress bar while downloading.

    Returns:
        ``destination`` as a :class:`~pathlib.Path`.

    Raises:
        ConnectionError: the archive could not be fetched; the message explains how to place
            the files by hand.
        ValueError: the archive does not contain the AT&T faces or a file fails its checksum.
        FileExistsError: ``destination`` exists but does not hold a verified copy.
    """
    destination = Path(destination).expanduser()
    if destination.exists():
        if not verify_att_faces(destination):
            logger.info("AT&T faces already present and verified in %s", destination)
            return destination
        raise FileExistsError(
            f"{destination} exists but does not contain a complete AT&T copy; remove it or "
            f"choose another folder."
        )

    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".att_faces-", dir=destination.parent) as scratch:
        archive = Path(scratch) / "att_faces.zip"
        _fetch(url, archive, timeout=timeout, progress=progress)

        unpacked = Path(scratch) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zipped:
                _safe_extract(zipped, unpacked)
        except zipfile.BadZipFile as error:
            raise ValueError(f"The file downloaded from {url} is not a zip archive: {error}") from error

        root = _find_dataset_root(unpacked)
        problems = verify_att_faces(root)
        if problems:
            raise ValueError(
                f"The archive from {url} failed verification for {len(problems)} files, for "
                f"example {problems[:3]}; nothing was written to {destination}."
            )

        # A rename within one file system is atomic, so the folder appears complete or not at all.
        os.replace(root, destination)

    logger.info("AT&T faces downloaded and verified into %s", destination)
    return destination


def _fetch(url: str, target: Path, *, timeout: float, progress: bool) -> None:
    manual_steps = (
        f"Download {url} by hand, unzip it, and pass the folder that holds s1 … s40 with "
        f"--data, or set SIAMESE_ATT_DIR to it."
    )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with open(target, "wb") as handle, tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc="att_faces.zip",
                disable=not progress,
            ) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    handle.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        raise ConnectionError(f"Could not download the AT&T faces from {url}: {error}. {manual_steps}") from error


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
    """Return ``folder`` when it contains images, else download the AT&T faces into it."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"Expected the folder of the AT&T faces (subfolders s1 … s40); received the file {folder}. "
            f"Pass the folder that holds the subject folders."
        )
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    if not download:
        raise FileNotFoundError(
            f"AT&T faces not found in {folder}. Run `siamese download --data {folder}`, or "
            f"download {ATT_FACES_URL} by hand and unzip it there."
        )
    if folder.is_dir():
        folder.rmdir()
    return download_att_faces(folder)
