#!/usr/bin/env python
"""Normalise the committed notebooks and check their outputs for machine details.

Normalising keeps the outputs but removes what changes from run to run or machine to machine:

* notebook metadata is reduced to the ``python3`` kernelspec and the language name, so
  widget state and papermill's metadata (which contains absolute paths) are dropped;
* cell metadata keeps only ``tags``, and cell ids become ``cell-01``, ``cell-02`` …;
* execution counts are renumbered 1, 2, 3 … over the executed code cells;
* TensorFlow's start-up notices (the absl pre-initialisation warning and C++ INFO lines, which
  carry a timestamp and a process id) are removed from stderr, and consecutive stream outputs
  of one cell are merged;
* the repository folder, the Python environment's folder and the home folder are replaced
  by ``<repo>``, ``<python-env>`` and ``~`` wherever an output names them.

The check then reports what normalising cannot fix: any other absolute path (``/work/``,
``/root``, ``/home/``, ``/Users/``, ``/tmp/``, ``C:\\Users``), the machine's host name, error
outputs, and cells that papermill injected for non-default parameters.

Usage:
    python scripts/clean_notebooks.py             # normalise Notebook/*.ipynb in place
    python scripts/clean_notebooks.py --check     # exit 1 if a notebook is not clean
    python scripts/clean_notebooks.py PATH ...    # only these notebooks
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
from pathlib import Path

from siamese.files import write_text

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "Notebook"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}

# TensorFlow 2.21 prints these through absl before Python logging is set up, so neither
# TF_CPP_MIN_LOG_LEVEL nor the logging module silences them.
TENSORFLOW_NOTICES = [
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\n?", re.M),
    # absl/glog INFO lines: I<MMDD> <time> <pid> <file>:<line>] <message>
    re.compile(r"^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] .*\n?", re.M),
]

ABSOLUTE_PATH = re.compile(r"(/work/|/root\b|/home/|/Users/|/tmp/|/private/var/|[A-Za-z]:\\\\?Users)")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def path_replacements() -> list[tuple[str, str]]:
    """Return ``(absolute prefix, placeholder)`` pairs, the longest prefix first."""
    pairs = [
        (str(REPO_ROOT), "<repo>"),
        (sys.prefix, "<python-env>"),
        (sys.base_prefix, "<python>"),
        (str(Path.home()), "~"),
    ]
    return sorted({prefix: name for prefix, name in pairs if len(prefix) > 1}.items(), key=lambda pair: -len(pair[0]))


def redact(text: str) -> str:
    """Replace the known machine-specific folders in ``text`` by placeholders."""
    for prefix, placeholder in path_replacements():
        text = text.replace(prefix, placeholder)
    return text


def join_text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def split_lines(text: str) -> list[str]:
    """Split text the way nbformat stores multi-line strings: a list of lines with their newlines."""
    return text.splitlines(keepends=True)


def clean_stream_text(text: str) -> str:
    for pattern in TENSORFLOW_NOTICES:
        text = pattern.sub("", text)
    return redact(text)


def clean_outputs(outputs: list[dict]) -> list[dict]:
    """Return the outputs with notices removed, paths redacted and adjacent streams merged."""
    cleaned: list[dict] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = clean_stream_text(join_text(output.get("text", "")))
            if not text:
                continue
            if cleaned and cleaned[-1]["output_type"] == "stream" and cleaned[-1]["name"] == output["name"]:
                text = join_text(cleaned[-1]["text"]) + text
                cleaned[-1]["text"] = split_lines(text)
                continue
            cleaned.append({"name": output["name"], "output_type": "stream", "text": split_lines(text)})
        elif kind in ("display_data", "execute_result"):
            data = {}
            for mime, value in output.get("data", {}).items():
                if mime == WIDGET_MIME:
                    continue
                if mime.startswith("text/") or mime == "application/json":
                    value = split_lines(redact(join_text(value))) if isinstance(value, (list, str)) else value
                data[mime] = value
            if not data:
                continue
            item = {"data": data, "metadata": output.get("metadata", {}), "output_type": kind}
            if kind == "execute_result":
                item["execution_count"] = output.get("execution_count")
            cleaned.append(item)
        elif kind == "error":
            cleaned.append({
                "ename": output.get("ename", ""),
                "evalue": redact(output.get("evalue", "")),
                "output_type": "error",
                "traceback": [redact(line) for line in output.get("traceback", [])],
            })
        else:
            cleaned.append(output)
    return cleaned


def clean_notebook(notebook: dict) -> dict:
    """Return a normalised copy of a notebook given as its JSON dictionary."""
    language_info = dict(LANGUAGE_INFO)
    result = {
        "cells": [],
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": language_info},
        "nbformat": 4,
        "nbformat_minor": max(int(notebook.get("nbformat_minor", 5)), 5),
    }

    count = 0
    for index, cell in enumerate(notebook.get("cells", []), start=1):
        tags = cell.get("metadata", {}).get("tags", [])
        item = {
            "cell_type": cell["cell_type"],
            "id": f"cell-{index:02d}",
            "metadata": {"tags": list(tags)} if tags else {},
            "source": split_lines(join_text(cell.get("source", ""))),
        }
        if cell["cell_type"] == "code":
            outputs = clean_outputs(cell.get("outputs", []))
            executed = cell.get("execution_count") is not None or bool(outputs)
            if executed:
                count += 1
            item["execution_count"] = count if executed else None
            for output in outputs:
                if output["output_type"] == "execute_result":
                    output["execution_count"] = item["execution_count"]
            item["outputs"] = outputs
        elif cell.get("attachments"):
            item["attachments"] = cell["attachments"]
        result["cells"].append(item)
    return result


def dumps(notebook: dict) -> str:
    """Serialise as nbformat does: one-space indent, sorted keys, UTF-8 text, final newline."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def output_texts(cell: dict):
    """Yield every text that a cell shows: its source and its text outputs."""
    yield join_text(cell.get("source", ""))
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            yield join_text(output.get("text", ""))
        elif output.get("output_type") == "error":
            yield output.get("evalue", "")
            yield "\n".join(output.get("traceback", []))
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/"):
                yield join_text(value)


def problems_of(notebook: dict) -> list[str]:
    """List what makes a normalised notebook unfit to commit."""
    host = socket.gethostname()
    problems = []
    for index, cell in enumerate(notebook["cells"], start=1):
        where = f"cell {index}"
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            problems.append(f"{where}: papermill injected parameters; rerun with default parameters")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"{where}: error output {output.get('ename')}: {output.get('evalue', '')[:120]}")
        for text in output_texts(cell):
            match = ABSOLUTE_PATH.search(text)
            if match:
                start = max(match.start() - 40, 0)
                problems.append(f"{where}: absolute path {text[start:match.end() + 40]!r}")
            if len(host) >= 4 and host in text:
                problems.append(f"{where}: host name {host!r} in the text")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Normalise notebooks and check their outputs for machine details.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to process (default: Notebook/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is not clean")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if not paths:
        print(f"No notebooks found in {NOTEBOOK_DIR}.", file=sys.stderr)
        return 1

    failed = False
    for path in paths:
        original = path.read_text(encoding="utf-8")
        try:
            notebook = clean_notebook(json.loads(original))
        except (json.JSONDecodeError, KeyError) as error:
            print(f"{path}: not a valid notebook: {error}", file=sys.stderr)
            failed = True
            continue
        text = dumps(notebook)

        if args.check and text != original:
            print(f"{path}: not normalised; run `python scripts/clean_notebooks.py {path}`", file=sys.stderr)
            failed = True
        elif not args.check and text != original:
            write_text(path, text)
            print(f"{path}: normalised")

        for problem in problems_of(notebook):
            print(f"{path}: {problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
