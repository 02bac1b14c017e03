"""Synthetic scenes: AT&T faces pasted onto noisy backgrounds, with their true boxes.

Because the true boxes and names are known, they measure detection and recognition:
``benchmarks.scenes`` and the test suite enroll and identify faces in them.
"""

from __future__ import annotations

import cv2
import numpy as np


def make_scene(
    faces: list[np.ndarray],
    rng: np.random.Generator,
    size: tuple[int, int] = (300, 400),
    scale_range: tuple[float, float] = (1.1, 1.3),
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paste 1–3 AT&T faces, upscaled, side by side onto a noisy colour background.

    Args:
        faces: uint8 ``(112, 92)`` images.
        rng: seeded generator for the background, scales and positions.
        size: scene ``(height, width)`` in pixels.
        scale_range: upscaling factor range of each face.

    Returns:
        ``(scene, boxes)``: uint8 BGR ``(height, width, 3)`` and the pasted rectangles
        ``(x, y, width, height)`` from left to right.
    """
    height, width = size
    noise = rng.normal(128, 50, (height // 4, width // 4, 3)).clip(0, 255).astype(np.uint8)
    scene = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    scene = np.clip(scene + rng.normal(0, 12, scene.shape), 0, 255).astype(np.uint8)

    slot = width // len(faces)
    boxes = []
    for index, face in enumerate(faces):
        scale = rng.uniform(*scale_range)
        face_width, face_height = round(92 * scale), round(112 * scale)
        if face_width > slot or face_height > height:
            raise ValueError(
                f"{len(faces)} faces at scale {scale:.2f} do not fit a {width}x{height} scene; "
                f"paste fewer faces or pass a larger size."
            )
        x = index * slot + int(rng.integers(0, slot - face_width + 1))
        y = int(rng.integers(0, height - face_height + 1))
        resized = cv2.resize(face, (face_width, face_height), interpolation=cv2.INTER_CUBIC)
        scene[y : y + face_height, x : x + face_width] = resized[..., np.newaxis]
        boxes.append((x, y, face_width, face_height))
    return scene, boxes


def box_centre_inside(box, rectangle) -> bool:
    """Return whether the centre of ``box`` lies inside ``rectangle``; both ``(x, y, w, h)``."""
    centre_x, centre_y = box[0] + box[2] / 2, box[1] + box[3] / 2
    x, y, width, height = rectangle
    return x <= centre_x <= x + width and y <= centre_y <= y + height
