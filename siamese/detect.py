"""Find faces in photos with OpenCV: a Haar cascade by default, or the YuNet DNN detector.

Both detectors take a :class:`~siamese.photos.Photo` and return :class:`Detection` boxes
``(x, y, width, height)`` in pixels of that photo, sorted left to right.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from siamese.photos import Photo, photo_from_array, read_photo

logger = logging.getLogger(__name__)

#: Upper bounds of the Haar options; OpenCV rejects larger values with a C++ error.
MAX_NEIGHBORS = 10_000
MAX_SIZE = 100_000

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"
DETECTOR_KINDS = ("haar", "dnn")

# Detector defaults: OpenCV's usual Haar settings. On the four sample photos they find
# exactly the 1, 1, 1 and 4 faces present; minNeighbors=3 adds a false face in one of them.
DEFAULT_SCALE_FACTOR = 1.1
#: Smallest Haar scale factor accepted. OpenCV's cascade (cascadedetect.cpp, OpenCV 4.x and 5.1)
#: scans one pyramid level per factor step, about log(image side / window side) / log(factor)
#: levels, and allocates one buffer for all of them, about 1 / (1 - factor**-2) times the image
#: area: 5.8 times at 1.1, 10.8 at 1.05, and 50,000 at 1.00001, where OpenCV asked for 340 GB on
#: an 800x1200 photo. On that photo 1.05 took 0.2 s and 1.1 0.1 s (OpenCV 5.1, 2 CPU cores).
MIN_SCALE_FACTOR = 1.05
DEFAULT_MIN_NEIGHBORS = 5
DEFAULT_MIN_SIZE = 30
DEFAULT_SCORE_THRESHOLD = 0.9

#: A Haar box is dropped when more than this fraction of the smaller of it and a higher-scoring
#: box lies in their intersection, so one face gives one box. OpenCV groups the raw hits of
#: each scale but can still return a second, weaker box on the same face. On the four sample
#: photos shifted into 800x600 frames (OpenCV 5.1), such second boxes covered 0.66 to 0.82 of
#: the smaller box, and two different faces never overlap there at all.
DEFAULT_MAX_OVERLAP = 0.5


@dataclass(frozen=True)
class Detection:
    """One detected face.

    Attributes:
        box: ``(x, y, width, height)`` in pixels; ``(x, y)`` is the top-left corner.
        score: detector confidence, or ``None`` where the detector gives none. For the Haar
            cascade it is the level weight, larger when more certain (2.3 to 10.4 on the
            sample photos). For YuNet it is a score in [0, 1].
    """

    box: tuple[int, int, int, int]
    score: float | None = None

    @property
    def area(self) -> int:
        """Box area in square pixels."""
        return self.box[2] * self.box[3]


class FaceDetector(Protocol):
    """Anything with ``detect(photo) -> list[Detection]``."""

    def detect(self, photo: Photo) -> list[Detection]: ...


class HaarFaceDetector:
    """OpenCV's Viola–Jones Haar cascade (``cv2.CascadeClassifier``).

    Args:
        cascade: cascade XML file. Defaults to ``haarcascade_frontalface_default.xml`` from
            ``cv2.data.haarcascades``.
        scale_factor: image pyramid step, at least :data:`MIN_SCALE_FACTOR` (1.05). Smaller
            finds more faces, slower. Defaults to 1.1.
        min_neighbors: overlapping raw hits a face needs to be kept; larger rejects more
            false faces. Defaults to 5.
        min_size: smallest face side in pixels. Defaults to 30.
        min_score: smallest level weight (the score) kept; ``None`` (the default) keeps every
            face that :func:`suppress_overlaps` keeps. ``python -m benchmarks.haar_scores``
            (OpenCV 5.1) found real faces scoring 2.89 or more and false boxes 0.39 to 6.6,
            so no value drops every false box and keeps every face.
        max_overlap: fraction of the smaller box's area above which the weaker of two
            overlapping boxes is dropped (see :func:`suppress_overlaps`); 1 keeps both.
            Defaults to :data:`DEFAULT_MAX_OVERLAP`, 0.5.

    Raises:
        ImportError: this OpenCV build has no ``CascadeClassifier``; the message names the
            package to install.
        FileNotFoundError: the cascade file does not exist.
        ValueError: the cascade file cannot be loaded, or an argument is out of range.
    """

    def __init__(
        self,
        cascade: str | os.PathLike | None = None,
        scale_factor: float = DEFAULT_SCALE_FACTOR,
        min_neighbors: int = DEFAULT_MIN_NEIGHBORS,
        min_size: int = DEFAULT_MIN_SIZE,
        min_score: float | None = None,
        max_overlap: float = DEFAULT_MAX_OVERLAP,
    ):
        if not hasattr(cv2, "CascadeClassifier"):
            raise ImportError(
                f"OpenCV {cv2.__version__} has no CascadeClassifier, so Haar face detection is "
                f"unavailable. Install opencv-contrib-python-headless (pip install "
                f"opencv-contrib-python-headless) in place of opencv-python."
            )
        if not MIN_SCALE_FACTOR <= scale_factor < np.inf:
            raise ValueError(
                f"scale_factor (--scale-factor) must be a finite number of at least {MIN_SCALE_FACTOR}; "
                f"received {scale_factor}. Smaller steps make OpenCV's image pyramid too large."
            )
        if int(min_neighbors) != min_neighbors or not 0 <= min_neighbors <= MAX_NEIGHBORS:
            raise ValueError(
                f"min_neighbors (--min-neighbors) must be an integer from 0 to {MAX_NEIGHBORS}; received {min_neighbors}."
            )
        if int(min_size) != min_size or not 1 <= min_size <= MAX_SIZE:
            raise ValueError(f"min_size (--min-size) must be from 1 to {MAX_SIZE} pixels; received {min_size}.")
        if min_score is not None and not np.isfinite(min_score):
            raise ValueError(f"min_score (--score-threshold) must be a finite number; received {min_score}.")
        if not 0.0 < max_overlap <= 1.0:
            raise ValueError(f"max_overlap must be a fraction in (0, 1]; received {max_overlap}.")

        self.cascade_path = Path(cascade).expanduser() if cascade else default_cascade_path()
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.min_score = None if min_score is None else float(min_score)
        self.max_overlap = float(max_overlap)
        self._cascade = _load_cascade(self.cascade_path)
        if self.min_score is not None and not hasattr(self._cascade, "detectMultiScale3"):
            raise ValueError(
                f"OpenCV {cv2.__version__} gives Haar detections no scores, so min_score "
                f"(--score-threshold) cannot apply; leave it unset."
            )

    def detect(self, photo: Photo) -> list[Detection]:
        """Return the faces in ``photo``, sorted left to right, with level weights as scores.

        Of two heavily overlapping boxes only the higher-scoring one is kept (see
        :func:`suppress_overlaps`), then boxes below ``min_score`` are dropped.
        """
        options = {
            "scaleFactor": self.scale_factor,
            "minNeighbors": self.min_neighbors,
            "minSize": (self.min_size, self.min_size),
        }
        gray = photo.gray_uint8
        with _opencv_errors(photo):
            if hasattr(self._cascade, "detectMultiScale3"):
                boxes, _, weights = self._cascade.detectMultiScale3(gray, outputRejectLevels=True, **options)
                scores = [float(weight) for weight in np.ravel(weights)]
            else:
                boxes = self._cascade.detectMultiScale(gray, **options)
                scores = [None] * len(boxes)
        detections = suppress_overlaps(_sorted_detections(boxes, scores, photo.shape), self.max_overlap)
        if self.min_score is None:
            return detections
        return [detection for detection in detections if detection.score >= self.min_score]


def haar_scores_available() -> bool:
    """Return whether this OpenCV build gives Haar detections scores (``detectMultiScale3``)."""
    return hasattr(getattr(cv2, "CascadeClassifier", None), "detectMultiScale3")


def overlap_fraction(first: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> float:
    """Return the intersection area of two ``(x, y, width, height)`` boxes over the smaller box's area, in [0, 1]."""
    ax, ay, aw, ah = first
    bx, by, bw, bh = second
    overlap_width = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_height = max(0, min(ay + ah, by + bh) - max(ay, by))
    smaller = min(aw * ah, bw * bh)
    return overlap_width * overlap_height / smaller if smaller > 0 else 0.0


def suppress_overlaps(detections: list[Detection], max_overlap: float = DEFAULT_MAX_OVERLAP) -> list[Detection]:
    """Drop each box that overlaps a stronger kept box by more than ``max_overlap``, sorted left to right.

    Boxes are visited from the highest score down, so a box is compared only with stronger
    ones. Equal scores (or no scores) go to the larger box, then to the leftmost, then the
    topmost, so the result never depends on the input order. The overlap is
    :func:`overlap_fraction`, the intersection over the smaller box's area, because a weak
    box that lies inside a face box has a small IoU with it.
    """
    def strength(detection: Detection):
        score = -np.inf if detection.score is None else detection.score
        return (-score, -detection.area, detection.box)

    kept: list[Detection] = []
    for detection in sorted(detections, key=strength):
        if all(overlap_fraction(detection.box, other.box) <= max_overlap for other in kept):
            kept.append(detection)
    return sorted(kept, key=lambda detection: (detection.box[0], detection.box[1]))


def default_cascade_path() -> Path:
    """Return the path of OpenCV's frontal-face Haar cascade, ``cv2.data.haarcascades``."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None:
        raise ImportError(
            f"OpenCV {cv2.__version__} ships no Haar cascade files (cv2.data.haarcascades is "
            f"missing). Install opencv-contrib-python-headless, or pass a cascade XML file."
        )
    return Path(folder) / DEFAULT_CASCADE


def _load_cascade(path: Path) -> "cv2.CascadeClassifier":
    if path.exists() and not path.is_file():
        raise ValueError(
            f"Haar cascade '{path}' is not a regular file. Pass a cascade XML file, such as "
            f"{DEFAULT_CASCADE} from the folder cv2.data.haarcascades."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"Haar cascade file not found: '{path}'. Pass an existing cascade XML file, such as "
            f"{DEFAULT_CASCADE} from the folder cv2.data.haarcascades."
        )
    classifier = cv2.CascadeClassifier()
    try:
        loaded = classifier.load(str(path))
    except (cv2.error, SystemError) as error:
        # OpenCV's own message is a C++ parser error, so the message below names the file to pass instead.
        logger.debug("OpenCV could not parse %s: %s", path, error)
        loaded = False
    if not loaded or classifier.empty():
        raise ValueError(
            f"Cannot load Haar cascade {path}: OpenCV found no classifier in it. Expected an "
            f"OpenCV cascade XML file such as {DEFAULT_CASCADE}."
        )
    return classifier


class DnnFaceDetector:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``), given its ONNX model file.

    The model file is not bundled. Download it from the OpenCV Zoo
    (github.com/opencv/opencv_zoo, models/face_detection_yunet). Its README says OpenCV 5's
    ONNX Runtime engine needs ``face_detection_yunet_2026may.onnx``, the variant with a
    dynamic input shape; ``face_detection_yunet_2023mar.onnx`` has a fixed shape and suits
    OpenCV 4.

    Args:
        model: path of the YuNet ONNX file.
        score_threshold: smallest score in [0, 1] kept. Defaults to 0.9.
        nms_threshold: IoU above which overlapping boxes are merged. Defaults to 0.3.
        top_k: candidates kept before non-maximum suppression. Defaults to 5000.

    Raises:
        ImportError: this OpenCV build has no ``FaceDetectorYN``.
        FileNotFoundError: ``model`` does not exist.
        ValueError: OpenCV cannot load ``model`` as a YuNet network.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ):
        if not hasattr(cv2, "FaceDetectorYN"):
            raise ImportError(
                f"OpenCV {cv2.__version__} has no FaceDetectorYN; install "
                f"opencv-contrib-python-headless 4.8 or later, or use the Haar detector."
            )
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold (--score-threshold) must lie in [0, 1] for YuNet; received {score_threshold}.")

        self.model_path = Path(model).expanduser()
        if self.model_path.exists() and not self.model_path.is_file():
            raise ValueError(
                f"Face detection model '{self.model_path}' is not a regular file. Pass the YuNet "
                f"ONNX file, such as face_detection_yunet_2026may.onnx from the OpenCV Zoo."
            )
        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"Face detection model not found: '{self.model_path}'. Download the YuNet ONNX "
                f"file (face_detection_yunet_2026may.onnx for OpenCV 5) from the OpenCV Zoo, or "
                f"use the Haar detector."
            )
        try:
            self._detector = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), float(score_threshold), float(nms_threshold), int(top_k)
            )
        except cv2.error as error:
            # OpenCV's own message is a multi-line C++ error with its source path, so it goes to
            # the debug log and the message below names the file to pass instead.
            logger.debug("OpenCV could not load %s: %s", self.model_path, error)
            raise ValueError(
                f"Cannot load '{self.model_path}' as a YuNet face detection model: OpenCV could "
                f"not read it as an ONNX network. Pass a YuNet ONNX file from the OpenCV Zoo, "
                f"such as face_detection_yunet_2026may.onnx."
            ) from error

    def detect(self, photo: Photo) -> list[Detection]:
        """Return the faces in ``photo``, sorted left to right, with YuNet scores in [0, 1]."""
        # NOTE: never run against a real YuNet file in this project's tests, because none is
        # available offline; only the load errors are tested.
        height, width = photo.shape
        with _opencv_errors(photo):
            self._detector.setInputSize((width, height))
            _, faces = self._detector.detect(photo.bgr)
        if faces is None:
            return []
        # Each row is x, y, width, height, five landmark (x, y) pairs, then the score.
        boxes = np.round(faces[:, :4]).astype(int)
        return _sorted_detections(boxes, [float(score) for score in faces[:, 14]], photo.shape)


@contextlib.contextmanager
def _opencv_errors(photo: Photo):
    """Turn a ``cv2.error`` raised while detecting faces in ``photo`` into a one-line ValueError.

    OpenCV raises it for input it cannot process, such as a photo whose image pyramid does not
    fit in memory.
    """
    try:
        yield
    except cv2.error as error:
        # str(error) is "OpenCV(5.1.0) FILE:LINE: error: (CODE:KIND) DETAIL in function 'NAME'".
        reason = str(error).split("error: ", 1)[-1].strip()
        raise ValueError(
            f"OpenCV could not detect faces in {photo.source}: {reason}. Shrink the photo, or "
            f"raise --scale-factor or --min-size."
        ) from error


def _sorted_detections(boxes, scores, shape: tuple[int, int]) -> list[Detection]:
    height, width = shape
    detections = []
    for box, score in zip(np.asarray(boxes).reshape(-1, 4), scores):
        x, y, w, h = (int(value) for value in box)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, width), min(y + h, height)
        if x1 > x0 and y1 > y0:
            detections.append(Detection((x0, y0, x1 - x0, y1 - y0), score))
    return sorted(detections, key=lambda detection: (detection.box[0], detection.box[1]))


def create_detector(
    kind: str = "haar",
    *,
    cascade: str | os.PathLike | None = None,
    dnn_model: str | os.PathLike | None = None,
    scale_factor: float = DEFAULT_SCALE_FACTOR,
    min_neighbors: int = DEFAULT_MIN_NEIGHBORS,
    min_size: int = DEFAULT_MIN_SIZE,
    score_threshold: float | None = None,
) -> FaceDetector:
    """Create a ``"haar"`` or ``"dnn"`` detector; see :class:`HaarFaceDetector` and
    :class:`DnnFaceDetector` for the options each one uses.

    ``score_threshold`` is the Haar ``min_score`` (``None`` keeps every face) or the YuNet
    ``score_threshold`` (``None`` means ``DEFAULT_SCORE_THRESHOLD``, 0.9).

    Raises:
        ValueError: unknown ``kind``, or ``"dnn"`` without ``dnn_model``.
    """
    if kind == "haar":
        return HaarFaceDetector(cascade, scale_factor, min_neighbors, min_size, score_threshold)
    if kind == "dnn":
        if dnn_model is None:
            raise ValueError(
                "The dnn detector needs its ONNX model file; pass the path of "
                "face_detection_yunet_2026may.onnx (--dnn-model FILE)."
            )
        return DnnFaceDetector(dnn_model, DEFAULT_SCORE_THRESHOLD if score_threshold is None else score_threshold)
    raise ValueError(f"Unknown detector {kind!r}; expected one of: {', '.join(DETECTOR_KINDS)}.")


@functools.lru_cache(maxsize=1)
def default_detector() -> HaarFaceDetector:
    """Return a shared :class:`HaarFaceDetector` with the default settings."""
    return HaarFaceDetector()


def as_photo(image: Photo | np.ndarray | str | os.PathLike, channel_order: str = "bgr") -> Photo:
    """Return ``image`` as a :class:`Photo`: a file path is read, an array is wrapped.

    ``channel_order`` (``"bgr"`` or ``"rgb"``) applies to colour arrays only; files and photos
    carry their own order.
    """
    if isinstance(image, Photo):
        return image
    if isinstance(image, np.ndarray):
        return photo_from_array(image, channel_order)
    if isinstance(image, (str, os.PathLike)):
        return read_photo(image)
    raise ValueError(
        f"Expected a file path, a NumPy image array or a Photo; received {type(image).__name__}."
    )


def detect_faces(
    image: Photo | np.ndarray | str | os.PathLike,
    detector: FaceDetector | None = None,
    channel_order: str = "bgr",
) -> list[Detection]:
    """Detect the faces in a photo file, a NumPy array or a :class:`Photo`.

    Args:
        image: a path, a :class:`Photo`, or an array (see :func:`siamese.photos.photo_from_array`).
        detector: defaults to a Haar cascade with the default settings.
        channel_order: ``"bgr"`` (OpenCV) or ``"rgb"`` (Pillow, Matplotlib) for colour arrays.

    Returns:
        Detections sorted left to right; an empty list when there is no face.
    """
    photo = as_photo(image, channel_order)
    return (detector or default_detector()).detect(photo)


def largest_detection(detections: list[Detection]) -> Detection:
    """Return the detection with the largest box area."""
    if not detections:
        raise ValueError("Expected at least one detection; received none.")
    return max(detections, key=lambda detection: detection.area)
