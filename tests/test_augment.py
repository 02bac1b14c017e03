"""Augmentation: seeded, shape-preserving, and exact on constant images with one change at a time."""

from __future__ import annotations

import numpy as np

from siamese.augment import Augmentation

#: No geometric change and no brightness or contrast change.
STILL = dict(max_rotation=0.0, max_shift=0.0, scale_range=(1.0, 1.0), flip=False, brightness=0.0, contrast=(1.0, 1.0))


def test_no_change_returns_input():
    images = np.random.default_rng(0).uniform(0, 1, (4, 12, 10, 1)).astype(np.float32)

    out = Augmentation(**STILL).apply(images, np.random.default_rng(1))

    np.testing.assert_allclose(out, images, atol=1e-6)


def test_same_seed_same_images():
    images = np.random.default_rng(0).uniform(0, 1, (4, 56, 46, 1)).astype(np.float32)

    first = Augmentation().apply(images, np.random.default_rng(3))
    second = Augmentation().apply(images, np.random.default_rng(3))

    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32
    assert first.shape == images.shape


def test_brightness_offsets_constant_image():
    # A constant image keeps its mean under contrast, so only the offset (at most 0.1) moves it.
    images = np.full((30, 8, 6, 1), 0.5, dtype=np.float32)
    settings = {**STILL, "brightness": 0.1, "contrast": (0.5, 2.0)}

    out = Augmentation(**settings).apply(images, np.random.default_rng(2))[..., 0]

    assert np.all(out.std(axis=(1, 2)) < 1e-6)
    assert np.all(np.abs(out[:, 0, 0] - 0.5) <= 0.1 + 1e-6)
    assert np.any(np.abs(out[:, 0, 0] - 0.5) > 0.01)


def test_flip_mirrors_left_right():
    # With flipping on, about half the images come back mirrored, the rest unchanged.
    image = np.zeros((1, 4, 6, 1), dtype=np.float32)
    image[0, :, 0, 0] = 1.0
    images = np.repeat(image, 20, axis=0)
    settings = {**STILL, "flip": True}

    out = Augmentation(**settings).apply(images, np.random.default_rng(4))[..., 0]

    mirrored = out[:, :, -1].mean(axis=1) > 0.5
    unchanged = out[:, :, 0].mean(axis=1) > 0.5
    assert np.all(mirrored ^ unchanged)
    assert 0 < mirrored.sum() < len(out)


def test_output_stays_in_unit_range():
    images = np.random.default_rng(5).uniform(0, 1, (10, 56, 46, 1)).astype(np.float32)
    settings = {"brightness": 0.5, "contrast": (0.2, 3.0)}

    out = Augmentation(**settings).apply(images, np.random.default_rng(6))

    assert out.min() >= 0.0
    assert out.max() <= 1.0
