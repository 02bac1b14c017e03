"""Draw face boxes and labels on a copy of a photo or video frame."""

from __future__ import annotations

import cv2
import numpy as np

# BGR colours: known people green, unknown faces red, plain detections yellow.
KNOWN_COLOUR = (60, 180, 60)
UNKNOWN_COLOUR = (40, 40, 220)
DETECTION_COLOUR = (0, 200, 255)


def draw_faces(
    bgr: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    labels: list[str | None],
    colours: list[tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """Return a copy of ``bgr`` (uint8 ``(height, width, 3)``) with each box and its label.

    Args:
        boxes: ``(x, y, width, height)`` in pixels.
        labels: text drawn above each box, below it when the box touches the top edge, and
            inside it when neither fits (a box around the whole image); ``None`` draws none.
        colours: BGR colour per box. Defaults to :data:`DETECTION_COLOUR`.
    """
    canvas = np.ascontiguousarray(bgr.copy())
    colours = colours or [DETECTION_COLOUR] * len(boxes)
    height = canvas.shape[0]
    thickness = max(1, round(height / 300))
    font_scale = max(0.4, height / 900)

    for box, label, colour in zip(boxes, labels, colours):
        x, y, width, box_height = (int(value) for value in box)
        cv2.rectangle(canvas, (x, y), (x + width, y + box_height), colour, thickness)
        if not label:
            continue

        (text_width, text_height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        label_height = text_height + baseline + 2
        top = y - label_height
        if top < 0:
            top = y + box_height
        if top + label_height > height:
            top = max(0, y)
        cv2.rectangle(canvas, (x, top), (x + text_width + 4, top + label_height), colour, cv2.FILLED)
        cv2.putText(
            canvas,
            label,
            (x + 2, top + text_height + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return canvas
