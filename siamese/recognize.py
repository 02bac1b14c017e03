"""Recognize faces in photos: detect, crop, embed, and compare with a gallery or another photo.

A :class:`Recognizer` bundles a trained model, a face detector and two thresholds. Two faces
are the same person when the Euclidean distance between their embeddings is below the
threshold. ``siamese train`` stores the verification threshold it calibrated as ``threshold``
in ``metrics.json`` beside ``model.keras``, and a stricter one for identification against a
gallery as ``identify_threshold``; :func:`load_threshold` reads either from there.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamese.crops import input_size_of, prepare_face
from siamese.detect import Detection, FaceDetector, as_photo, default_detector, largest_detection
from siamese.files import relative_path_note
from siamese.pathnames import check_utf8_path
from siamese.gallery import UNKNOWN, Gallery, open_gallery, validate_name
from siamese.photos import Photo

logger = logging.getLogger(__name__)

#: Model used when neither ``--model`` nor ``$SIAMESE_MODEL`` names one.
DEFAULT_MODEL_PATH = Path("runs") / "latest" / "model.keras"
MODEL_ENV_VAR = "SIAMESE_MODEL"
METRICS_FILE = "metrics.json"

ImageInput = Photo | np.ndarray | str | os.PathLike

#: Embeddings closer than this come from the same photo. Under the default model, the 400
#: AT&T images lie at least 0.16 from each other, shifting or trimming one by a pixel moves its
#: embedding by more than 0.05, and embedding one twice gives vectors about 1e-6 apart.
SAME_PHOTO_DISTANCE = 1e-3


@dataclass(frozen=True)
class Face:
    """One face ready for the network.

    Attributes:
        box: ``(x, y, width, height)`` in pixels; the whole photo for whole-image faces.
        score: detector score, or ``None`` (whole-image faces, or detectors without scores).
        crop: float32 ``(height, width, 1)`` network input in [0, 1].
    """

    box: tuple[int, int, int, int]
    score: float | None
    crop: np.ndarray


@dataclass(frozen=True)
class Match:
    """One face identified against a gallery.

    Attributes:
        box: ``(x, y, width, height)`` in pixels.
        score: detector score or ``None``.
        name: the nearest person, or ``"unknown"`` when ``distance`` is not below the threshold.
        distance: Euclidean distance to the nearest enrolled embedding.
        nearest: the nearest person's name, even when ``name`` is ``"unknown"``.
    """

    box: tuple[int, int, int, int]
    score: float | None
    name: str
    distance: float
    nearest: str


@dataclass(frozen=True)
class Verification:
    """Result of comparing the faces of two photos.

    Attributes:
        same_person: ``distance < threshold``.
        distance: Euclidean distance between the two embeddings.
        threshold: the threshold used.
        boxes: the face box used in each photo.
    """

    same_person: bool
    distance: float
    threshold: float
    boxes: tuple[tuple[int, int, int, int], tuple[int, int, int, int]]


def resolve_model_path(path: str | os.PathLike | None = None) -> Path:
    """Return ``path``, else ``$SIAMESE_MODEL``, else ``runs/latest/model.keras``.

    Raises:
        FileNotFoundError: the chosen file does not exist; the message names the command that trains one.
        ValueError: the file does not end in ``.keras``.
    """
    if path is None:
        path = os.environ.get(MODEL_ENV_VAR) or DEFAULT_MODEL_PATH
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        found = sorted(str(candidate) for candidate in Path("runs").glob("*/model.keras"))
        hint = f" Models found under runs/: {', '.join(found[:5])}." if found else ""
        raise FileNotFoundError(
            f"Model not found: {path}{relative_path_note(path)}.{hint} Train one with `siamese train --out runs/latest`, "
            f"or pass --model PATH (or set {MODEL_ENV_VAR}) to a model.keras written by `siamese train`."
        )
    if path.suffix != ".keras":
        raise ValueError(
            f"Expected a model file ending in .keras; received {path}. Pass the model.keras that "
            f"`siamese train` wrote, or its folder."
        )
    return path


def load_threshold(model_path: str | os.PathLike, key: str = "threshold") -> float:
    """Read a calibrated threshold (``key`` in ``metrics.json`` beside the model file).

    Raises:
        FileNotFoundError: there is no ``metrics.json`` beside the model.
        KeyError: the file has no ``key`` (model folders written before ``identify_threshold``
            existed lack it).
        ValueError: the file is not JSON, or ``key`` is not a positive finite number.
    """
    metrics_path = Path(model_path).expanduser().parent / METRICS_FILE
    if metrics_path.is_dir():
        raise ValueError(f"{metrics_path} is a folder, not a metrics file. Pass --threshold DISTANCE.")
    if not metrics_path.is_file():
        raise FileNotFoundError(
            f"No {METRICS_FILE} beside {model_path}, so the calibrated threshold is unknown. "
            f"Pass --threshold DISTANCE, or use a model folder written by `siamese train`."
        )
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        # ValueError covers invalid JSON, invalid UTF-8 and integers too long to parse.
        # RecursionError comes from deeply nested brackets, OSError from an unreadable file.
        raise ValueError(f"Cannot read {metrics_path} as JSON: {error}. Pass --threshold DISTANCE.") from error
    if not isinstance(metrics, dict):
        raise ValueError(
            f"{metrics_path} contains a JSON {type(metrics).__name__}, not an object of named metrics; "
            f"retrain with `siamese train`, or pass --threshold DISTANCE where the command has it."
        )

    if key not in metrics and key != "threshold":
        raise KeyError(key)
    threshold = metrics.get(key)
    valid = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if valid:
        try:
            valid = 0 < float(threshold) < np.inf
        except OverflowError:  # an integer too large for a float
            valid = False
    if not valid:
        value_text = repr(threshold) if len(repr(threshold)) <= 40 else repr(threshold)[:37] + "..."
        raise ValueError(
            f"{metrics_path} has no positive finite number under '{key}' (found {value_text}); "
            f"retrain with `siamese train`, or pass --threshold DISTANCE where the command has it."
        )
    return float(threshold)


def validate_threshold(threshold: float) -> float:
    """Return ``threshold`` as a float, or raise ValueError unless it is positive and finite."""
    value = float(threshold)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(
            f"The threshold must be a positive finite distance, such as 1.0; received {threshold}."
        )
    return value


#: The largest Euclidean distance between two unit-length embeddings.
UNIT_DIAMETER = 2.0


def _has_unit_length_output(network) -> bool:
    """Return whether ``network`` ends by scaling its embeddings to unit length."""
    import keras

    return isinstance(network.layers[-1], keras.layers.UnitNormalization)


class Recognizer:
    """A trained embedding network with a face detector and its thresholds.

    Args:
        model: the Siamese pair model or its embedding network.
        detector: face detector. Defaults to the Haar cascade with default settings.
        threshold: distance below which :meth:`verify` calls two faces the same person;
            ``None`` leaves it unset, and :meth:`verify` then raises, as does :meth:`identify`
            unless ``identify_threshold`` is set.
        identify_threshold: distance below which :meth:`identify` and :meth:`match` name the
            nearest enrolled person. It should be stricter than ``threshold``, because a face is
            compared with every stored embedding and false matches add up, so a looser value is
            lowered to ``threshold`` with a warning. ``None`` uses ``threshold``.
    """

    def __init__(
        self,
        model,
        detector: FaceDetector | None = None,
        threshold: float | None = None,
        identify_threshold: float | None = None,
    ):
        from siamese.model import embedding_network_of, model_fingerprint

        self.network = embedding_network_of(model)
        self.input_size = input_size_of(self.network)
        self.embedding_dim = int(self.network.output_shape[-1])
        self.fingerprint = model_fingerprint(self.network)
        self.detector = detector if detector is not None else default_detector()
        self.threshold = None if threshold is None else validate_threshold(threshold)
        self.identify_threshold = None if identify_threshold is None else validate_threshold(identify_threshold)
        # Checked when a threshold is needed, so that enroll works whatever metrics.json holds.
        self._unit_length = _has_unit_length_output(self.network)
        self.model_path: Path | None = None
        # A warning about the identification threshold, logged the first time it is needed, so
        # that enroll and verify, which never use it, stay quiet.
        self._identify_note: str | None = None
        if self.threshold is not None and self.identify_threshold is not None and self.identify_threshold > self.threshold:
            self._identify_note = (
                f"identify_threshold {self.identify_threshold:.3f} is looser than the verification threshold "
                f"{self.threshold:.3f}; using {self.threshold:.3f} for both."
            )
            self.identify_threshold = self.threshold
        # Why from_path could not read the threshold, raised when one is needed.
        self._threshold_problem: str | None = None
        # The metrics.json that from_path read the thresholds from, named in range errors.
        self._threshold_file: Path | None = None

    @classmethod
    def from_path(
        cls,
        model_path: str | os.PathLike | None = None,
        detector: FaceDetector | None = None,
        threshold: float | None = None,
    ) -> "Recognizer":
        """Load a model (see :func:`resolve_model_path`) and its calibrated thresholds.

        ``threshold`` overrides both thresholds in ``metrics.json``. When neither exists the
        threshold stays unset, which is enough for detection and enrollment. An unreadable or
        invalid ``threshold`` also leaves it unset, and :meth:`require_threshold` then raises
        with the reason. A model folder without a valid ``identify_threshold`` identifies with
        ``threshold`` and logs a warning the first time it identifies.
        """
        path = resolve_model_path(model_path)  # before TensorFlow loads, so a wrong path fails fast

        from siamese.model import load_model

        identify_threshold = threshold
        note = None
        problem = None
        from_file = False
        if threshold is None:
            try:
                threshold = load_threshold(path)
            except FileNotFoundError as error:
                logger.debug("%s", error)
            except ValueError as error:
                # Detection and enrollment need no threshold, so require_threshold raises this later.
                problem = str(error)
            else:
                from_file = True
                try:
                    identify_threshold = load_threshold(path, "identify_threshold")
                except KeyError:
                    note = f"{path.parent / METRICS_FILE} has no 'identify_threshold'"
                except ValueError as error:
                    note = str(error).split(";")[0]
        recognizer = cls(load_model(path), detector, threshold, identify_threshold)
        recognizer.model_path = path
        recognizer._threshold_problem = problem
        if from_file:
            recognizer._threshold_file = path.parent / METRICS_FILE
        if note is not None:
            recognizer._identify_note = (
                f"{note}, so faces are identified with the looser verification threshold "
                f"{threshold:.3f}; retrain with `siamese train` or pass --threshold."
            )
        return recognizer

    def require_threshold(self) -> float:
        """Return the threshold, or raise ValueError saying how to set one."""
        if self.threshold is None and self._threshold_problem is not None:
            raise ValueError(self._threshold_problem)
        if self.threshold is None and self.model_path is None:
            raise ValueError("No threshold: create the Recognizer with threshold=DISTANCE, or with from_path().")
        if self.threshold is None:
            raise ValueError(
                f"No threshold: {self.model_path.parent} has no {METRICS_FILE} with a calibrated "
                f"'threshold'. Pass --threshold DISTANCE, or train the model again with `siamese train`."
            )
        self._check_in_range(self.threshold)
        return self.threshold

    def require_identify_threshold(self) -> float:
        """Return the identification threshold (``threshold`` when unset), or raise ValueError."""
        threshold = self.identify_threshold if self.identify_threshold is not None else self.require_threshold()
        if self._identify_note is not None:
            logger.warning("%s", self._identify_note)
            self._identify_note = None
        self._check_in_range(threshold)
        return threshold

    def _check_in_range(self, threshold: float) -> None:
        """Raise ValueError when ``threshold`` exceeds every possible distance between embeddings."""
        if not (self._unit_length and threshold > UNIT_DIAMETER):
            return

        origin = "" if self._threshold_file is None else f" in {self._threshold_file}"
        advice = "" if self._threshold_file is None else "retrain the model with `siamese train`, or "
        raise ValueError(
            f"The threshold {threshold}{origin} is above {UNIT_DIAMETER:g}, the largest distance between "
            f"this model's unit-length embeddings, so every pair of faces would count as the same "
            f"person. To fix it, {advice}pass a --threshold between 0 and {UNIT_DIAMETER:g}, such as 1.0."
        )

    def find_faces(self, image: ImageInput, whole_image: bool = False, channel_order: str = "bgr") -> list[Face]:
        """Detect the faces in ``image`` and prepare each for the network.

        With ``whole_image`` the whole image is one face (for photos that are face crops already).
        """
        photo = as_photo(image, channel_order)
        if whole_image:
            height, width = photo.shape
            return [Face((0, 0, width, height), None, prepare_face(photo, None, self.input_size))]

        detections = self.detector.detect(photo)
        return [self._face(photo, detection) for detection in detections]

    def _face(self, photo: Photo, detection: Detection) -> Face:
        return Face(detection.box, detection.score, prepare_face(photo, detection.box, self.input_size))

    def single_face(
        self,
        image: ImageInput,
        strict: bool = False,
        whole_image: bool = False,
        channel_order: str = "bgr",
    ) -> Face:
        """Return the one face of a photo for enrollment or verification.

        With several faces the largest is taken and a warning names the photo, unless
        ``strict``, which raises.

        Raises:
            ValueError: no face was found, or several with ``strict``.
        """
        photo = as_photo(image, channel_order)
        faces = self.find_faces(photo, whole_image)
        if not faces:
            raise ValueError(
                f"No face found in {photo.source}. Use a photo with a frontal face at least "
                f"--min-size pixels wide (30 by default), lower --score-threshold if you set one, or "
                f"pass --whole-image if the photo is already a face crop."
            )
        if len(faces) == 1:
            return faces[0]

        if strict:
            raise ValueError(
                f"Found {len(faces)} faces in {photo.source}; expected one. Crop the photo to "
                f"one person, or drop --strict to take the largest face."
            )
        largest = largest_detection([Detection(face.box, face.score) for face in faces])
        message = f"Found {len(faces)} faces in {photo.source}; using the largest, at box {list(largest.box)}."
        logger.warning(message)
        return next(face for face in faces if face.box == largest.box)

    def embed(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Embed prepared crops ``(n, height, width, 1)``; returns float32 ``(n, dim)``."""
        from siamese.evaluation import embed

        crops = np.asarray(crops, dtype=np.float32)
        if len(crops) == 0:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return embed(self.network, crops)

    def open_gallery(self, path: str | os.PathLike, create: bool = False) -> Gallery:
        """Open (or with ``create``, create) a gallery for this model's embeddings."""
        return open_gallery(path, self.fingerprint, self.embedding_dim, create=create)

    def match(self, embeddings: np.ndarray, gallery: Gallery) -> list[tuple[str, float, str]]:
        """Return ``(name, distance, nearest)`` for each embedding; ``name`` is ``"unknown"``
        when ``distance`` is not below the identification threshold."""
        threshold = self.require_identify_threshold()
        if len(embeddings) == 0:
            return []
        results = []
        for neighbor in gallery.search(embeddings):
            name = neighbor.name if neighbor.distance < threshold else UNKNOWN
            results.append((name, neighbor.distance, neighbor.name))
        return results

    def identify(
        self,
        image: ImageInput,
        gallery: Gallery,
        whole_image: bool = False,
        channel_order: str = "bgr",
    ) -> list[Match]:
        """Identify every face in ``image`` against ``gallery``; faces sorted left to right."""
        return self.identify_with_embeddings(image, gallery, whole_image, channel_order)[0]

    def identify_with_embeddings(
        self,
        image: ImageInput,
        gallery: Gallery,
        whole_image: bool = False,
        channel_order: str = "bgr",
    ) -> tuple[list[Match], np.ndarray]:
        """Identify as :meth:`identify` does, and also return the faces' float32 ``(faces, dim)``
        embeddings in the same order."""
        self.require_threshold()
        faces = self.find_faces(image, whole_image, channel_order)
        embeddings = self.embed([face.crop for face in faces])
        matches = [
            Match(face.box, face.score, name, distance, nearest)
            for face, (name, distance, nearest) in zip(faces, self.match(embeddings, gallery))
        ]
        return matches, embeddings

    def verify(
        self,
        first: ImageInput,
        second: ImageInput,
        whole_image: bool = False,
        strict: bool = False,
        channel_order: str = "bgr",
    ) -> Verification:
        """Decide whether the faces in two photos are the same person.

        Each photo contributes its one face (the largest, unless ``strict``); see :meth:`single_face`.
        """
        threshold = self.require_threshold()
        faces = [self.single_face(image, strict, whole_image, channel_order) for image in (first, second)]
        embeddings = self.embed([face.crop for face in faces])
        distance = float(np.linalg.norm(embeddings[0] - embeddings[1]))
        return Verification(distance < threshold, distance, threshold, (faces[0].box, faces[1].box))


@dataclass(frozen=True)
class EnrolledFace:
    """One photo added to the gallery: its source, the face box used and the new row id."""

    source: str
    box: tuple[int, int, int, int] | None
    embedding_id: int


@dataclass(frozen=True)
class PreparedFaces:
    """The faces of one person's photos, read and embedded but not yet stored.

    Attributes:
        sources: one description (path) per photo.
        boxes: the face box ``(x, y, width, height)`` used in each photo, ``None`` for whole images.
        embeddings: float32 ``(photos, embedding_dim)``.
        fingerprint: the fingerprint of the model that embedded them.
    """

    sources: list[str]
    boxes: list[tuple[int, int, int, int] | None]
    embeddings: np.ndarray
    fingerprint: str


def prepare_enrollment(
    recognizer: Recognizer,
    images: list[ImageInput],
    strict: bool = False,
    whole_image: bool = False,
    progress: bool = False,
) -> PreparedFaces:
    """Read every photo, find its face and embed it, without writing anything.

    Args: as :func:`enroll`.

    Raises:
        ValueError: no photos, a photo has no face (the message names it), or a photo's file
            name is not valid UTF-8, which the gallery cannot store.
        FileNotFoundError: a photo does not exist.
    """
    if not images:
        raise ValueError("Enrollment needs at least one photo; received none.")
    for image in images:
        if isinstance(image, (str, os.PathLike)):
            check_utf8_path(image)

    faces, sources = [], []
    for image in tqdm(images, desc="Reading photos", unit="photo", disable=not progress or len(images) < 2):
        photo = as_photo(image)
        faces.append(recognizer.single_face(photo, strict, whole_image))
        sources.append(photo.source)

    embeddings = recognizer.embed([face.crop for face in faces])
    boxes = [None if whole_image else face.box for face in faces]
    return PreparedFaces(sources, boxes, embeddings, recognizer.fingerprint)


def store_enrollment(gallery: Gallery, name: str, prepared: PreparedFaces) -> list[EnrolledFace]:
    """Add ``prepared`` faces to ``gallery`` under ``name`` in one transaction.

    Photos already enrolled under ``name`` are skipped with a warning, so the result lists
    only the faces stored, and is empty when every photo was there already.

    Raises:
        ValueError: the gallery was opened for another model, or the name is invalid.
    """
    if gallery.model_fingerprint != prepared.fingerprint:
        raise ValueError("The gallery was opened for another model; open it with recognizer.open_gallery().")

    name = validate_name(name)
    with gallery.transaction():  # so that no other process stores the same photo meanwhile
        # An older gallery may store the name in another Unicode form, as Gallery.add finds it.
        name = gallery.stored_name(name) or name
        keep = _new_photos(gallery, name, prepared)
        if not keep:
            return []

        sources = [prepared.sources[i] for i in keep]
        boxes = [prepared.boxes[i] for i in keep]
        ids = gallery.add(name, prepared.embeddings[keep], sources, boxes)
    return [EnrolledFace(source, box, row_id) for source, box, row_id in zip(sources, boxes, ids)]


def _new_photos(gallery: Gallery, name: str, prepared: PreparedFaces) -> list[int]:
    """Return the positions in ``prepared`` worth storing under ``name``.

    A photo whose embedding is already stored under ``name``, or repeats an earlier photo of
    this enrollment, adds nothing to a nearest-neighbour search, so it is skipped with a
    warning. A photo stored only under other names is kept, with a warning, since the gallery
    then contains one face under two names.
    """
    index = gallery.index()
    own_rows = index.person_ids == (index.names.index(name) if name in index.names else -1)
    keep: list[int] = []
    for position, vector in enumerate(prepared.embeddings):
        source = prepared.sources[position]
        earlier = prepared.embeddings[keep]
        if len(earlier) and np.linalg.norm(earlier - vector, axis=1).min() < SAME_PHOTO_DISTANCE:
            logger.warning("Skipped %s: it repeats an earlier photo of this enrollment.", source)
            continue

        distances = np.linalg.norm(index.embeddings - vector, axis=1)
        same = distances < SAME_PHOTO_DISTANCE
        if np.any(same & own_rows):
            logger.warning("Skipped %s: this face is already enrolled as %s.", source, name)
            continue
        if np.any(same):
            others = sorted({index.names[person] for person in index.person_ids[same]})
            logger.warning(
                "%s shows a face already enrolled as %s, so the gallery now stores it under %d names. "
                "If a name is wrong, `siamese gallery remove NAME` deletes every embedding of that name, "
                "after which its right photos can be enrolled again.",
                source,
                " and ".join(others),
                len(others) + 1,
            )
        keep.append(position)
    return keep


def enroll(
    recognizer: Recognizer,
    gallery: Gallery,
    name: str,
    images: list[ImageInput],
    strict: bool = False,
    whole_image: bool = False,
    progress: bool = False,
) -> list[EnrolledFace]:
    """Add a person to the gallery from one or more photos, all or none.

    Every photo is read and embedded first (:func:`prepare_enrollment`), then all embeddings
    are written in one transaction (:func:`store_enrollment`), so an unreadable photo, a photo
    without a face, or an interruption leaves the gallery unchanged.

    Args:
        recognizer: supplies the detector and network; its fingerprint must match the gallery.
        gallery: opened with :meth:`Recognizer.open_gallery`.
        name: the person's name; a person already enrolled gets more embeddings.
        images: photo paths, arrays (BGR) or :class:`~siamese.photos.Photo` objects.
        strict: raise on a photo with several faces instead of taking the largest.
        whole_image: treat each photo as a face crop and skip detection.
        progress: show a tqdm progress bar over the photos.

    Returns:
        The faces stored; photos already enrolled under ``name`` are skipped with a warning.

    Raises:
        ValueError: no photos, or a photo has no face (the message names it).
        FileNotFoundError: a photo does not exist.
    """
    if gallery.model_fingerprint != recognizer.fingerprint:
        raise ValueError("The gallery was opened for another model; open it with recognizer.open_gallery().")

    prepared = prepare_enrollment(recognizer, images, strict, whole_image, progress)
    return store_enrollment(gallery, name, prepared)
