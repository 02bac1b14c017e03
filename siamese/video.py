"""Identify faces in a video file or a camera stream, frame by frame.

Each frame goes through :meth:`siamese.recognize.Recognizer.identify_with_embeddings`. A
:class:`FaceTracker` links boxes from frame to frame by overlap (IoU) and, when given embeddings,
only when the two faces also look alike. It reports, per tracked face, the most frequent name
over the last few frames, so a name does not flicker when one frame's distance crosses the
threshold.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import logging
import os
import sys
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siamese.annotate import KNOWN_COLOUR, UNKNOWN_COLOUR, draw_faces
from siamese.distances import format_distance, json_distance
from siamese.files import WriteFailedError, explain_storage_errors, make_folder, storage_error
from siamese.gallery import UNKNOWN, Gallery
from siamese.outputs import check_not_inputs, path_exists, protected_inputs
from siamese.pathnames import check_utf8_path, display_path
from siamese.photos import default_file_mode, photo_from_array

logger = logging.getLogger(__name__)

#: FourCC codec per output suffix. The opencv-contrib-python-headless 5.1 wheel writes and reads
#: back all four.
VIDEO_CODECS = {".avi": "MJPG", ".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v"}
#: Frame rate written when the source reports none (a camera may report 0), in frames per second.
FALLBACK_FPS = 25.0
WINDOW_NAME = "siamese video"
#: Smallest frame side, in pixels, written as MJPG video. OpenCV 5.1's MJPG writer aborted the
#: whole process on 4x4 and 5x5 frames and wrote 6x6 and larger, and JPEG codes 8x8 blocks, so
#: 8 keeps a margin. The mp4v writer wrote 4x4 frames.
MIN_MJPG_SIDE = 8
#: Free space, in bytes, below which a video that OpenCV wrote short is blamed on a full disk.
#: One MJPG frame of a 640x480 video takes an estimated tens of KiB, so a disk with less than 1 MiB free
#: has most likely run out during the run.
FULL_DISK_BYTES = 2**20
#: Largest camera index OpenCV takes, because it reads the index as a C int.
MAX_CAMERA_INDEX = 2**31 - 1


def parse_source(text: str | int | os.PathLike) -> int | Path:
    """Return a camera index for digit strings (``"0"``) unless such a file exists, else a path."""
    if isinstance(text, int):
        return text
    text = str(text)
    if text.isascii() and text.isdigit() and not path_exists(Path(text)):
        return int(text)
    return Path(text).expanduser()


def open_capture(source: int | str | os.PathLike) -> cv2.VideoCapture:
    """Open a video file or camera, raising a clear error when OpenCV cannot open it.

    Raises:
        FileNotFoundError: the video file does not exist.
        ValueError: the camera cannot be opened, or the file cannot be decoded.
    """
    source = parse_source(source)
    if isinstance(source, int):
        if source > MAX_CAMERA_INDEX:
            raise ValueError(f"Camera index {source} is out of range. Pass a small index such as 0 or 1.")
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            capture.release()
            raise ValueError(
                f"Camera {source} could not be opened. Check that it is connected and not in use "
                f"by another program, try another index, or pass a video file."
            )
        return capture

    try:
        exists = source.exists()
    except OSError as error:
        raise ValueError(f"Cannot use {str(source)[:80]}… as a video path: {error.strerror}. Check the path.") from error
    if not exists:
        raise FileNotFoundError(f"Video not found: '{display_path(source)}'. Check the path, or pass a camera index such as 0.")
    if not source.is_file():
        raise ValueError(f"Expected a video file; received the folder '{display_path(source)}'.")
    # OpenCV 5.1 crashed with a segmentation fault on a file name that is not valid UTF-8.
    check_utf8_path(source)
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        capture.release()
        raise ValueError(
            f"Cannot read video {source}: OpenCV could not decode it. Check that the file plays "
            f"in a video player, or convert it to AVI with MJPG, which OpenCV reads."
        )
    return capture


def has_display() -> bool:
    """Return whether ``cv2.imshow`` can open a window here.

    Headless OpenCV builds report ``GUI: NONE`` in their build information; on Linux a window
    also needs an X11 or Wayland display (``$DISPLAY`` or ``$WAYLAND_DISPLAY``).
    """
    for line in cv2.getBuildInformation().splitlines():
        label, _, value = line.partition(":")
        if label.strip() == "GUI" and value.strip().upper() in ("", "NONE", "NO"):
            return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def box_iou(first: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> float:
    """Intersection over union of two ``(x, y, width, height)`` boxes, in [0, 1]."""
    ax, ay, aw, ah = first
    bx, by, bw, bh = second
    overlap_width = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_height = max(0, min(ay + ah, by + bh) - max(ay, by))
    intersection = overlap_width * overlap_height
    union = aw * ah + bw * bh - intersection
    return intersection / union if union > 0 else 0.0


@dataclass
class Track:
    """A face followed across frames: its id, last box, recent names, frames since last seen and
    last embedding (``None`` when the tracker is given none)."""

    id: int
    box: tuple[int, int, int, int]
    names: collections.deque
    missed: int = 0
    embedding: np.ndarray | None = None

    def smoothed_name(self) -> str:
        """Return the most frequent recent name; a tie goes to the most recent of the tied names."""
        counts = collections.Counter(self.names)
        best = max(counts.values())
        return next(name for name in reversed(self.names) if counts[name] == best)


class FaceTracker:
    """Link face boxes across frames by IoU and smooth each face's name by majority vote.

    Args:
        window: frames in each face's majority vote. Defaults to 5.
        min_iou: smallest IoU that links a box to an existing face. Defaults to 0.3.
        max_missed: frames a face may go undetected before its track ends. Defaults to 10.
        max_distance: when :meth:`update` receives embeddings, a box links to a track only if
            its embedding lies closer than this to the track's last one, so a scene cut that
            puts another person where a face was starts a new track. ``None`` (the default)
            links by IoU alone. :func:`process_video` passes :func:`tracking_distance`.
    """

    def __init__(self, window: int = 5, min_iou: float = 0.3, max_missed: int = 10,
                 max_distance: float | None = None):
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive number of frames; received {window}.")
        if not 0.0 < min_iou <= 1.0:
            raise ValueError(f"min_iou must lie in (0, 1]; received {min_iou}.")
        if max_distance is not None and not max_distance > 0:
            raise ValueError(f"max_distance must be a positive distance or None; received {max_distance}.")
        self.window = int(window)
        self.min_iou = float(min_iou)
        self.max_missed = int(max_missed)
        self.max_distance = None if max_distance is None else float(max_distance)
        self.tracks: list[Track] = []
        self._next_id = 1

    def _looks_alike(self, track: Track, embedding: np.ndarray | None) -> bool:
        if self.max_distance is None or embedding is None or track.embedding is None:
            return True
        return float(np.linalg.norm(track.embedding - embedding)) < self.max_distance

    def update(
        self,
        boxes: list[tuple[int, int, int, int]],
        names: list[str],
        embeddings: np.ndarray | None = None,
    ) -> list[tuple[int, str]]:
        """Add one frame's faces and return ``(track_id, smoothed_name)`` for each box, in order.

        ``embeddings``, float ``(len(boxes), dim)`` or ``None``, gate the links when the tracker
        has a ``max_distance``.
        """
        if embeddings is not None and len(embeddings) != len(boxes):
            raise ValueError(f"update needs one embedding per box; received {len(embeddings)} for {len(boxes)} boxes.")
        face_embeddings = [None] * len(boxes) if embeddings is None else list(embeddings)

        pairs = sorted(
            (
                (box_iou(track.box, box), track_index, box_index)
                for track_index, track in enumerate(self.tracks)
                for box_index, box in enumerate(boxes)
            ),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, track_index, box_index in pairs:
            if overlap < self.min_iou:
                break
            if track_index in used_tracks or box_index in assigned:
                continue
            if not self._looks_alike(self.tracks[track_index], face_embeddings[box_index]):
                continue
            used_tracks.add(track_index)
            assigned[box_index] = self.tracks[track_index]

        for track_index, track in enumerate(self.tracks):
            if track_index not in used_tracks:
                track.missed += 1
        self.tracks = [track for track in self.tracks if track.missed <= self.max_missed]

        results = []
        for box_index, (box, name) in enumerate(zip(boxes, names)):
            track = assigned.get(box_index)
            if track is None:
                track = Track(self._next_id, box, collections.deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(track)
            track.box = tuple(box)
            track.missed = 0
            track.names.append(name)
            track.embedding = face_embeddings[box_index]
            results.append((track.id, track.smoothed_name()))
        return results


@dataclass
class VideoSummary:
    """Result of :func:`process_video`.

    Attributes:
        frames: frames processed.
        fps: frame rate of the source (or the fallback), in frames per second.
        output_video: the annotated video, if written.
        output_json: the per-frame JSON Lines file, if written.
        name_frames: frames in which each smoothed name appeared.
        stopped_early: the run ended by a keypress or Ctrl-C rather than the end of the input.
        interrupted: the run ended by Ctrl-C; the outputs contain the frames processed before it.
    """

    frames: int
    fps: float
    output_video: Path | None
    output_json: Path | None
    name_frames: dict[str, int] = field(default_factory=dict)
    stopped_early: bool = False
    interrupted: bool = False


def tracking_distance(recognizer) -> float:
    """Return the embedding distance that splits a track: the calibrated ``identify_threshold``.

    It is read from the model's ``metrics.json`` when there is one, so ``--threshold``, which
    sets how strictly faces are named, does not also break tracks apart. The identification
    threshold is the stricter of the two calibrated values, because two different people's
    photos often lie closer than the verification threshold. Without ``metrics.json`` the
    recognizer's own identification threshold is used.
    """
    from siamese.recognize import UNIT_DIAMETER, load_threshold

    if recognizer.model_path is not None:
        try:
            # The recognizer lowers a looser identify_threshold to the verification one, and no
            # distance between unit-length embeddings exceeds UNIT_DIAMETER, so apply both here.
            distance = min(
                load_threshold(recognizer.model_path, "identify_threshold"),
                load_threshold(recognizer.model_path, "threshold"),
            )
            if distance <= UNIT_DIAMETER:
                return distance
            logger.debug("Tracking with the recognizer's threshold: %s is above %s", distance, UNIT_DIAMETER)
        except (FileNotFoundError, KeyError, ValueError) as error:
            logger.debug("Tracking with the recognizer's threshold: %s", error)
    return recognizer.require_identify_threshold()


def _temporary_beside(path: Path) -> Path:
    make_folder(path.parent)
    # A shortened prefix keeps the temporary name legal for output names near the 255-byte limit.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem[:100]}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    return Path(temporary)


def _source_fps(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if np.isfinite(fps) and 0 < fps <= 240 else FALLBACK_FPS


def process_video(
    source: int | str | os.PathLike,
    recognizer,
    gallery: Gallery,
    output_video: str | os.PathLike | None = None,
    output_json: str | os.PathLike | None = None,
    window: int = 5,
    whole_image: bool = False,
    show: bool | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> VideoSummary:
    """Identify the faces in every frame, writing an annotated video and per-frame JSON.

    Args:
        source: a video file, or a camera index (``0`` or ``"0"``).
        recognizer: a :class:`~siamese.recognize.Recognizer` with a threshold.
        gallery: opened for the recognizer's model.
        output_video: annotated video path (``.avi`` with MJPG, or ``.mp4``/``.m4v``/``.mov``
            with mp4v); ``None`` writes none. It appears only when the run ends, complete.
        output_json: JSON Lines path, one object per frame: ``{"frame", "time" (seconds),
            "faces": [{"box", "score", "track", "name", "raw_name", "nearest", "distance"}]}``
            where ``name`` is smoothed over ``window`` frames, ``raw_name`` is this frame's
            match (``"unknown"`` above the identification threshold), and ``distance`` is the
            distance to ``nearest``, the nearest enrolled person.
        window: frames in each face's majority vote. Defaults to 5.
        whole_image: treat each frame as one face crop.
        show: display the annotated frames in a window (``q`` or Esc stops). ``None`` shows
            them when a display exists; ``True`` without a display logs a warning and skips.
        max_frames: stop after this many frames; ``None`` runs to the end (cameras until
            ``q``, Esc or Ctrl-C).
        progress: show a tqdm progress bar.

    Raises:
        FileNotFoundError: the video file is missing.
        ValueError: the input cannot be opened or contains no frames. Also raised when an
            output suffix has no codec, when an output path is the input video, the gallery,
            the model, its ``metrics.json`` or the other output, or a folder that would be
            created for an output is one of those inputs, and when the frames are too small for
            MJPG.
        WriteFailedError: the disk under an output is full, read-only or over quota, or
            OpenCV's video writer wrote fewer frames than it was given. No output is left.
    """
    recognizer.require_threshold()
    track_distance = tracking_distance(recognizer)
    output_video = None if output_video is None else Path(output_video).expanduser()
    output_json = None if output_json is None else Path(output_json).expanduser()
    output_paths = [path for path in (output_video, output_json) if path is not None]
    if output_video is not None:
        suffix = Path(output_video).suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise ValueError(
                f"Cannot choose a codec for {output_video}; use one of: {', '.join(VIDEO_CODECS)}."
            )
    check_output_paths(output_paths, source, gallery, recognizer)

    display = has_display() if show is None else bool(show)
    if display and not has_display():
        logger.warning("No display is available (headless OpenCV or no $DISPLAY); not showing frames.")
        display = False

    capture = open_capture(source)
    fps = _source_fps(capture)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if max_frames is not None:
        total = min(total, max_frames) if total > 0 else max_frames

    try:
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if output_video is not None and width > 0 and height > 0:
            # Checked before the progress bar starts, so the error is not printed after a bar.
            # The first frame is checked again, because a camera may report no size.
            _check_frame_size(output_video, width, height)
        outputs = _FrameOutputs(output_video, output_json, fps)
    except BaseException:
        capture.release()
        raise
    tracker = FaceTracker(window=window, max_distance=track_distance)
    name_frames: collections.Counter = collections.Counter()
    bar = tqdm(total=total if total > 0 else None, unit="frame", desc="Video", disable=not progress)
    frames = 0
    stopped_early = False
    interrupted = False

    try:
        while max_frames is None or frames < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break

            record, annotated = _process_frame(frame, frames, fps, recognizer, gallery, tracker, whole_image)
            outputs.write(annotated, record)
            name_frames.update({face["name"] for face in record["faces"]})  # Count a name once per frame, however many faces have it.
            frames += 1
            bar.update(1)

            if display:
                cv2.imshow(WINDOW_NAME, annotated)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    stopped_early = True
                    break
    except KeyboardInterrupt:
        # Ctrl-C is how a camera run ends; keep the frames written so far.
        stopped_early = True
        interrupted = True
    except BaseException:
        outputs.discard()
        raise
    finally:
        bar.close()
        capture.release()
        if display:
            cv2.destroyWindow(WINDOW_NAME)

    try:
        outputs.close()
        if frames == 0:
            if interrupted:
                # Ctrl-C before the first frame: nothing to keep, and the video is not at fault.
                raise KeyboardInterrupt
            raise ValueError(f"Video {source} has no readable frames; check that the file plays and is not truncated.")
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise
    return VideoSummary(frames, fps, outputs.video_path, outputs.json_path, dict(name_frames), stopped_early, interrupted)


def check_output_paths(outputs: list[Path], source, gallery: Gallery, recognizer) -> None:
    """Reject outputs that would replace the input video, the gallery, the model or each other.

    The folders above each output are checked too, because a folder created under the name of
    the gallery's SQLite ``-journal`` or ``-shm`` file would make every later open of the
    gallery fail.

    Input and output paths that are not valid UTF-8 are rejected too, because OpenCV's
    VideoCapture and VideoWriter crash on them.
    """
    sources = [(source, "input video")] if isinstance(parse_source(source), Path) else []
    protected = protected_inputs(sources, getattr(gallery, "path", None), getattr(recognizer, "model_path", None))

    for path in [path for path, _ in sources] + outputs:
        check_utf8_path(path)
    for path in outputs:
        if path.is_dir():
            raise ValueError(
                f"The output path '{path}' is a folder; give a file name such as '{path / 'clip.identify.jsonl'}'."
            )
    check_not_inputs(outputs, protected)
    check_not_inputs(sorted({folder for path in outputs for folder in path.parents}), protected)
    if len(outputs) == 2 and outputs[0].resolve() == outputs[1].resolve():
        raise ValueError(
            f"The annotated video and the per-frame JSON would both be written to '{outputs[0]}'; "
            f"give them different paths."
        )


class _FrameOutputs:
    """The annotated video and JSON Lines file, written to temporary files and renamed at the end."""

    def __init__(self, video_path: str | os.PathLike | None, json_path: str | os.PathLike | None, fps: float):
        self.video_path = Path(video_path) if video_path is not None else None
        self.json_path = Path(json_path) if json_path is not None else None
        self.fps = fps
        self._temporary_video = None
        self._temporary_json = None
        self._json_file = None
        self._writer: cv2.VideoWriter | None = None
        self._frame_size: tuple[int, int] | None = None
        self._video_frames = 0
        try:
            self._temporary_video = _temporary_beside(self.video_path) if self.video_path is not None else None
            self._temporary_json = _temporary_beside(self.json_path) if self.json_path is not None else None
            self._json_file = open(self._temporary_json, "w", encoding="utf-8") if self._temporary_json else None
        except BaseException:
            # Creating the second file failed: remove the first, which nothing else would.
            self.discard()
            raise

    def write(self, annotated: np.ndarray, record: dict) -> None:
        """Append one annotated frame and its JSON record."""
        if self._temporary_video is not None:
            if self._writer is None:
                self._writer = _open_writer(self._temporary_video, self.video_path, self.fps, annotated.shape)
                self._frame_size = (annotated.shape[1], annotated.shape[0])
            if (annotated.shape[1], annotated.shape[0]) != self._frame_size:
                # OpenCV's writer silently drops a frame of another size, so fit it to the first.
                annotated = cv2.resize(annotated, self._frame_size, interpolation=cv2.INTER_AREA)
            self._writer.write(annotated)
            self._video_frames += 1
        if self._json_file is not None:
            with explain_storage_errors(self.json_path):
                self._json_file.write(json.dumps(record) + "\n")

    def close(self) -> None:
        """Finish the temporary files; safe to call twice.

        Raises:
            WriteFailedError: the disk is full, read-only or over quota, or the video contains
                fewer frames than were written. The caller discards the files.
        """
        writer, self._writer = self._writer, None
        json_file, self._json_file = self._json_file, None
        try:
            if writer is not None:
                writer.release()
                _check_video_written(self._temporary_video, self.video_path, self._video_frames)
        finally:
            if json_file is not None:
                # close() flushes the buffer, so a full disk often shows only here; the file
                # descriptor is closed even when the flush fails.
                with explain_storage_errors(self.json_path):
                    json_file.close()

    def discard(self) -> None:
        """Close and delete the temporary files, ignoring the errors of closing them."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._json_file is not None:
            with contextlib.suppress(OSError):
                self._json_file.close()
            self._json_file = None
        for temporary in (self._temporary_video, self._temporary_json):
            if temporary is not None:
                temporary.unlink(missing_ok=True)

    def commit(self) -> None:
        """Rename the temporary files onto the output paths."""
        for temporary, final in ((self._temporary_video, self.video_path), (self._temporary_json, self.json_path)):
            if temporary is not None:
                with explain_storage_errors(final):
                    os.chmod(temporary, default_file_mode())
                    os.replace(temporary, final)


def _process_frame(frame, index, fps, recognizer, gallery, tracker, whole_image):
    photo = photo_from_array(frame, "bgr", source=f"frame {index}")
    matches, embeddings = recognizer.identify_with_embeddings(photo, gallery, whole_image=whole_image)
    tracked = tracker.update([match.box for match in matches], [match.name for match in matches], embeddings)

    faces = []
    labels = []
    for match, (track_id, smoothed) in zip(matches, tracked):
        faces.append(
            {
                "box": list(match.box),
                "score": None if match.score is None else round(float(match.score), 3),
                "track": track_id,
                "name": smoothed,
                "raw_name": match.name,
                "nearest": match.nearest,
                "distance": json_distance(match.distance),
            }
        )
        # The distance belongs to this frame's nearest person, so it is shown only beside that
        # name (or beside "unknown"), never beside a smoothed name that differs from it.
        shows_distance = smoothed in (match.nearest, UNKNOWN)
        labels.append(f"{smoothed} {format_distance(match.distance)}" if shows_distance else smoothed)

    colours = [UNKNOWN_COLOUR if face["name"] == UNKNOWN else KNOWN_COLOUR for face in faces]
    annotated = draw_faces(photo.bgr, [match.box for match in matches], labels, colours)
    record = {"frame": index, "time": round(index / fps, 4), "faces": faces}
    return record, annotated


def _check_frame_size(final: Path, width: int, height: int) -> None:
    """Raise ValueError when ``width`` x ``height`` frames (pixels) are too small for ``final``'s codec."""
    if VIDEO_CODECS[final.suffix.lower()] == "MJPG" and min(height, width) < MIN_MJPG_SIDE:
        raise ValueError(
            f"The frames are {width}x{height} pixels, too small to write as MJPG video (at least "
            f"{MIN_MJPG_SIDE} pixels a side). Write an .mp4 video instead, or pass --no-video."
        )


def _check_video_written(temporary: Path, final: Path, frames: int) -> None:
    """Raise WriteFailedError when the video at ``temporary`` reads back with fewer than ``frames`` frames.

    OpenCV's VideoWriter reports no write errors, so on a full disk it leaves an empty or
    truncated file, and only reading the file back shows that. One frame more than counted is
    fine: Ctrl-C can arrive after ``write`` stored a frame and before the count went up.
    """
    capture = cv2.VideoCapture(str(temporary))
    try:
        written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    if written >= frames:
        return

    logger.debug("%s reads back with %d of %d frames", temporary, written, frames)
    if _free_bytes(final.parent) < FULL_DISK_BYTES:
        raise storage_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), final)
    raise WriteFailedError(
        errno.EIO,
        f"Cannot write {final}: OpenCV's video writer stored {written} of {frames} frames and "
        f"reported no error. Check that the disk there has space and is not over quota, or "
        f"choose a folder on another disk.",
    )


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _open_writer(temporary: Path, final: Path, fps: float, shape) -> cv2.VideoWriter:
    height, width = shape[:2]
    codec = VIDEO_CODECS[final.suffix.lower()]
    _check_frame_size(final, width, height)
    fourcc = cv2.VideoWriter_fourcc(*codec)
    writer = cv2.VideoWriter(str(temporary), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise ValueError(
            f"OpenCV cannot write {final.suffix} video with codec {codec} "
            f"here; try an .avi output path."
        )
    return writer
