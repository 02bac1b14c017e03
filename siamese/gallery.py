"""The gallery: enrolled people and their face embeddings, stored in one SQLite file.

Each embedding row stores the vector (float32), the photo it came from, the face box, the
enrollment time (UTC, ISO 8601) and the fingerprint of the model that made it
(:func:`siamese.model.model_fingerprint`). Embeddings from different models cannot be compared,
so a gallery opened with another model's fingerprint is rejected.

Every write runs in one SQLite transaction, so a process killed during enrollment leaves the
gallery as it was before or after that enrollment. The file is created with mode 0600 (owner
read and write only), because it contains biometric data, and deleted rows are overwritten
(``PRAGMA secure_delete``).

This module does not import Keras; :mod:`siamese.recognize` turns photos into embeddings.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import sqlite3
import stat
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamese.files import explain_storage_errors, make_folder, storage_error

logger = logging.getLogger(__name__)

#: Written to SQLite's ``application_id`` header field to mark gallery files ("SIAM").
APPLICATION_ID = 0x5349414D
SCHEMA_VERSION = 1

#: Name that identification reports for a face farther than the threshold from everyone.
UNKNOWN = "unknown"
MAX_NAME_LENGTH = 200

#: Query counts up to this use einsum in :meth:`EmbeddingIndex.nearest`, larger ones BLAS.
SMALL_QUERY_BATCH = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    source TEXT NOT NULL,
    box TEXT,
    enrolled_at TEXT NOT NULL,
    model_fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS embeddings_by_person ON embeddings(person_id);
"""


@dataclass(frozen=True)
class Person:
    """One enrolled person as listed by :meth:`Gallery.people`.

    Attributes:
        name: the person's unique name.
        n_embeddings: stored embeddings (one per enrolled photo).
        first_enrolled: UTC time of the oldest embedding, ISO 8601.
        last_enrolled: UTC time of the newest embedding, ISO 8601.
    """

    name: str
    n_embeddings: int
    first_enrolled: str | None
    last_enrolled: str | None


@dataclass(frozen=True)
class EmbeddingRecord:
    """One stored embedding without its vector.

    Attributes:
        id: row id.
        name: the person it belongs to.
        source: the photo it was computed from.
        box: face box ``(x, y, width, height)`` in that photo, or ``None`` for a whole image.
        enrolled_at: UTC time, ISO 8601.
        model_fingerprint: fingerprint of the model that computed it.
    """

    id: int
    name: str
    source: str
    box: tuple[int, int, int, int] | None
    enrolled_at: str
    model_fingerprint: str


@dataclass(frozen=True)
class Neighbor:
    """The nearest enrolled person to one query embedding.

    Attributes:
        name: that person's name.
        distance: Euclidean distance between the query and their nearest embedding.
    """

    name: str
    distance: float


class EmbeddingIndex:
    """All gallery embeddings in one matrix, for exact nearest-neighbour search with NumPy.

    Args:
        embeddings: float32 ``(n, dim)``.
        person_ids: int ``(n,)``; ``person_ids[i]`` indexes ``names``.
        names: person names.
    """

    def __init__(self, embeddings: np.ndarray, person_ids: np.ndarray, names: tuple[str, ...]):
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2:
            raise ValueError(f"Expected embeddings of shape (n, dim); received {embeddings.shape}.")
        if len(person_ids) != len(embeddings):
            raise ValueError(
                f"Expected one person id per embedding; received {len(person_ids)} ids for "
                f"{len(embeddings)} embeddings."
            )
        self.embeddings = embeddings
        self.person_ids = np.asarray(person_ids, dtype=np.int64)
        self.names = tuple(names)
        self.squared_norms = np.einsum("ij,ij->i", embeddings, embeddings)

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def dim(self) -> int:
        """Embedding length."""
        return self.embeddings.shape[1]

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Find the nearest stored embedding to each query.

        Args:
            queries: float ``(m, dim)`` or one ``(dim,)`` query.

        Returns:
            ``(rows, distances)``: int64 ``(m,)`` indices into the stored embeddings and
            float32 ``(m,)`` Euclidean distances.
        """
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if len(self) == 0:
            raise ValueError("The gallery is empty; enroll someone with `siamese enroll` first.")
        if queries.shape[1] != self.dim:
            raise ValueError(
                f"Query embeddings have length {queries.shape[1]} but the gallery stores "
                f"length {self.dim}; use the model that made the gallery."
            )

        # |e - q|^2 = |e|^2 - 2 e.q + |q|^2; the |q|^2 term does not change the argmin.
        # For a few queries, einsum's single-threaded loop beats BLAS: on 2 busy cores a
        # threaded OpenBLAS product over 100,000 x 64 took 13 ms against 1 ms for einsum.
        if len(queries) <= SMALL_QUERY_BATCH:
            products = np.einsum("ij,kj->ki", self.embeddings, queries)
        else:
            products = queries @ self.embeddings.T
        scores = self.squared_norms[np.newaxis, :] - 2.0 * products
        rows = np.argmin(scores, axis=1)

        # The expansion loses precision near zero (float32 leaves about 5e-4 of noise), so the
        # winners' distances are computed again from their differences.
        distances = np.linalg.norm(self.embeddings[rows] - queries, axis=1)
        return rows, distances.astype(np.float32)

    def search(self, queries: np.ndarray) -> list[Neighbor]:
        """Return the nearest person and distance for each query ``(m, dim)`` or ``(dim,)``."""
        rows, distances = self.nearest(queries)
        return [
            Neighbor(self.names[self.person_ids[row]], float(distance))
            for row, distance in zip(rows, distances)
        ]


def benchmark_search(
    n_embeddings: int = 100_000,
    dim: int = 64,
    n_people: int = 10_000,
    n_queries: int = 200,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Time one-query searches over random unit embeddings.

    Returns:
        ``{"n_embeddings", "dim", "median_ms", "p95_ms", "max_ms"}``: latency of
        :meth:`EmbeddingIndex.search` for a single query, in milliseconds.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    embeddings = rng.standard_normal((n_embeddings, dim)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    person_ids = rng.integers(0, n_people, n_embeddings)
    index = EmbeddingIndex(embeddings, person_ids, tuple(f"person{i}" for i in range(n_people)))
    queries = embeddings[rng.integers(0, n_embeddings, n_queries)]

    index.search(queries[0])
    timings = []
    for query in queries:
        started = time.perf_counter()
        index.search(query)
        timings.append((time.perf_counter() - started) * 1000.0)
    return {
        "n_embeddings": float(n_embeddings),
        "dim": float(dim),
        "median_ms": float(np.median(timings)),
        "p95_ms": float(np.percentile(timings, 95)),
        "max_ms": float(np.max(timings)),
    }


#: Invisible format characters (Unicode category Cf) that names may contain, because the
#: zero-width non-joiner and joiner are part of the spelling of Persian and several Indic scripts.
ALLOWED_FORMAT_CHARACTERS = frozenset("\u200c\u200d")


#: Default_Ignorable_Code_Point ranges from DerivedCoreProperties.txt of Unicode 15.1, as
#: inclusive (first, last) pairs. Fonts draw these as nothing of their own, so a name with one
#: usually prints like the name without it. They include variation selectors, U+034F COMBINING
#: GRAPHEME JOINER and the Hangul fillers U+3164 and U+FFA0.
#: NOTE: ideographic variation selectors (U+E0100 to U+E01EF) do change the glyph of the kanji
#: before them. Some Japanese personal names use them, and such names are rejected too.
DEFAULT_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
#: Visible characters that print as blanks but are not spaces: U+2800 BRAILLE PATTERN BLANK.
BLANK_LOOKING_CHARACTERS = frozenset("\u2800")


def _is_invisible(character: str) -> bool:
    """Return whether ``character`` prints as nothing or as a blank that is not a space."""
    if character in ALLOWED_FORMAT_CHARACTERS:
        return False
    if character in BLANK_LOOKING_CHARACTERS or unicodedata.category(character) == "Cf":
        return True
    code_point = ord(character)
    return any(first <= code_point <= last for first, last in DEFAULT_IGNORABLE_RANGES)


def normalize_name(name: str) -> str:
    """Return ``name`` in Unicode NFC, so that ``e`` + U+0301 and U+00E9 are one spelling of é."""
    return unicodedata.normalize("NFC", name)


def validate_name(name: str) -> str:
    """Return ``name`` stripped of surrounding spaces and in NFC, or raise ValueError if it is unusable."""
    if not isinstance(name, str):
        raise ValueError(f"A person's name must be text; received {type(name).__name__}.")
    cleaned = normalize_name(name.strip())
    if not cleaned:
        raise ValueError("A person's name must not be empty.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"A person's name must be at most {MAX_NAME_LENGTH} characters; received {len(cleaned)}.")
    if cleaned.lower() == UNKNOWN:
        raise ValueError(f"The name {UNKNOWN!r} is reserved for faces that match nobody; choose another name.")
    for character in cleaned:
        category = unicodedata.category(character)
        # A line break or control character would split or garble `gallery list` and the labels,
        # and an invisible format character makes two names that print alike.
        if category in ("Cc", "Zl", "Zp") or _is_invisible(character):
            description = "control character" if category == "Cc" else unicodedata.name(character, "unnamed")
            raise ValueError(
                f"A person's name must not contain line breaks, control characters or invisible "
                f"characters; received {cleaned!r}, which contains U+{ord(character):04X} "
                f"({description}). Remove that character."
            )
    return cleaned


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Gallery:
    """A gallery file opened for one model.

    Use :func:`open_gallery` to create or open one; a ``Gallery`` is a context manager that
    closes the file.

    Args:
        connection: an open SQLite connection in autocommit mode.
        path: the file.
        model_fingerprint: fingerprint of the model the caller will search with, or ``None``
            for management only (list, rename, remove), which compares no embeddings.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path, model_fingerprint: str | None):
        self._connection = connection
        self.path = path
        self.model_fingerprint = model_fingerprint
        self._index: EmbeddingIndex | None = None
        self._index_version: int | None = None

    def _execute(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        """Run one SQL statement; SQLite errors become a ValueError that names the file and the fix."""
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.Error as error:
            raise database_error(self.path, error) from error

    def _fetch_all(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """Run one query and return its rows. SQLite errors, also those raised while reading rows, become a ValueError."""
        try:
            return self._connection.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise database_error(self.path, error) from error

    def _fetch_one(self, sql: str, parameters: tuple = ()) -> tuple | None:
        """Run one query and return its first row, or ``None``, as :meth:`_fetch_all` does."""
        rows = self._fetch_all(sql, parameters)
        return rows[0] if rows else None

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the SQLite connection."""
        self._connection.close()

    def __len__(self) -> int:
        return int(self._fetch_one("SELECT COUNT(*) FROM embeddings")[0])

    @property
    def stored_fingerprint(self) -> str | None:
        """Fingerprint of the model this gallery was created for."""
        return self._setting("model_fingerprint")

    @property
    def embedding_dim(self) -> int | None:
        """Embedding length stored in this gallery."""
        value = self._setting("embedding_dim")
        if value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"The gallery {self.path} is damaged: its embedding length {value!r} is not a number; "
                f"re-enroll everyone into a new gallery."
            ) from None

    def _setting(self, key: str) -> str | None:
        row = self._fetch_one("SELECT value FROM settings WHERE key = ?", (key,))
        return row[0] if row else None

    @contextlib.contextmanager
    def transaction(self):
        """Run the block in one immediate SQLite transaction; commit on success, roll back on error.

        Inside another transaction of this gallery the block joins it, and the outer one commits.
        """
        if self._connection.in_transaction:
            yield self
            return

        self._execute("BEGIN IMMEDIATE")
        try:
            yield self
            self._execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        finally:
            self._index = None

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already done so.

        SQLite rolls back by itself after some errors, such as a full disk (SQLITE_FULL), and a
        failed ROLLBACK must not replace the error that caused it, so its own errors are only logged.
        """
        if not self._connection.in_transaction:
            return
        try:
            self._connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            logger.warning("Failed to roll back a transaction on %s: %s", self.path, error)

    def people(self) -> list[Person]:
        """Return everyone enrolled, sorted by name."""
        rows = self._fetch_all(
            "SELECT p.name, COUNT(e.id), MIN(e.enrolled_at), MAX(e.enrolled_at) "
            "FROM people p LEFT JOIN embeddings e ON e.person_id = p.id "
            "GROUP BY p.id ORDER BY p.name"
        )
        return [Person(name, int(count), first, last) for name, count, first, last in rows]

    def records(self, name: str | None = None) -> list[EmbeddingRecord]:
        """Return the stored embeddings' metadata, of one person or of everyone."""
        query = (
            "SELECT e.id, p.name, e.source, e.box, e.enrolled_at, e.model_fingerprint "
            "FROM embeddings e JOIN people p ON p.id = e.person_id"
        )
        parameters: tuple = ()
        if name is not None:
            query += " WHERE e.person_id = ?"
            parameters = (self._person_id(name),)
        rows = self._fetch_all(query + " ORDER BY e.id", parameters)
        return [
            EmbeddingRecord(row_id, person, source, _parse_box(box), enrolled_at, fingerprint)
            for row_id, person, source, box, enrolled_at, fingerprint in rows
        ]

    def _find_person_id(self, name: str) -> int | None:
        """Return the row id of the person named ``name`` in any Unicode normal form, or ``None``.

        Galleries written before names were normalised may store a name in another form,
        such as ``e`` + U+0301 for é, so the NFC forms of all names are compared when no
        name matches exactly.
        """
        name = normalize_name(name.strip())
        row = self._fetch_one("SELECT id FROM people WHERE name = ?", (name,))
        if row is not None:
            return int(row[0])

        for person_id, stored in self._fetch_all("SELECT id, name FROM people ORDER BY id"):
            if isinstance(stored, str) and normalize_name(stored) == name:
                return int(person_id)
        return None

    def stored_name(self, name: str) -> str | None:
        """Return the spelling under which ``name`` is stored, in any Unicode normal form, or ``None``.

        A gallery written before names were normalised may store ``José`` as ``e`` + U+0301,
        so callers that compare names with :meth:`people` or :meth:`index` use this spelling.
        """
        person_id = self._find_person_id(name)
        if person_id is None:
            return None
        return self._fetch_one("SELECT name FROM people WHERE id = ?", (person_id,))[0]

    def _person_id(self, name: str) -> int:
        person_id = self._find_person_id(name)
        if person_id is None:
            known = [person.name for person in self.people()]
            listing = "nobody yet"
            if known:
                listing = ", ".join(known[:10])
            if len(known) > 10:
                listing += " …"
            raise ValueError(
                f"No person named {name!r} in the gallery {self.path}; enrolled: {listing}. "
                f"See `siamese gallery list`."
            )
        return person_id

    def add(
        self,
        name: str,
        embeddings: np.ndarray,
        sources: list[str],
        boxes: list[tuple[int, int, int, int] | None] | None = None,
    ) -> list[int]:
        """Store embeddings of one person, creating the person if new, in one transaction.

        Args:
            name: the person's name (see :func:`validate_name`).
            embeddings: float ``(n, dim)``.
            sources: ``n`` photo paths or descriptions.
            boxes: ``n`` face boxes ``(x, y, width, height)`` or ``None`` for whole images.

        Returns:
            The new embedding row ids.

        Raises:
            ValueError: a name, shape or count is invalid, or the gallery belongs to no model.
        """
        name = validate_name(name)
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        boxes = list(boxes) if boxes is not None else [None] * len(embeddings)
        if self.model_fingerprint is None:
            raise ValueError("Open the gallery with the model's fingerprint before adding embeddings.")
        if len(sources) != len(embeddings) or len(boxes) != len(embeddings):
            raise ValueError(
                f"Expected one source and one box per embedding; received {len(embeddings)} "
                f"embeddings, {len(sources)} sources and {len(boxes)} boxes."
            )
        if embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"Embeddings have length {embeddings.shape[1]} but the gallery {self.path} stores "
                f"length {self.embedding_dim}."
            )
        if not np.all(np.isfinite(embeddings)):
            raise ValueError("Embeddings contain NaN or infinite values; check the model.")

        now = _now()
        with self.transaction():
            person_id = self._find_person_id(name)
            if person_id is None:
                cursor = self._execute("INSERT INTO people (name, created_at) VALUES (?, ?)", (name, now))
                person_id = int(cursor.lastrowid)
            ids = []
            for vector, source, box in zip(embeddings, sources, boxes):
                cursor = self._execute(
                    "INSERT INTO embeddings (person_id, vector, source, box, enrolled_at, model_fingerprint) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (person_id, vector.astype("<f4").tobytes(), str(source), _format_box(box), now, self.model_fingerprint),
                )
                ids.append(int(cursor.lastrowid))
        logger.debug("Stored %d embedding(s) of %s in %s", len(ids), name, self.path)
        return ids

    def rename(self, old: str, new: str) -> None:
        """Rename a person.

        Renaming a name stored in another Unicode normal form to its NFC form rewrites it in NFC.

        Raises:
            ValueError: ``old`` is not enrolled, ``new`` is invalid or already taken, or the
                two names are equal.
        """
        new = validate_name(new)
        with self.transaction():
            person_id = self._person_id(old)
            stored = self._fetch_one("SELECT name FROM people WHERE id = ?", (person_id,))[0]
            if stored == new:
                raise ValueError(f"The old and new names are equal ({new!r}), so there is nothing to rename.")
            holder = self._find_person_id(new)
            if holder is not None and holder != person_id:
                raise ValueError(
                    f"{new!r} is already enrolled in {self.path}; remove that person first or "
                    f"choose another name."
                )
            self._execute("UPDATE people SET name = ? WHERE id = ?", (new, person_id))

    def remove(self, name: str) -> int:
        """Delete a person and all their embeddings; returns how many embeddings were deleted.

        Raises:
            ValueError: ``name`` is not enrolled.
        """
        with self.transaction():
            person_id = self._person_id(name)
            count = self._fetch_one("SELECT COUNT(*) FROM embeddings WHERE person_id = ?", (person_id,))[0]
            self._execute("DELETE FROM embeddings WHERE person_id = ?", (person_id,))
            self._execute("DELETE FROM people WHERE id = ?", (person_id,))
        return int(count)

    def index(self) -> EmbeddingIndex:
        """Return every stored embedding as an :class:`EmbeddingIndex`.

        The index is loaded once and kept until this gallery writes, or until another
        connection commits a change, which SQLite's ``data_version`` pragma reveals.
        """
        if self.model_fingerprint is None:
            raise ValueError("Open the gallery with the model's fingerprint before searching it.")
        version = int(self._fetch_one("PRAGMA data_version")[0])
        if self._index is not None and self._index_version == version:
            return self._index

        rows = self._fetch_all("SELECT e.person_id, e.vector, e.model_fingerprint FROM embeddings e ORDER BY e.id")
        foreign = {fingerprint for _, _, fingerprint in rows} - {self.model_fingerprint}
        if foreign:
            raise ValueError(
                f"The gallery {self.path} contains embeddings made by another model; re-enroll "
                f"everyone with this model into a new gallery."
            )

        people = self._fetch_all("SELECT id, name FROM people ORDER BY id")
        position = {person_id: i for i, (person_id, _) in enumerate(people)}
        # embedding_dim raises its own error for a damaged length, so it stays outside the try.
        dim = self.embedding_dim or 0
        try:
            vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype="<f4").reshape(len(rows), dim)
            person_ids = np.array([position[row[0]] for row in rows], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as error:
            # Only a file changed outside this package has vectors of the wrong type or length,
            # or embeddings of a person who no longer exists.
            raise ValueError(
                f"The gallery {self.path} is damaged ({type(error).__name__}: {error}); re-enroll everyone "
                f"into a new gallery."
            ) from error
        if not np.all(np.isfinite(vectors)):
            raise ValueError(
                f"The gallery {self.path} is damaged: it stores NaN or infinite embeddings; re-enroll "
                f"everyone into a new gallery."
            )
        self._index = EmbeddingIndex(vectors.astype(np.float32), person_ids, tuple(name for _, name in people))
        self._index_version = version
        return self._index

    def search(self, queries: np.ndarray) -> list[Neighbor]:
        """Return the nearest enrolled person to each query embedding ``(m, dim)`` or ``(dim,)``."""
        return self.index().search(queries)


def error_name(error: sqlite3.Error) -> str:
    """Return SQLite's name for ``error``'s code, such as ``SQLITE_BUSY``; ``""`` when unknown."""
    return getattr(error, "sqlite_errorname", None) or ""


def is_busy(error: sqlite3.Error) -> bool:
    """Return whether ``error`` means that another connection has locked the file."""
    name = error_name(error)
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    text = str(error).lower()
    return "locked" in text or "busy" in text


def is_storage_error(error: sqlite3.Error) -> bool:
    """Return whether ``error`` means a full disk, a read-only file or folder, or an I/O error."""
    name = error_name(error)
    if name:
        return name.startswith(("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN"))
    text = str(error).lower()
    return "disk is full" in text or "readonly" in text.replace(" ", "")


def _remove_if_created(path: Path, created: bool) -> None:
    """Delete the gallery file that this call created, so a failed creation leaves no empty file behind."""
    if created:
        with contextlib.suppress(OSError):
            path.unlink()


def database_error(path: Path, error: sqlite3.Error) -> ValueError | OSError:
    """Return a ValueError for a SQLite ``error`` on the gallery ``path`` that names the next step.

    A full disk (SQLITE_FULL) gets the :class:`~siamese.files.WriteFailedError` of any other
    output path instead, which reports the free space.

    Only SQLite's codes for a damaged file, or a missing table or column, advise enrolling
    again. A full disk, an I/O error or missing permissions leave the gallery unchanged.
    """
    text = _printable(str(error))
    name = error_name(error)
    if is_busy(error):
        return ValueError(f"The gallery {path} is in use by another process ({text}); try again when it has finished.")
    if name.startswith("SQLITE_FULL") or (not name and "disk is full" in text.lower()):
        # The same message as a full disk under any other output path, with the free space.
        return storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), path)
    if name.startswith("SQLITE_READONLY") or (not name and "readonly" in text.replace(" ", "").lower()):
        return ValueError(f"Cannot write to the gallery {path}: {text}. Check the permissions of the file and its folder, and that its file system is not mounted read-only.")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or name == "SQLITE_ERROR" or not name:
        return ValueError(f"The gallery {path} is damaged ({text}); re-enroll everyone into a new gallery.")
    return ValueError(
        f"Failed to use the gallery {path}: {text} ({name}). The gallery is unchanged. Check the free disk "
        f"space and the permissions of the file and its folder, then try again."
    )


def _printable(text: str, max_length: int = 100) -> str:
    """Return ``text`` with unprintable and replacement characters (U+FFFD) as ``?``, cut to ``max_length``.

    SQLite quotes the stored text in some errors, such as a damaged vector that is not UTF-8,
    and those bytes would garble the terminal.
    """
    cleaned = "".join(
        character if character.isprintable() and character != "\ufffd" else "?" for character in text
    )
    if len(cleaned) > max_length:
        cleaned = cleaned[: max_length - 1] + "…"
    return cleaned


def _format_box(box) -> str | None:
    return None if box is None else ",".join(str(int(value)) for value in box)


def _parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    return None if not text else tuple(int(value) for value in text.split(","))


def open_gallery(
    path: str | os.PathLike,
    model_fingerprint: str | None = None,
    embedding_dim: int | None = None,
    create: bool = False,
) -> Gallery:
    """Open a gallery file, creating it (mode 0600) when ``create`` is true and it is missing.

    Args:
        path: the SQLite file.
        model_fingerprint: fingerprint of the model that will enroll or search. ``None`` opens
            the gallery for listing, renaming and removing only.
        embedding_dim: the model's embedding length; required when creating.
        create: create the file if it does not exist.

    Raises:
        FileNotFoundError: the file is missing and ``create`` is false.
        ValueError: the file is not a gallery, or it was made by another model.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"Expected a gallery file; received the folder '{path}'.")
    is_new = not path.exists()
    if is_new and not create:
        raise FileNotFoundError(
            f"Gallery not found: {path}. Create it by enrolling someone: "
            f"`siamese enroll NAME PHOTO... --gallery {path}`."
        )
    if is_new and (model_fingerprint is None or embedding_dim is None):
        raise ValueError("Creating a gallery needs the model's fingerprint and embedding length.")

    if is_new:
        make_folder(path.parent)
        # Create the file ourselves so it is never readable by others, even for a moment.
        try:
            with explain_storage_errors(path):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            is_new = False  # another process created it first, and _initialise checks what it contains
        else:
            os.close(descriptor)
            os.chmod(path, 0o600)

    connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        _initialise(connection, path, model_fingerprint, embedding_dim, create)
    except sqlite3.DatabaseError as error:
        connection.close()
        _remove_if_created(path, is_new)
        if is_busy(error) or is_storage_error(error):
            raise database_error(path, error) from error
        raise ValueError(f"{path} is not a siamese gallery file: {error}.") from error
    except BaseException:
        connection.close()
        _remove_if_created(path, is_new)
        raise

    if not is_new:
        _warn_if_shared(path)  # Warn only once the file is known to be a gallery.
    return Gallery(connection, path, model_fingerprint)


def _warn_if_shared(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "Gallery %s is readable or writable by other users (mode %o) and contains biometric "
            "data; restrict it with `chmod 600 %s`.",
            path,
            mode,
            path,
        )


def _create_tables(connection: sqlite3.Connection, model_fingerprint: str, embedding_dim: int) -> None:
    """Write the schema and settings of a new gallery inside the caller's transaction."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    settings = {
        "model_fingerprint": model_fingerprint,
        "embedding_dim": str(int(embedding_dim)),
        "created_at": _now(),
    }
    connection.executemany("INSERT INTO settings (key, value) VALUES (?, ?)", settings.items())


def _initialise(
    connection: sqlite3.Connection,
    path: Path,
    model_fingerprint: str | None,
    embedding_dim: int | None,
    create: bool,
) -> None:
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA secure_delete = ON")
    application_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
    has_tables = connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0
    if application_id != APPLICATION_ID and has_tables:
        raise ValueError(
            f"{path} is an SQLite file but not a siamese gallery; choose another --gallery path."
        )

    if application_id != APPLICATION_ID:
        # An empty file is given the gallery tables only by a command that enrolls, so
        # commands that read (identify, video, gallery list) never write to it.
        if not create or model_fingerprint is None or embedding_dim is None:
            raise ValueError(
                f"Gallery {path} is empty; enroll someone with `siamese enroll NAME PHOTO... "
                f"--gallery {path}` first."
            )
        connection.execute("BEGIN IMMEDIATE")
        # Another process may have created the gallery between the check above and the lock.
        if int(connection.execute("PRAGMA application_id").fetchone()[0]) != APPLICATION_ID:
            _create_tables(connection, model_fingerprint, embedding_dim)
            connection.execute("COMMIT")
            return
        connection.execute("COMMIT")

    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"Gallery {path} has schema version {version}; this siamese version reads version "
            f"{SCHEMA_VERSION}. Re-enroll into a new gallery."
        )
    stored = connection.execute("SELECT value FROM settings WHERE key = 'model_fingerprint'").fetchone()
    if model_fingerprint is not None and stored is not None and stored[0] != model_fingerprint:
        raise ValueError(
            f"The gallery {path} was made by another model (fingerprint {stored[0][:12]}…, this "
            f"model is {model_fingerprint[:12]}…); its embeddings cannot be compared with this "
            f"model's. Re-enroll everyone with this model into a new gallery, or pass the "
            f"--model that made the gallery."
        )
