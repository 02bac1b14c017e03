"""Face commands: ``detect``, ``enroll``, ``identify``, ``verify``, ``video`` and ``gallery``.

The handlers parse options and print; the work happens in :mod:`siamese.detect`,
:mod:`siamese.recognize`, :mod:`siamese.gallery` and :mod:`siamese.video`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import mimetypes
import os
import re
import sys
from pathlib import Path

from siamese.commands.options import positive_float, positive_int
from siamese.distances import format_distance, format_threshold, json_distance
from siamese.outputs import check_not_inputs, numbered_stem, path_exists, protected_inputs, unused_path, warn_if_replacing
from siamese.pathnames import display_path

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = "siamese-output"
#: Haar score below which `siamese video` drops a box unless --score-threshold is given, because
#: each false box becomes a track of its own. `python -m benchmarks.haar_scores` (OpenCV 5.1,
#: default detector settings) found 905 real faces scoring 2.89 or more, in the sample photos
#: placed in 800x600 frames and in AT&T faces enlarged 1.1-2.5x in scenes, and 14 of 41 false
#: boxes scoring below 2.5. Other false boxes scored up to 6.6, as high as many faces.
DEFAULT_MIN_SCORE = 2.5
MODEL_HELP = (
    "trained model.keras from `siamese train`; its folder's metrics.json supplies the thresholds "
    "(default: $SIAMESE_MODEL, else runs/latest/model.keras)"
)


def register(subparsers) -> None:
    _register_detect(subparsers)
    _register_enroll(subparsers)
    _register_identify(subparsers)
    _register_verify(subparsers)
    _register_video(subparsers)
    _register_gallery(subparsers)


# Shared options ----------------------------------------------------------------------------


def _add_model_option(parser: argparse.ArgumentParser, help_text: str = MODEL_HELP) -> None:
    parser.add_argument("--model", metavar="PATH", default=None, help=help_text)


#: The ``--score-threshold`` value that keeps every box the detector returns.
KEEP_EVERY_BOX = "none"
WHOLE_IMAGE_HELP = "skip detection and treat each whole photo as one face crop (AT&T-style images)"


def _score_threshold(text: str) -> float | str:
    """Parse ``--score-threshold``: a finite number, or ``none`` to keep every box."""
    if text.strip().lower() == KEEP_EVERY_BOX:
        return KEEP_EVERY_BOX
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -float("inf") < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number such as 2.5, or {KEEP_EVERY_BOX!r}; received {text!r}")
    return value


def _scale_factor(text: str) -> float:
    """Parse ``--scale-factor``: a finite number of at least :data:`siamese.detect.MIN_SCALE_FACTOR`."""
    from siamese.detect import MIN_SCALE_FACTOR

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"expected a finite number of at least {MIN_SCALE_FACTOR}, such as 1.1; received {text!r}."
        )
    if value < MIN_SCALE_FACTOR:
        raise argparse.ArgumentTypeError(
            f"expected a number of at least {MIN_SCALE_FACTOR}, such as 1.1; received {text!r}. Smaller "
            f"steps make OpenCV's image pyramid too large, so pass {MIN_SCALE_FACTOR} or more."
        )
    return value


def _add_detector_options(
    parser: argparse.ArgumentParser,
    whole_image: bool = True,
    whole_image_help: str = WHOLE_IMAGE_HELP,
    haar_score_default: str = "keep every face",
) -> None:
    from siamese.detect import (
        DEFAULT_MIN_NEIGHBORS, DEFAULT_MIN_SIZE, DEFAULT_SCALE_FACTOR, DEFAULT_SCORE_THRESHOLD, MIN_SCALE_FACTOR,
    )

    group = parser.add_argument_group("face detection")
    group.add_argument(
        "--detector",
        choices=("haar", "dnn"),
        default="haar",
        help="haar: OpenCV's Haar cascade; dnn: OpenCV's YuNet network, which needs --dnn-model "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--cascade",
        metavar="FILE",
        help="Haar cascade XML file (default: haarcascade_frontalface_default.xml shipped with OpenCV)",
    )
    group.add_argument(
        "--dnn-model",
        metavar="FILE",
        help="YuNet ONNX file for --detector dnn, such as face_detection_yunet_2026may.onnx from the OpenCV Zoo",
    )
    group.add_argument(
        "--scale-factor",
        type=_scale_factor,
        metavar="FACTOR",
        default=DEFAULT_SCALE_FACTOR,
        help=f"Haar image-pyramid step, at least {MIN_SCALE_FACTOR}; smaller finds more faces but runs "
        "slower (default: %(default)s)",
    )
    group.add_argument(
        "--min-neighbors",
        type=int,
        metavar="COUNT",
        default=DEFAULT_MIN_NEIGHBORS,
        help="Haar raw hits needed to keep a face; larger rejects more false faces (default: %(default)s)",
    )
    group.add_argument(
        "--min-size",
        type=positive_int,
        metavar="PIXELS",
        default=DEFAULT_MIN_SIZE,
        help="smallest face side to detect, in pixels (default: %(default)s)",
    )
    group.add_argument(
        "--score-threshold",
        type=_score_threshold,
        metavar="SCORE",
        default=None,
        help="smallest detector score kept, or 'none' to keep every box. For haar a level weight, "
        f"such as 3 to drop more false faces (default: {haar_score_default}). For dnn a YuNet "
        f"score in [0, 1] (default: {DEFAULT_SCORE_THRESHOLD})",
    )
    if whole_image:
        group.add_argument(
            "--whole-image",
            action="store_true",
            help=whole_image_help,
        )


def _add_threshold_option(parser: argparse.ArgumentParser, key: str = "threshold") -> None:
    parser.add_argument(
        "--threshold",
        type=positive_float,
        metavar="DISTANCE",
        help="Euclidean distance between embeddings below which two faces are the same person "
        f"(default: '{key}' in metrics.json beside the model, calibrated by `siamese train`)",
    )


def _make_detector(args: argparse.Namespace, haar_min_score: float | None = None):
    """Create the detector the options ask for; ``haar_min_score`` applies when ``--score-threshold`` is unset."""
    from siamese.detect import create_detector, haar_scores_available

    score_threshold = args.score_threshold
    if score_threshold is None and args.detector == "haar":
        score_threshold = haar_min_score
        if haar_min_score is not None and not haar_scores_available():
            # A default, unlike a --score-threshold the user typed, must not fail on builds without scores.
            logger.debug("This OpenCV build gives Haar boxes no scores, so the default minimum score %s is not applied.", haar_min_score)
            score_threshold = None
    elif score_threshold == KEEP_EVERY_BOX:
        # None keeps every Haar box; YuNet scores lie in [0, 1], so 0 keeps every YuNet box.
        score_threshold = None if args.detector == "haar" else 0.0

    try:
        return create_detector(
            args.detector,
            cascade=args.cascade,
            dnn_model=args.dnn_model,
            scale_factor=args.scale_factor,
            min_neighbors=args.min_neighbors,
            min_size=args.min_size,
            score_threshold=score_threshold,
        )
    except ImportError as error:
        # A missing OpenCV feature is an installation problem the user fixes; report it in one line.
        raise ValueError(str(error)) from error


def _rounded(score: float | None) -> float | None:
    """Round a detector score for JSON output; ``None`` (no score) stays ``None``."""
    return None if score is None else round(float(score), 3)


def _make_recognizer(args: argparse.Namespace, haar_min_score: float | None = None):
    from siamese.recognize import Recognizer

    detector = _make_detector(args, haar_min_score)
    return Recognizer.from_path(args.model, detector, getattr(args, "threshold", None))


def _check_photos_exist(paths: list[str]) -> list[Path]:
    photos = [Path(path).expanduser() for path in paths]
    for photo in photos:
        if not photo.exists():
            raise FileNotFoundError(f"Photo not found: '{photo}'. Check the path and try again.")
    return photos


def _annotated_paths(photos: list[Path], output: str, tag: str, protected: dict[Path, str]) -> list[Path]:
    """Choose one output path per photo, never an input path and never the same twice.

    ``output`` is a folder, or a file name (with an image suffix) when there is one photo. An
    existing folder, or a path ending in a slash, counts as a folder whatever its name ends in.
    In a folder each photo gets ``PHOTO.TAG.jpg`` (or ``.png``), numbered ``PHOTO.TAG-2.jpg``
    and so on when that name is taken, so earlier results are kept. A file name given as
    ``output`` is replaced with a warning. ``protected`` maps input paths to descriptions (see
    :func:`siamese.outputs.protected_inputs`); an output there raises ValueError.
    """
    from siamese.photos import COLOUR_SUFFIXES, colour_suffix

    target = Path(output).expanduser()
    is_folder = target.is_dir() or output.endswith(("/", os.sep))
    # Python's own table only, not the system's mime.types, so every machine decides alike.
    image_type = mimetypes.MimeTypes().guess_type(target.name)[0] or ""
    if not is_folder and image_type.startswith("image/") and target.suffix.lower() not in COLOUR_SUFFIXES:
        # Without this check such a name would be taken as a folder.
        raise ValueError(
            f"--output '{output}' names a {target.suffix} image, which siamese does not write. End "
            f"the file name in .jpg or .png, or end the path with / for a folder."
        )
    is_file_name = target.suffix.lower() in COLOUR_SUFFIXES and not is_folder
    if is_file_name and len(photos) > 1:
        raise ValueError(
            f"--output '{target}' is an image file name, but {len(photos)} photos were given; pass "
            f"a folder for several photos."
        )
    if is_file_name:
        paths = [target]
    else:
        # A folder named like an input, such as the gallery's -journal file, would block it.
        check_not_inputs([target], protected)
        if target.exists() and not target.is_dir():
            raise NotADirectoryError(
                f"--output '{target}' is a file; pass a folder for several photos, or one image "
                f"file name ending in .jpg or .png for a single photo."
            )
        paths = []
        for photo in photos:
            paths.append(unused_path(target, f"{photo.stem}.{tag}", colour_suffix(photo), paths))

    check_not_inputs(paths, protected)
    if is_file_name:
        warn_if_replacing(target)
    return paths


def _photo_inputs(photos: list[Path]) -> list[tuple[Path, str]]:
    """Return ``(photo, "input photo")`` pairs for :func:`siamese.outputs.protected_inputs`."""
    return [(photo, "input photo") for photo in photos]


def _log_annotated(photos: list[Path], annotated: list[Path]) -> None:
    """Log each photo with its annotated copy, since numbered names such as ``5.identify-2.png``
    do not say which photo they came from."""
    pairs = ", ".join(f"{display_path(photo)} -> {display_path(path)}" for photo, path in zip(photos, annotated))
    logger.info("Annotated images: %s", pairs)


def _progress(items, description: str):
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="photo", disable=len(items) < 2 or None)


def _format_box(box) -> str:
    return "[" + ", ".join(str(value) for value in box) + "]"


# A list of numbers as json.dumps(indent=2) spreads it over lines. The "[" must be followed by
# a line break, which json.dumps escapes inside strings, so no string value ever matches.
_NUMBER_LIST = re.compile(r"\[\n\s*(-?[\d.eE+-]+(?:,\n\s*-?[\d.eE+-]+)*)\n\s*\]")


def _json_text(value) -> str:
    """Return ``value`` as JSON indented by 2 spaces, with each list of numbers (such as a box) on one line."""
    text = json.dumps(value, indent=2)
    return _NUMBER_LIST.sub(lambda match: "[" + re.sub(r",\n\s*", ", ", match.group(1)) + "]", text)


# detect ------------------------------------------------------------------------------------


def _register_detect(subparsers) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find faces in photos",
        description="Detect the faces in each photo and print their boxes (x, y, width, height in "
        "pixels). Writes annotated copies into --output unless --no-annotate.",
    )
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG, PNG, PGM, BMP or TIFF files")
    parser.add_argument(
        "--output",
        metavar="PATH",
        default=DEFAULT_OUTPUT_DIR,
        help="folder for annotated copies named PHOTO.detect.jpg (or .png), numbered PHOTO.detect-2.jpg "
        "when taken, or an image file name for a single photo, replaced if it exists; inputs are never "
        "overwritten (default: %(default)s)",
    )
    parser.add_argument("--no-annotate", action="store_true", help="write no annotated images")
    parser.add_argument(
        "--crops",
        metavar="DIR",
        help="also write each face framed as in the AT&T images, as PHOTO.faceN.png: at the "
        "photo's resolution in colour, or with --model as the grayscale network input",
    )
    _add_model_option(parser, "with --crops, write crops at this model's input size, as the network sees them")
    parser.add_argument("--json", action="store_true", help="print one JSON list with an object per photo")
    _add_detector_options(parser, whole_image=False)
    parser.set_defaults(handler=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    import numpy as np

    from siamese.annotate import draw_faces
    from siamese.crops import cut_region, face_frame, input_size_of, prepare_face
    from siamese.photos import read_photo, write_image

    if args.model and not args.crops:
        raise ValueError(
            f"--model {args.model} only sets the size of the --crops images, and no --crops "
            f"folder was given; add --crops DIR, or drop --model."
        )
    photos = _check_photos_exist(args.photos)
    detector = _make_detector(args)
    model_path = None
    if args.crops and args.model:
        from siamese.recognize import resolve_model_path

        model_path = resolve_model_path(args.model)
    protected = protected_inputs(_photo_inputs(photos), model=model_path)
    annotated = None if args.no_annotate else _annotated_paths(photos, args.output, "detect", protected)
    if args.crops:
        check_not_inputs([Path(args.crops).expanduser()], protected)
    crop_paths: list[Path] = []
    input_size = None
    if model_path is not None:
        from siamese.model import embedding_network_of, load_model

        input_size = input_size_of(embedding_network_of(load_model(model_path)))

    results = []
    for index, path in enumerate(_progress(photos, "Detecting")):
        photo = read_photo(path)
        detections = detector.detect(photo)
        results.append(
            {"path": display_path(path), "faces": [{"box": list(d.box), "score": _rounded(d.score)} for d in detections]}
        )

        if annotated is not None:
            labels = [f"{d.score:.1f}" if d.score is not None else None for d in detections]
            write_image(annotated[index], draw_faces(photo.bgr, [d.box for d in detections], labels))
        if args.crops:
            for number, detection in enumerate(detections, start=1):
                if input_size is not None:
                    crop = np.round(prepare_face(photo, detection.box, input_size)[..., 0] * 255).astype(np.uint8)
                else:
                    crop = cut_region(photo.bgr, face_frame(detection.box))
                crop_paths.append(unused_path(Path(args.crops).expanduser(), f"{path.stem}.face{number}", ".png", crop_paths))
                check_not_inputs(crop_paths[-1:], protected)
                write_image(crop_paths[-1], crop)

    if args.json:
        print(_json_text(results))
    else:
        for result in results:
            print(f"{result['path']}: {len(result['faces'])} face(s)")
            for face in result["faces"]:
                score = "" if face["score"] is None else f"  score {face['score']:.2f}"
                print(f"  {_format_box(face['box'])}{score}")
    if annotated is not None:
        _log_annotated(photos, annotated)
    return 0


# enroll ------------------------------------------------------------------------------------


def _register_enroll(subparsers) -> None:
    parser = subparsers.add_parser(
        "enroll",
        help="add a person to a gallery from one or more photos",
        description="Detect the face in each photo, embed it, and store the embeddings under NAME "
        "in the gallery (created, readable by you only, if missing). A photo with several faces "
        "contributes its largest face, with a warning, unless --strict. Either every photo is "
        "enrolled or none is.",
    )
    parser.add_argument("name", metavar="NAME", help="the person's name; enrolling an existing name adds photos")
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="photos of that person")
    parser.add_argument("--gallery", required=True, metavar="DB", help="gallery file (SQLite)")
    parser.add_argument("--strict", action="store_true", help="reject a photo with more than one face")
    _add_model_option(parser)
    _add_detector_options(parser)
    parser.set_defaults(handler=run_enroll)


def run_enroll(args: argparse.Namespace) -> int:
    from siamese.gallery import validate_name
    from siamese.recognize import Recognizer, prepare_enrollment, store_enrollment

    photos = _check_photos_exist(args.photos)
    name = validate_name(args.name)
    recognizer: Recognizer = _make_recognizer(args)

    # Every photo is read and embedded before the gallery is opened, so a failure never
    # leaves a new, empty gallery file behind.
    prepared = prepare_enrollment(recognizer, photos, strict=args.strict, whole_image=args.whole_image, progress=True)
    with recognizer.open_gallery(args.gallery, create=True) as gallery:
        enrolled = store_enrollment(gallery, name, prepared)
        stored = gallery.stored_name(name)
        total = next((person.n_embeddings for person in gallery.people() if person.name == stored), 0)
    if not enrolled:
        print(f"Nothing new to enroll: every photo of {name} is already in {args.gallery} ({total} embedding(s) stored).")
        return 0

    for face in enrolled:
        where = "whole image" if face.box is None else f"face at {_format_box(face.box)}"
        print(f"  {face.source}: {where}")
    print(f"Enrolled {name} from {len(enrolled)} photo(s) into {args.gallery}; {total} embedding(s) stored.")
    return 0


# identify ----------------------------------------------------------------------------------


def _register_identify(subparsers) -> None:
    parser = subparsers.add_parser(
        "identify",
        help="name the faces in photos using a gallery",
        description="For every face in each photo, report the nearest enrolled person and the "
        "distance, or 'unknown' when the distance is not below the threshold. Writes annotated "
        "copies into --output unless --no-annotate.",
    )
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="JPEG, PNG, PGM, BMP or TIFF files")
    parser.add_argument("--gallery", required=True, metavar="DB", help="gallery file made by `siamese enroll`")
    _add_threshold_option(parser, "identify_threshold")
    parser.add_argument(
        "--output",
        metavar="PATH",
        default=DEFAULT_OUTPUT_DIR,
        help="folder for annotated copies named PHOTO.identify.jpg (or .png), numbered "
        "PHOTO.identify-2.jpg when taken, or an image file name for a single photo, replaced if it "
        "exists; inputs are never overwritten (default: %(default)s)",
    )
    parser.add_argument("--no-annotate", action="store_true", help="write no annotated images")
    parser.add_argument("--json", action="store_true", help="print one JSON list with an object per photo")
    _add_model_option(parser)
    _add_detector_options(parser)
    parser.set_defaults(handler=run_identify)


def run_identify(args: argparse.Namespace) -> int:
    from siamese.annotate import KNOWN_COLOUR, UNKNOWN_COLOUR, draw_faces
    from siamese.gallery import UNKNOWN
    from siamese.photos import read_photo, write_image

    photos = _check_photos_exist(args.photos)
    recognizer = _make_recognizer(args)
    recognizer.require_threshold()
    protected = protected_inputs(_photo_inputs(photos), gallery=Path(args.gallery).expanduser(), model=recognizer.model_path)
    annotated = None if args.no_annotate else _annotated_paths(photos, args.output, "identify", protected)

    threshold = recognizer.require_identify_threshold()
    results = []
    with recognizer.open_gallery(args.gallery) as gallery:
        for index, path in enumerate(_progress(photos, "Identifying")):
            photo = read_photo(path)
            matches = recognizer.identify(photo, gallery, whole_image=args.whole_image)
            results.append(
                {
                    "path": display_path(path),
                    "threshold": json_distance(threshold),
                    "faces": [
                        {
                            "box": list(m.box),
                            "score": _rounded(m.score),
                            "name": m.name,
                            "distance": json_distance(m.distance),
                            "nearest": m.nearest,
                        }
                        for m in matches
                    ],
                }
            )
            if annotated is not None:
                labels = [f"{m.name} {format_distance(m.distance)}" for m in matches]
                colours = [UNKNOWN_COLOUR if m.name == UNKNOWN else KNOWN_COLOUR for m in matches]
                write_image(annotated[index], draw_faces(photo.bgr, [m.box for m in matches], labels, colours))

            if not args.json:
                print(f"{display_path(path)}: {len(matches)} face(s)")
                for m in matches:
                    detail = f"distance {format_distance(m.distance)}"
                    if m.name == UNKNOWN:
                        detail = f"nearest {m.nearest}, {detail}"
                    print(f"  {_format_box(m.box)} {m.name} ({detail})")

    if args.json:
        print(_json_text(results))
    else:
        print(f"Threshold: {format_threshold(threshold)}")
    if annotated is not None:
        _log_annotated(photos, annotated)
    return 0


# verify ------------------------------------------------------------------------------------


def _register_verify(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="decide whether two photos show the same person",
        description="Embed the face in each photo (the largest, if there are several) and compare "
        "the distance with the threshold. Exit status 0 means same person, 1 different people, "
        "2 an error.",
    )
    parser.add_argument("first", metavar="PHOTO_A")
    parser.add_argument("second", metavar="PHOTO_B")
    _add_threshold_option(parser)
    parser.add_argument("--strict", action="store_true", help="reject a photo with more than one face")
    parser.add_argument("--json", action="store_true", help="print the result as a JSON object")
    _add_model_option(parser)
    _add_detector_options(parser)
    parser.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    first, second = _check_photos_exist([args.first, args.second])
    recognizer = _make_recognizer(args)
    result = recognizer.verify(first, second, whole_image=args.whole_image, strict=args.strict)

    if args.json:
        payload = {
            "paths": [str(first), str(second)],
            "boxes": [list(box) for box in result.boxes],
            "same_person": result.same_person,
            "distance": json_distance(result.distance),
            "threshold": json_distance(result.threshold),
        }
        print(_json_text(payload))
    elif result.same_person:
        print(f"Same person: distance {format_distance(result.distance)} < threshold {format_threshold(result.threshold)}")
    else:
        print(f"Different people: distance {format_distance(result.distance)} >= threshold {format_threshold(result.threshold)}")
    return 0 if result.same_person else 1


# video -------------------------------------------------------------------------------------


def _register_video(subparsers) -> None:
    parser = subparsers.add_parser(
        "video",
        help="identify faces in a video file or camera stream",
        description="Identify the faces in every frame, smooth each tracked face's name over the "
        "last --window frames, and write an annotated video and a JSON Lines file with one object "
        "per frame. Shows a window only where a display exists (q or Esc stops).",
    )
    parser.add_argument("input", metavar="INPUT", help="video file, or a camera index such as 0")
    parser.add_argument("--gallery", required=True, metavar="DB", help="gallery file made by `siamese enroll`")
    _add_threshold_option(parser, "identify_threshold")

    parser.add_argument(
        "--output",
        metavar="DIR",
        default=DEFAULT_OUTPUT_DIR,
        help="folder for INPUT.identify.avi and INPUT.identify.jsonl, numbered INPUT.identify-2.avi "
        "and so on when an earlier run's files are there (default: %(default)s)",
    )
    parser.add_argument(
        "--video-out",
        metavar="FILE",
        help="annotated video path: .avi (MJPG), or .mp4, .m4v or .mov (mp4v); an existing file is replaced",
    )
    parser.add_argument("--json-out", metavar="FILE", help="per-frame JSON Lines path; an existing file is replaced")
    parser.add_argument("--no-video", action="store_true", help="write no annotated video")

    parser.add_argument(
        "--window",
        type=positive_int,
        metavar="FRAMES",
        default=5,
        help="frames in each face's majority vote over names (default: %(default)s)",
    )
    parser.add_argument("--max-frames", type=positive_int, metavar="FRAMES", help="stop after this many frames")

    display = parser.add_mutually_exclusive_group()
    display.add_argument("--show", dest="show", action="store_true", default=None, help="show a window (needs a display)")
    display.add_argument("--no-show", dest="show", action="store_false", help="never show a window")

    _add_model_option(parser)
    _add_detector_options(
        parser,
        whole_image_help="skip detection and treat each whole frame as one face crop, for a video "
        "that shows a single face filling the frame",
        haar_score_default=f"{DEFAULT_MIN_SCORE}, because in video each false box becomes a track",
    )
    parser.set_defaults(handler=run_video)


def _video_output_paths(args: argparse.Namespace, source: int | Path) -> tuple[Path | None, Path]:
    """Return the annotated video path (``None`` with ``--no-video``) and the JSON Lines path.

    ``--video-out`` and ``--json-out`` are used as given; :func:`run_video` warns about an
    existing file there once the paths pass the checks. The other outputs go into ``--output`` as ``INPUT.identify.avi`` and
    ``INPUT.identify.jsonl``, numbered together (``INPUT.identify-2.avi`` …) up to the first
    number under which none of them exists, so an earlier run's results are never replaced.
    """
    if args.no_video and args.video_out is not None:
        raise ValueError(
            f"--no-video writes no annotated video, but --video-out '{args.video_out}' names one; drop one of the two."
        )
    folder = Path(args.output).expanduser()
    stem = f"camera{source}" if isinstance(source, int) else source.stem
    explicit = {".avi": args.video_out, ".jsonl": args.json_out}
    if args.no_video:
        explicit.pop(".avi")
    defaults = [suffix for suffix, path in explicit.items() if path is None]

    number = 1
    while True:
        name = numbered_stem(f"{stem}.identify", number)
        chosen = {suffix: folder / f"{name}{suffix}" for suffix in defaults}
        if not any(path_exists(path) for path in chosen.values()):
            break
        number += 1
    if number > 1:
        logger.info("Earlier outputs of %s are in %s; this run writes %s.", stem, folder, ", ".join(str(path) for path in chosen.values()))

    for suffix, path in explicit.items():
        if path is not None:
            chosen[suffix] = Path(path).expanduser()
    return chosen.get(".avi"), chosen[".jsonl"]


def _plural(count: int, noun: str) -> str:
    """Return ``"1 frame"`` or ``"2 frames"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def run_video(args: argparse.Namespace) -> int:
    from siamese.video import check_output_paths, parse_source, process_video

    source = parse_source(args.input)
    video_out, json_out = _video_output_paths(args, source)
    explicit = [path for path, option in ((video_out, args.video_out), (json_out, args.json_out)) if option is not None]

    recognizer = _make_recognizer(args, DEFAULT_MIN_SCORE)
    recognizer.require_threshold()
    with recognizer.open_gallery(args.gallery) as gallery:
        # process_video checks the paths again; checking here first keeps the warning from
        # appearing before an error that rejects the same path.
        check_output_paths([path for path in (video_out, json_out) if path is not None], source, gallery, recognizer)
        for path in explicit:
            warn_if_replacing(path)
        summary = process_video(
            source,
            recognizer,
            gallery,
            output_video=video_out,
            output_json=json_out,
            window=args.window,
            whole_image=args.whole_image,
            show=args.show,
            max_frames=args.max_frames,
        )

    seen = ", ".join(f"{name} ({_plural(frames, 'frame')})" for name, frames in sorted(summary.name_frames.items())) or "no faces"
    print(f"Processed {_plural(summary.frames, 'frame')} (source at {summary.fps:.1f} fps); names shown: {seen}")
    print(f"Threshold: {format_threshold(recognizer.require_identify_threshold())}")
    if summary.output_video is not None:
        print(f"Annotated video: {summary.output_video}")
    print(f"Per-frame JSON: {summary.output_json}")
    if summary.interrupted:
        # The same note and exit status as siamese.cli gives other interrupted commands.
        print(f"siamese video: interrupted. The outputs contain the {_plural(summary.frames, 'frame')} "
              f"processed before Ctrl-C.", file=sys.stderr)
        return 130
    return 0


# gallery -----------------------------------------------------------------------------------


def _register_gallery(subparsers) -> None:
    parser = subparsers.add_parser(
        "gallery",
        help="list, rename or remove enrolled people",
        description="Manage a gallery file. These commands load no model unless --model is given, "
        "which then must be the model that made the gallery.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list enrolled people", description="List enrolled people.")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    rename = actions.add_parser("rename", help="rename a person", description="Rename a person.")
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")
    remove = actions.add_parser(
        "remove",
        help="delete a person and their embeddings",
        description="Delete a person and all their embeddings; deleted rows are overwritten in the file.",
    )
    remove.add_argument("name", metavar="NAME")

    for action in (listing, rename, remove):
        action.add_argument("--gallery", required=True, metavar="DB", help="gallery file made by `siamese enroll`")
        _add_model_option(action, "check that the gallery was made by this model.keras (default: no check)")
    parser.set_defaults(handler=run_gallery)


def run_gallery(args: argparse.Namespace) -> int:
    from siamese.gallery import open_gallery

    fingerprint = dim = None
    if args.model:
        from siamese.model import embedding_network_of, load_model, model_fingerprint
        from siamese.recognize import resolve_model_path

        network = embedding_network_of(load_model(resolve_model_path(args.model)))
        fingerprint, dim = model_fingerprint(network), int(network.output_shape[-1])

    with open_gallery(args.gallery, fingerprint, dim) as gallery:
        if args.action == "list":
            people = gallery.people()
            if args.json:
                print(json.dumps([person.__dict__ for person in people], indent=2))
            elif not people:
                print(f"{args.gallery}: nobody enrolled")
            else:
                width = max(len(person.name) for person in people)
                for person in people:
                    print(f"{person.name:<{width}}  {person.n_embeddings:>4} embedding(s)  last enrolled {person.last_enrolled}")
        elif args.action == "rename":
            gallery.rename(args.old, args.new)
            print(f"Renamed {args.old} to {args.new.strip()} in {args.gallery}")
        else:
            count = gallery.remove(args.name)
            print(f"Removed {args.name} and {count} embedding(s) from {args.gallery}")
    return 0
