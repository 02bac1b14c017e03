"""Different people in real photos: how often their faces fall under the model's thresholds.

``python -m benchmarks.photos --out DIR`` finds every face in every photo of a folder (by
default ``$SIAMESE_SAMPLE_PHOTOS``), embeds each as ``siamese identify`` does, and measures
the distance between every pair. It assumes that every face is a different person, which holds
for the project's four sample photos (seven people). A pair below a threshold is a false
match: ``siamese verify`` would call the two faces the same person at ``threshold``, and
``siamese identify`` could name one after the other at ``identify_threshold``.

The AT&T faces are evenly lit grayscale frontal images of 35 training people, so this measures
how far the thresholds calibrated on them carry over to colour photos of other people. With
seven faces the counts are small; read them as a warning, not a rate.

Outputs in ``DIR``: ``results.json`` (every face, numbered from 1 in each photo as
``PHOTO face1``, every pair and its distance, and the count below each threshold) and
``results.md``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
from pathlib import Path

import numpy as np

from benchmarks.report import (
    benchmark_main,
    check_out_folder,
    format_number,
    markdown_table,
    run_header,
    write_results,
)
from benchmarks.thresholds import add_model_options, thresholds_to_score

logger = logging.getLogger("benchmarks.photos")

PHOTO_ENV_VAR = "SIAMESE_SAMPLE_PHOTOS"
#: Folder read when neither --photos nor the variable is set, as the notebooks do.
DEFAULT_PHOTO_DIR = Path("data") / "sample_photos"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def photo_folder(path: str | None) -> Path:
    """Return ``path``, else ``$SIAMESE_SAMPLE_PHOTOS``, else ``data/sample_photos`` when it
    exists (where the notebooks look too), checked to be a folder."""
    chosen = path if path is not None else os.environ.get(PHOTO_ENV_VAR)
    if not chosen and DEFAULT_PHOTO_DIR.is_dir():
        chosen = str(DEFAULT_PHOTO_DIR)
    if not chosen:
        raise ValueError(
            f"No photo folder: pass --photos DIR, set {PHOTO_ENV_VAR}, or put the photos in "
            f"{Path.cwd() / DEFAULT_PHOTO_DIR}."
        )
    folder = Path(chosen).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"Photo folder not found: {folder}. Pass an existing folder with --photos.")
    return folder


def pair_counts(distances: list[float], thresholds: list[tuple[str, float]]) -> list[dict]:
    """Return, per ``(source, threshold)``, how many of the different-person ``distances`` fall below it."""
    values = np.asarray(distances, dtype=float)
    return [
        {"source": source, "threshold": float(value), "pairs_below": int(np.sum(values < value)), "pairs": len(values)}
        for source, value in thresholds
    ]


def run(args: argparse.Namespace) -> dict:
    """Embed every face in the photo folder and count the different-person pairs below each threshold."""
    from siamese.photos import read_photo
    from siamese.recognize import Recognizer, resolve_model_path

    folder = photo_folder(args.photos)
    photos = sorted(path for path in folder.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES)
    model_path = resolve_model_path(args.model)
    thresholds = thresholds_to_score(model_path, args.thresholds)

    recognizer = Recognizer.from_path(model_path)  # detects and embeds only, so no threshold is used
    faces, crops = [], []
    for path in photos:
        # Numbered from 1, as `siamese detect --crops` names its crops PHOTO.face1.png, ….
        for number, face in enumerate(recognizer.find_faces(read_photo(path)), start=1):
            faces.append({"photo": path.name, "face": number, "box": list(face.box)})
            crops.append(face.crop)
    if len(faces) < 2:
        raise ValueError(f"Found {len(faces)} face(s) in {len(photos)} photo(s) of {folder}; at least two are needed.")

    embeddings = recognizer.embed(crops)
    pairs = [
        {
            "a": face_label(faces[i]),
            "b": face_label(faces[j]),
            "distance": round(float(np.linalg.norm(embeddings[i] - embeddings[j])), 4),
        }
        for i, j in itertools.combinations(range(len(faces)), 2)
    ]
    pairs.sort(key=lambda pair: pair["distance"])
    result = {
        "header": run_header("benchmarks.photos", args.argv),
        "model": str(model_path),
        "photos": str(folder),
        "faces": faces,
        "rows": pair_counts([pair["distance"] for pair in pairs], thresholds),
        "pairs": pairs,
    }

    write_results(args.out, result, results_markdown(result))
    for row in result["rows"]:
        logger.info("%s %.3f: %d of %d different-person pairs below", row["source"], row["threshold"],
                    row["pairs_below"], row["pairs"])
    return result


def face_label(face: dict) -> str:
    """Return ``PHOTO faceN`` for an entry of the run's ``faces``, such as ``four_faces_group.jpg face2``."""
    return f"{face['photo']} face{face['face']}"


def results_markdown(result: dict) -> str:
    """Format the run as Markdown: the count per threshold, then the closest pairs."""
    header = result["header"]
    counts = markdown_table(
        ["threshold from", "distance", "different-person pairs below"],
        [[row["source"], format_number(row["threshold"], 3), f"{row['pairs_below']} of {row['pairs']}"]
         for row in result["rows"]],
    )
    closest = markdown_table(
        ["face", "face", "distance"], [[pair["a"], pair["b"], format_number(pair["distance"], 3)] for pair in result["pairs"]]
    )
    return (
        f"# Different people in real photos\n\n"
        f"- date: {header['date']}\n- command: `{header['command']}`\n- model: `{result['model']}`\n"
        f"- photos: `{result['photos']}`, {len(result['faces'])} faces, each taken to be a different person\n\n"
        f"{counts}\nAll pairs, closest first:\n\n{closest}"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.photos",
        description="Embed every face in a folder of photos of different people and count the pairs that fall "
        "below the model's thresholds (false matches).",
    )
    add_model_options(parser, "model.keras")
    parser.add_argument("--photos", default=None,
                        help=f"folder of photos, every face a different person (default: ${PHOTO_ENV_VAR}, "
                        f"else {DEFAULT_PHOTO_DIR} when it exists)")
    args = parser.parse_args(argv)
    args.argv = argv
    check_out_folder(parser, args.out)
    return args


def main(argv: list[str] | None = None) -> int:
    return benchmark_main("benchmarks.photos", parse_args, run, logger, argv, needs_data=lambda args: False)


if __name__ == "__main__":
    raise SystemExit(main())
