"""Open-set recognition in synthetic scenes: enrolled people named, strangers left unknown.

``python -m benchmarks.scenes --out DIR`` takes a model trained on the standard split
(s1–s35, as ``siamese train`` trains it) and its unseen people s36–s40. For each seed and each
choice of stranger among s36–s40, the other four are enrolled from a scene of their image 1.
Scenes of images 2–10 follow, two per image number: s36, s37 and s38 in one, s39 and s40 in
the other, in random order (``siamese.scenes.make_scene``: faces upscaled 1.1–1.3× on noisy
400 × 300 backgrounds). Every face is found by the detector, cropped, and identified against
the gallery, as ``siamese identify`` does it.

The thresholds are the model's ``threshold`` and ``identify_threshold`` from
``metrics.json``, and any given with ``--thresholds``. For each, the results give the shares
of enrolled faces named correctly, called unknown and given a wrong name. They also give the
share of the stranger's faces that got a name. Outputs in ``DIR``: ``results.json`` and
``results.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
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

logger = logging.getLogger("benchmarks.scenes")

#: People the standard split keeps out of training, enrolled or left as the stranger.
UNSEEN = ("s36", "s37", "s38", "s39", "s40")
#: The two groups pasted together into one scene for each image number.
GROUPS = (UNSEEN[:3], UNSEEN[3:])


def read_face(att_dir: Path, subject: str, number: int) -> np.ndarray:
    """Return AT&T image ``subject/number.pgm`` as uint8 ``(112, 92)``."""
    import cv2

    path = att_dir / subject / f"{number}.pgm"
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"Cannot read {path}; point --data at the att_faces folder (s1 … s40).")
    return image


def identify_scenes(recognizer, att_dir: Path, seed: int, stranger: str, gallery_path: Path) -> list[dict]:
    """Enroll the four people other than ``stranger`` and identify them in 18 scenes.

    Returns one record per pasted face that the detector found: ``subject``, ``enrolled``,
    ``nearest`` (the nearest enrolled person) and ``distance``.
    """
    from siamese.photos import photo_from_array
    from siamese.recognize import enroll
    from siamese.scenes import box_centre_inside, make_scene

    rng = np.random.default_rng([seed, UNSEEN.index(stranger)])
    records = []
    with recognizer.open_gallery(gallery_path, create=True) as gallery:
        for subject in UNSEEN:
            if subject != stranger:
                scene, _ = make_scene([read_face(att_dir, subject, 1)], rng)
                enroll(recognizer, gallery, subject, [photo_from_array(scene, source=f"{subject} scene")])

        for number in range(2, 11):
            for group in GROUPS:
                order = [group[index] for index in rng.permutation(len(group))]
                scene, boxes = make_scene([read_face(att_dir, subject, number) for subject in order], rng)
                matches = recognizer.identify(photo_from_array(scene), gallery)
                for subject, box in zip(order, boxes):
                    found = [match for match in matches if box_centre_inside(match.box, box)]
                    if found:
                        records.append({
                            "subject": subject,
                            "enrolled": subject != stranger,
                            "nearest": found[0].nearest,
                            "distance": float(found[0].distance),
                        })
    return records


#: The shares that :func:`rates_at` returns, in table order.
RATE_KEYS = ("named_correctly", "unknown", "wrong_name", "strangers_named")


def share(flags: list[bool]) -> float | None:
    """Return the fraction of true ``flags``, or ``None`` when there are none to count."""
    return float(np.mean(flags)) if flags else None


def rates_at(records: list[dict], threshold: float) -> dict:
    """Return the shares of enrolled faces named right, unknown and wrong, and of strangers named.

    A share is ``None`` when the detector found no face of that kind.
    """
    enrolled = [record for record in records if record["enrolled"]]
    strangers = [record for record in records if not record["enrolled"]]
    accepted = lambda record: record["distance"] < threshold  # noqa: E731

    return {
        "threshold": float(threshold),
        "named_correctly": share([accepted(r) and r["nearest"] == r["subject"] for r in enrolled]),
        "unknown": share([not accepted(r) for r in enrolled]),
        "wrong_name": share([accepted(r) and r["nearest"] != r["subject"] for r in enrolled]),
        "strangers_named": share([accepted(r) for r in strangers]),
    }


def check_att_images(att_dir: Path) -> None:
    """Raise FileNotFoundError unless images 1–10 of s36–s40 are in ``att_dir``."""
    missing = [f"{subject}/{number}.pgm" for subject in UNSEEN for number in range(1, 11)
               if not (att_dir / subject / f"{number}.pgm").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{att_dir} lacks {len(missing)} of the images of s36–s40, such as {missing[0]}; "
            f"point --data at the complete att_faces folder (s1 … s40)."
        )


def results_markdown(result: dict) -> str:
    """Format the run as Markdown: counts, then one row per threshold."""
    header = result["header"]
    counts = result["counts"]
    rows = [
        [
            row["source"], format_number(row["threshold"], 3), *(format_number(row[key], 3) for key in RATE_KEYS),
        ]
        for row in result["rows"]
    ]
    table = markdown_table(
        ["threshold from", "distance", "enrolled: named correctly", "unknown", "wrong name", "strangers named"], rows
    )
    return (
        f"# Recognition in synthetic scenes\n\n"
        f"- date: {header['date']}\n- command: `{header['command']}`\n- model: `{result['model']}`\n"
        f"- faces found: {counts['enrolled_found']} of {counts['enrolled_pasted']} enrolled, "
        f"{counts['strangers_found']} of {counts['strangers_pasted']} strangers; nearest person right for "
        f"{format_number(counts['nearest_right'], 3)} of the enrolled faces found\n\n{table}\n"
    )


def run(args: argparse.Namespace) -> dict:
    """Identify the scenes of every seed and stranger, and write the results."""
    from siamese.data import resolve_att_dir
    from siamese.recognize import Recognizer, resolve_model_path

    att_dir = resolve_att_dir(args.data)
    check_att_images(att_dir)
    model_path = resolve_model_path(args.model)
    sources = thresholds_to_score(model_path, args.thresholds)

    # One log line per enrolled face would bury the results.
    if not args.verbose:
        logging.getLogger("siamese.gallery").setLevel(logging.WARNING)

    # The records keep the nearest person and the distance, and the rates below apply each
    # threshold afterwards, so the recognizer's own threshold plays no part.
    recognizer = Recognizer.from_path(model_path, threshold=1.0)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            for stranger in UNSEEN:
                logger.info("Seed %d, stranger %s", seed, stranger)
                records += identify_scenes(recognizer, att_dir, seed, stranger, Path(folder) / f"{seed}_{stranger}.db")

    enrolled = [record for record in records if record["enrolled"]]
    if not enrolled:
        logger.warning("The detector found none of the enrolled faces, so there is nothing to score; check --data.")
    result = {
        "header": run_header("benchmarks.scenes", args.argv),
        "model": str(model_path),
        "seeds": args.seeds,
        "counts": {
            "enrolled_pasted": len(args.seeds) * len(UNSEEN) * 9 * (len(UNSEEN) - 1),
            "enrolled_found": len(enrolled),
            "strangers_pasted": len(args.seeds) * len(UNSEEN) * 9,
            "strangers_found": len(records) - len(enrolled),
            "nearest_right": share([r["nearest"] == r["subject"] for r in enrolled]),
        },
        "rows": [{"source": source, **rates_at(records, value)} for source, value in sources],
        "faces": records,
    }
    write_results(args.out, result, results_markdown(result))
    for row in result["rows"]:
        logger.info(
            "%s %.3f: enrolled named correctly %s, unknown %s, wrong name %s; strangers named %s",
            row["source"], row["threshold"], *(format_number(row[key], 3) for key in RATE_KEYS),
        )
    return result


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scenes",
        description="Enroll four of s36–s40 from one synthetic scene each and identify them, and the fifth as a "
        "stranger, in 18 scenes per seed; report named, unknown and wrong names at each threshold.",
    )
    add_model_options(parser, "model.keras trained on s1–s35")
    parser.add_argument("--data", default=None, help="AT&T folder (default: $SIAMESE_ATT_DIR, then data/att_faces)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[7, 8], metavar="SEED", help="scene seeds (default: 7 8)")
    args = parser.parse_args(argv)
    args.argv = argv

    negative = [seed for seed in args.seeds if seed < 0]
    if negative:
        parser.error(f"--seeds takes seeds of 0 or more; received {' '.join(map(str, negative))}.")
    if len(set(args.seeds)) < len(args.seeds):
        parser.error(f"--seeds lists a seed twice ({' '.join(map(str, args.seeds))}), which would count its scenes twice.")
    check_out_folder(parser, args.out)
    return args


def main(argv: list[str] | None = None) -> int:
    return benchmark_main("benchmarks.scenes", parse_args, run, logger, argv)


if __name__ == "__main__":
    sys.exit(main())
