"""Helpers shared by the face tests: data folders, a small trained model and synthetic scenes.

The scene generator lives in :mod:`siamese.scenes`; it is re-exported here.

Test modules import these functions and wrap them in their own fixtures. The trained model is
cached on disk under pytest's base temporary folder, so every test module in one session
reuses the same model instead of training again.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from siamese.scenes import box_centre_inside, make_scene  # noqa: F401  (re-exported for the tests)

ATT_ENV = "SIAMESE_ATT_DIR"
PHOTOS_ENV = "SIAMESE_SAMPLE_PHOTOS"

#: Faces in each sample photo, counted by eye.
SAMPLE_FACE_COUNTS = {
    "one_face_gray_street.jpg": 1,
    "one_face_street.jpg": 1,
    "one_face_portrait.jpg": 1,
    "four_faces_group.jpg": 4,
}

#: Identities left out of the test model's training; s1–s35 train it, as in the standard AT&T split.
UNSEEN_SUBJECTS = ("s36", "s37", "s38", "s39", "s40")


def require_att_dir() -> Path:
    """Return the AT&T folder named by ``$SIAMESE_ATT_DIR``, or skip the test."""
    folder = os.environ.get(ATT_ENV)
    if not folder:
        pytest.skip(f"{ATT_ENV} is not set; point it at the att_faces folder (s1 … s40).")
    path = Path(folder)
    if not (path / "s1" / "1.pgm").is_file():
        pytest.skip(f"{ATT_ENV}={folder} holds no s1/1.pgm; point it at the att_faces folder.")
    return path


def require_sample_photos_dir() -> Path:
    """Return the sample-photo folder named by ``$SIAMESE_SAMPLE_PHOTOS``, or skip the test."""
    folder = os.environ.get(PHOTOS_ENV)
    if not folder:
        pytest.skip(f"{PHOTOS_ENV} is not set; point it at the folder with the four sample photos.")
    path = Path(folder)
    missing = [name for name in SAMPLE_FACE_COUNTS if not (path / name).is_file()]
    if missing:
        pytest.skip(f"{PHOTOS_ENV}={folder} lacks {missing}.")
    return path


def trained_model_dir(tmp_path_factory) -> Path:
    """Return a folder with ``model.keras`` and ``metrics.json`` (with ``threshold``).

    The model trains on s1–s35 for 120 steps without augmentation (about 15 s on 2 cores) and
    the threshold maximises balanced accuracy on pairs of those training identities, as
    ``siamese train`` chooses it. The folder is shared by all test modules of the session.
    """
    folder = tmp_path_factory.getbasetemp() / "faces-model"
    if (folder / "model.keras").is_file() and (folder / "metrics.json").is_file():
        return folder

    from siamese.data import load_att_faces
    from siamese.evaluation import evaluate
    from siamese.splits import standard_split
    from siamese.training import TrainConfig, train

    data = load_att_faces(require_att_dir())
    train_names, test_names = standard_split(data.names)
    config = TrainConfig(epochs=6, steps_per_epoch=20, widths=(16, 32, 64), embedding_dim=32, augment=False, seed=0)
    result = train(data.subset(train_names), config, verbose=0)
    evaluation = evaluate(result.embedding_network, data.subset(test_names), data.subset(train_names), np.random.default_rng(0))

    staging = tmp_path_factory.mktemp("faces-model-staging")
    result.model.save(staging / "model.keras")
    (staging / "metrics.json").write_text(json.dumps(evaluation.metrics, indent=2))
    shutil.move(str(staging), str(folder))
    return folder


def read_att(subject: str, number: int) -> np.ndarray:
    """Return AT&T image ``subject/number.pgm`` as uint8 ``(112, 92)``."""
    import cv2

    image = cv2.imread(str(require_att_dir() / subject / f"{number}.pgm"), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"cannot read {subject}/{number}.pgm"
    return image
