"""Haar scores (level weights) of real faces and of false boxes, in frames as `siamese video` sees them.

``python -m benchmarks.haar_scores`` prints the lowest score of the real faces and how many
faces and false boxes fall below a few thresholds, for:

- the four sample photos (``$SIAMESE_SAMPLE_PHOTOS``), each fitted into an 800x600 frame and
  shifted by -24 to 24 pixels across and -20 to 20 down (15 placements each);
- every AT&T image (``$SIAMESE_ATT_DIR``) pasted onto a noisy 300x400 scene at 1.1-1.3x,
  as the tests' video clips show them, and onto an 800x600 scene at 1.3-2.5x.

A box counts as a face when its centre lies inside a true face box and it has the best score
there. The true boxes are the detections on the untouched photo, on which the cascade finds
exactly the faces present, or the pasted rectangle. Other boxes are false. Two boxes on one
face never remain, because the detector keeps the stronger of two overlapping boxes.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import cv2
import numpy as np

from siamese.detect import HaarFaceDetector
from siamese.photos import photo_from_array, read_photo
from siamese.scenes import box_centre_inside, make_scene

FRAME_WIDTH, FRAME_HEIGHT = 800, 600
SHIFTS = list(itertools.product((-24, -12, 0, 12, 24), (-20, 0, 20)))
THRESHOLDS = (0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0)


def split_scores(detections, truths) -> tuple[list[float], list[float]]:
    """Return the scores of the best box on each true face and of the boxes on no face."""
    best: dict[int, float] = {}
    false = []
    for detection in detections:
        hits = [index for index, truth in enumerate(truths) if box_centre_inside(detection.box, truth)]
        if hits:
            best[hits[0]] = max(best.get(hits[0], -np.inf), detection.score)
        else:
            false.append(detection.score)
    return list(best.values()), false


def sample_photo_scores(detector, folder: Path) -> tuple[list[float], list[float]]:
    faces, false = [], []
    for path in sorted(folder.glob("*.jpg")):
        image = cv2.imread(str(path))
        truths = [detection.box for detection in detector.detect(read_photo(path))]
        scale = min(FRAME_WIDTH / image.shape[1], FRAME_HEIGHT / image.shape[0])
        for dx, dy in SHIFTS:
            left = (FRAME_WIDTH - scale * image.shape[1]) / 2 + dx
            top = (FRAME_HEIGHT - scale * image.shape[0]) / 2 + dy
            matrix = np.float32([[scale, 0, left], [0, scale, top]])
            frame = cv2.warpAffine(image, matrix, (FRAME_WIDTH, FRAME_HEIGHT))
            moved = [(x * scale + left, y * scale + top, w * scale, h * scale) for x, y, w, h in truths]
            found, wrong = split_scores(detector.detect(photo_from_array(frame)), moved)
            faces += found
            false += wrong
    return faces, false


def att_scene_scores(detector, folder: Path) -> tuple[list[float], list[float], int]:
    rng = np.random.default_rng(0)
    faces, false, missed = [], [], 0
    for subject, number in itertools.product(range(1, 41), range(1, 11)):
        face = cv2.imread(str(folder / f"s{subject}" / f"{number}.pgm"), cv2.IMREAD_GRAYSCALE)
        for size, scales in (((300, 400), (1.1, 1.3)), ((600, 800), (1.3, 2.5))):
            scene, boxes = make_scene([face], rng, size=size, scale_range=scales)
            found, wrong = split_scores(detector.detect(photo_from_array(scene)), boxes)
            missed += len(boxes) - len(found)
            faces += found
            false += wrong
    return faces, false, missed


def report(label: str, faces: list[float], false: list[float]) -> None:
    faces, false = np.array(faces), np.array(false)
    print(f"{label}: {len(faces)} faces scored {faces.min():.2f} to {faces.max():.2f}; "
          f"{len(false)} false boxes scored {false.min():.2f} to {false.max():.2f}" if len(false) else
          f"{label}: {len(faces)} faces scored {faces.min():.2f} to {faces.max():.2f}; no false boxes")
    for threshold in THRESHOLDS:
        print(f"  below {threshold}: {(faces < threshold).sum()} faces, {(false < threshold).sum()} false boxes")


def main() -> None:
    detector = HaarFaceDetector()
    photo_faces, photo_false = sample_photo_scores(detector, Path(os.environ["SIAMESE_SAMPLE_PHOTOS"]))
    att_faces, att_false, missed = att_scene_scores(detector, Path(os.environ["SIAMESE_ATT_DIR"]))
    report("Sample photos in 800x600 frames", photo_faces, photo_false)
    report(f"AT&T scenes ({missed} faces missed)", att_faces, att_false)
    report("All", photo_faces + att_faces, photo_false + att_false)


if __name__ == "__main__":
    main()
