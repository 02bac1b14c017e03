#!/usr/bin/env python
"""Execute the notebooks with their default parameters, store the outputs in place, clean them.

Each notebook runs in a fresh kernel of this interpreter, in Notebook/ as working folder and in
file-name order, so 03_training.ipynb saves the model before 04 and 07 load it. A notebook is
replaced only after it ran without error. A failed run leaves the committed file untouched and
the partly executed copy in a temporary folder, whose path is printed.

A run of all notebooks first deletes the outputs of earlier runs in runs/notebooks (unless
--resume), so the committed outputs come from one complete run. A run of some notebooks keeps
them, so 04 and 07 can use the model that 03 saved earlier.

The notebooks read the AT&T faces from $SIAMESE_ATT_DIR (default ../data/att_faces) and the
photos from $SIAMESE_SAMPLE_PHOTOS (default ../data/sample_photos). $SIAMESE_MODEL is removed
from the environment, so notebooks 4 and 7 use the model that notebook 3 trained.

Usage:
    python scripts/run_notebooks.py                # all notebooks
    python scripts/run_notebooks.py 01 04          # notebooks whose names start with 01 or 04
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from clean_notebooks import NOTEBOOK_DIR, clean_notebook, dumps, problems_of

from siamese.files import write_text
from siamese.notebook import execute_notebook

# The notebooks' default out_dir, ../runs/notebooks seen from Notebook/.
NOTEBOOK_RUNS = NOTEBOOK_DIR.parent / "runs" / "notebooks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the notebooks in place with default parameters and clean them.")
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose file names start with one of these")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep runs/notebooks from an earlier run, so 05 resumes its comparison (default: delete it "
        "before running all notebooks)",
    )
    parser.add_argument("--cell-timeout", type=float, default=3600, help="seconds one cell may run (default: %(default)s)")
    args = parser.parse_args(argv)

    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if args.prefixes:
        notebooks = [path for path in notebooks if path.name.startswith(tuple(args.prefixes))]
    if not notebooks:
        print(f"No notebooks in {NOTEBOOK_DIR} match {args.prefixes}.", file=sys.stderr)
        return 1

    os.environ.pop("SIAMESE_MODEL", None)
    if not args.resume and not args.prefixes and NOTEBOOK_RUNS.exists():
        print(f"deleting the earlier notebook outputs in {NOTEBOOK_RUNS}")
        shutil.rmtree(NOTEBOOK_RUNS)
    scratch = Path(tempfile.mkdtemp(prefix="siamese-notebooks-"))
    started = time.perf_counter()
    failed = False
    for path in notebooks:
        executed = scratch / path.name
        print(f"{path.name}: running …", flush=True)
        notebook_started = time.perf_counter()
        try:
            execute_notebook(path, executed, cwd=NOTEBOOK_DIR, cell_timeout=args.cell_timeout)
        except Exception as error:  # papermill raises several types; report and go on with the next notebook
            print(f"{path.name}: failed after {time.perf_counter() - notebook_started:.0f} s: {type(error).__name__}: {error}", file=sys.stderr)
            print(f"{path.name}: the partly executed copy is {executed}", file=sys.stderr)
            failed = True
            continue

        notebook = clean_notebook(json.loads(executed.read_text(encoding="utf-8")))
        write_text(path, dumps(notebook))
        problems = problems_of(notebook)
        for problem in problems:
            print(f"{path.name}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        print(f"{path.name}: done in {time.perf_counter() - notebook_started:.0f} s", flush=True)

    print(f"all notebooks: {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
