"""Random geometric and photometric augmentation of face images, driven by a seeded generator."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes applied to each training image.

    Attributes:
        max_rotation: largest rotation in degrees, either way.
        max_shift: largest translation as a fraction of the image side.
        scale_range: ``(low, high)`` zoom factor.
        flip: mirror half the images left to right (faces are nearly symmetric).
        brightness: largest added offset, in units of the [0, 1] pixel range.
        contrast: ``(low, high)`` factor applied around the image mean.
    """

    max_rotation: float = 10.0
    max_shift: float = 0.06
    scale_range: tuple[float, float] = (0.92, 1.08)
    flip: bool = True
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.8, 1.2)

    def apply(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return augmented copies of ``images``, float32 ``(n, height, width, 1)`` in [0, 1]."""
        count, height, width = images.shape[:3]
        angles = rng.uniform(-self.max_rotation, self.max_rotation, count)
        scales = rng.uniform(*self.scale_range, count)
        shifts = rng.uniform(-self.max_shift, self.max_shift, (count, 2)) * (width, height)
        flips = rng.random(count) < 0.5 if self.flip else np.zeros(count, dtype=bool)
        offsets = rng.uniform(-self.brightness, self.brightness, count)
        gains = rng.uniform(*self.contrast, count)

        center = ((width - 1) / 2.0, (height - 1) / 2.0)
        augmented = np.empty_like(images)
        for i in range(count):
            image = images[i, :, :, 0]
            if flips[i]:
                image = image[:, ::-1]
            matrix = cv2.getRotationMatrix2D(center, float(angles[i]), float(scales[i]))
            matrix[:, 2] += shifts[i]
            image = cv2.warpAffine(
                np.ascontiguousarray(image),
                matrix,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT_101,
            )
            mean = image.mean()
            augmented[i, :, :, 0] = (image - mean) * gains[i] + mean + offsets[i]
        return np.clip(augmented, 0.0, 1.0)
