"""Parts shared by the benchmark scripts.

Atomic JSON and Markdown output, run headers, logging, error reporting and resumable progress.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from siamese.files import WriteFailedError, write_text


logger = logging.getLogger("benchmarks.report")


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder.

    A reader never sees a half-written file, an interrupted write leaves the old file, and the
    new file gets the usual permissions (0666 minus the umask), as ``siamese.files`` gives them.
    """
    write_text(path, text)


def write_json(path: str | os.PathLike, value) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_atomic(path, json.dumps(value, indent=2) + "\n")


def write_results(out: str | os.PathLike, value, markdown: str) -> None:
    """Write ``results.json`` and ``results.md`` into the folder ``out``, creating it, each atomically."""
    Path(out).mkdir(parents=True, exist_ok=True)
    write_json(Path(out) / "results.json", value)
    write_atomic(Path(out) / "results.md", markdown)


def machine_description() -> dict:
    """Return the CPU model, logical core count, Python and platform of this machine."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_header(module: str, argv: list[str] | None = None, data: str | None = None) -> dict:
    """Return the date (UTC), machine and command line (``python -m module argv…``) of a run.

    ``data``, when given, is stored as ``"data"``: the AT&T folder the run read, as
    :func:`data_folder` returns it.
    """
    arguments = sys.argv[1:] if argv is None else argv
    header = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_description(),
        "command": " ".join(["python", "-m", module, *arguments]),
    }
    if data is not None:
        header["data"] = data
    return header


def data_folder(data: str | os.PathLike | None) -> str:
    """Return the AT&T folder that ``--data`` (or its default) names, as an absolute path.

    Symbolic links are resolved, so two spellings of one folder give the same string.
    """
    from siamese.data import resolve_att_dir

    return str(resolve_att_dir(data).resolve())


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """Format ``rows`` under ``headers`` as a GitHub Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def format_number(value, digits: int = 4) -> str:
    """Format a float to ``digits`` decimals; ``None`` becomes an en dash."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def configure_logging(verbose: bool) -> None:
    """Send log lines with time, level and logger name to stderr, at DEBUG when ``verbose`` else INFO."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )

    # TensorFlow gives its logger a handler of its own when it is imported before logging is
    # configured. That logger also propagates to the root, so each warning would print twice.
    logging.getLogger("tensorflow").handlers.clear()


def report_missing_att_dir(name: str, data: str | None) -> bool:
    """Print ``NAME: error: AT&T folder not found …`` to stderr and return True when the folder is missing."""
    from siamese.data import resolve_att_dir

    folder = resolve_att_dir(data)
    if folder.is_dir():
        return False
    print(f"{name}: error: AT&T folder not found: {folder}. Pass --data DIR or set SIAMESE_ATT_DIR.", file=sys.stderr)
    return True


def run_benchmark(name: str, run: Callable, args, logger: logging.Logger) -> int:
    """Call ``run(args)`` with log lines routed around progress bars, and return an exit status.

    ``ValueError``, ``FileNotFoundError``, ``FileExistsError``, ``NotADirectoryError`` (an
    output folder that is a file), ``PermissionError`` (an output folder that may not be
    written) and ``WriteFailedError`` (a read-only, full or over-quota disk) print ``NAME: error: MESSAGE`` to stderr and return 2. Ctrl-C prints
    ``NAME: interrupted``, with the finished folds kept in ``OUT/progress.json`` when this run
    wrote that file, and returns 130. Otherwise the total time is logged and 0 is returned.
    """
    from tqdm.contrib.logging import logging_redirect_tqdm

    started = time.perf_counter()
    started_at = time.time()
    try:
        with logging_redirect_tqdm():
            run(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, WriteFailedError) as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted{kept_folds_note(Path(args.out) / 'progress.json', started_at)}", file=sys.stderr)
        return 130
    logger.info("Finished in %.1f s; results in %s", time.perf_counter() - started, args.out)
    return 0


def kept_folds_note(path: Path, since: float) -> str:
    """Return ``. N finished folds are kept in PATH; …`` when ``path`` was written at or after ``since``, else "".

    ``since`` is a :func:`time.time` value. Only a file that this run wrote is sure to hold
    folds of its settings: :class:`Progress` leaves a file of other settings unchanged until
    the first new fold finishes. A resumed run stopped before its first new fold therefore
    gets no note, although its folds are kept too.
    """
    try:
        written_now = path.stat().st_mtime >= since
        stored = read_progress(path) if written_now else None
    except (OSError, ValueError):
        return ""
    if not stored or not stored["records"]:
        return ""

    count = len(stored["records"])
    return (
        f". {count} finished fold{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} kept in {path}; "
        f"run the same command again to skip {'it' if count == 1 else 'them'} and resume."
    )


def check_out_folder(parser, out: str) -> None:
    """Exit through ``parser.error`` unless ``out`` (the ``--out`` value) can become a folder.

    That rules out an existing file, and a path below a file, before any work is done.
    """
    path = Path(out).expanduser()
    try:
        if path.is_symlink() and not path.exists():
            parser.error(f"--out {out} is a symbolic link to nothing (or to itself). Choose another path.")
        if path.exists() and not path.is_dir():
            parser.error(f"--out must be a folder; {out} is a file. Choose another path.")
        blocking = next((parent for parent in path.parents if parent.exists() and not parent.is_dir()), None)
    except OSError as error:  # such as a name longer than the file system allows
        parser.error(f"--out {out[:80]}… cannot be used: {error.strerror}. Choose another path.")
    if blocking is not None:
        parser.error(f"--out {out} lies below {blocking}, which is a file. Choose another path.")


def benchmark_main(
    name: str,
    parse_args: Callable,
    run: Callable,
    logger: logging.Logger,
    argv: list[str] | None,
    needs_data: Callable = lambda args: True,
) -> int:
    """Run the benchmark ``name`` from the command line and return its exit status.

    Parses ``argv`` (default ``sys.argv[1:]``), sets up logging, returns 2 when
    ``needs_data(args)`` and the AT&T folder is missing, and otherwise calls
    :func:`run_benchmark`.
    """
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The shell does not expand "~" in "--out=~/x", so expand it here, as check_out_folder does.
    args.out = str(Path(args.out).expanduser())
    configure_logging(args.verbose)
    if needs_data(args) and report_missing_att_dir(name, args.data):
        return 2

    return run_benchmark(name, run, args, logger)


def read_progress(path: Path) -> dict | None:
    """Return the ``signature`` and ``records`` stored in ``path``, or ``None`` when it does not exist.

    Raises:
        ValueError: ``path`` is a folder, is not JSON, or does not have the layout that
            :class:`Progress` writes. The message names the file and how to start afresh.
    """
    if not path.exists():
        return None

    fix = f"Delete {path} to start afresh (its finished folds are then lost), or pass another --out."
    if not path.is_file():
        raise ValueError(f"{path} is not a file, so it cannot hold benchmark progress. {fix}")
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors.
        raise ValueError(f"Cannot read {path}: it is not valid JSON ({error}). {fix}") from error

    if not _has_progress_layout(stored):
        raise ValueError(
            f"Cannot read {path}: expected a JSON object with a \"signature\" object and a "
            f"\"records\" object of fold records, as the benchmarks write it. {fix}"
        )
    return stored


def _has_progress_layout(stored) -> bool:
    if not isinstance(stored, dict):
        return False
    records = stored.get("records")
    if not isinstance(stored.get("signature"), dict) or not isinstance(records, dict):
        return False
    return all(isinstance(record, dict) for record in records.values())


def changed_settings(stored: dict, current: dict) -> list[str]:
    """Return the sorted names of the signature entries that differ between ``stored`` and ``current``."""
    return sorted(key for key in stored.keys() | current.keys() if stored.get(key) != current.get(key))


class Progress:
    """Finished fold records kept in ``progress.json``, so a restarted run skips them.

    Records count only when the stored ``signature`` (the settings that change results,
    including the data folder) matches the current run. Otherwise a warning names the
    changed settings and the run starts afresh, so its first finished fold overwrites the
    file. A file that cannot be read raises ``ValueError`` (see :func:`read_progress`).
    """

    def __init__(self, path: Path, signature: dict):
        self.path = path
        self.signature = signature
        self.records: dict[str, dict] = {}

        stored = read_progress(path)
        if stored is None:
            return
        if stored["signature"] == signature:
            self.records = stored["records"]
            logger.info("Resuming: %d finished folds found in %s", len(self.records), path)
        else:
            logger.warning(
                "Starting afresh: the %d finished folds in %s were run with other settings "
                "(changed: %s) and will be replaced when the first new fold finishes",
                len(stored["records"]), path, ", ".join(changed_settings(stored["signature"], signature)),
            )

    @staticmethod
    def key(protocol: str, method: str, fold: int) -> str:
        return f"{protocol}/{method}/{fold}"

    def get(self, protocol: str, method: str, fold: int) -> dict | None:
        return self.records.get(self.key(protocol, method, fold))

    def put(self, protocol: str, method: str, fold: int, record: dict) -> None:
        self.records[self.key(protocol, method, fold)] = record
        write_json(self.path, {"signature": self.signature, "records": self.records})
