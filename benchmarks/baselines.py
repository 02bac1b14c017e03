"""Classical face-recognition baselines that map face images to embeddings.

Each baseline is fit on the training identities only and returns one embedding per test
image, so the package's own evaluation (Euclidean distance between embeddings) scores every
method the same way. Images are float32 ``(n, height, width, 1)`` in [0, 1], as in
:class:`siamese.data.FaceDataset`.

Settings that a baseline can choose (PCA components, whitening, LBP radius and grid) are
selected by one fixed rule. The candidate with the highest mean one-shot accuracy over
subject-disjoint inner folds of the *training* identities wins, and ties go to the candidate
listed first. Test identities never influence the choice.
"""

from __future__ import annotations

import importlib.util
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from skimage.feature import local_binary_pattern
from skimage.util import img_as_ubyte
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer

from siamese.data import ATT_IMAGE_SIZE, FaceDataset
from siamese.evaluation import one_shot_accuracy
from siamese.splits import subject_folds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Selection:
    """Inner-fold settings with which a baseline chooses its setting on the training identities.

    Attributes:
        n_folds: largest number of subject-disjoint inner folds. Defaults to 5.
        n_draws: one-shot gallery draws averaged on each inner fold. Defaults to 100.
    """

    n_folds: int = 5
    n_draws: int = 100


class Baseline(ABC):
    """A method that is fit on training identities and embeds unseen faces.

    Attributes:
        name: the method name used in results.
        image_size: ``(height, width)`` the method needs, or ``None`` for any size.
        settings: the chosen setting and, after selection, the inner-fold scores.
    """

    name: str = ""
    image_size: tuple[int, int] | None = None

    def __init__(self):
        self.settings: dict = {}

    @abstractmethod
    def fit(self, train_set: FaceDataset, rng: np.random.Generator, selection: Selection = Selection()) -> "Baseline":
        """Fit on the training identities; ``rng`` and ``selection`` drive the choice of setting."""

    @abstractmethod
    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embed float32 images ``(n, height, width, 1)``; returns float ``(n, dim)``."""


def flatten(images: np.ndarray) -> np.ndarray:
    """Return images ``(n, height, width, 1)`` as float32 rows ``(n, height * width)``."""
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1)


def select_setting(
    candidates: list[dict],
    score_fold: Callable[[dict, FaceDataset, FaceDataset, np.random.Generator], float],
    train_set: FaceDataset,
    rng: np.random.Generator,
    n_folds: int,
) -> tuple[dict, list[float]]:
    """Choose the candidate with the best mean inner-fold score on the training identities.

    The training identities are split into ``min(n_folds, identities // 2)``
    subject-disjoint folds, so each inner test fold has at least two identities.
    ``score_fold(candidate, inner_train, inner_test, fold_rng)`` returns the one-shot accuracy
    of one candidate on one fold. Every candidate is scored on the same folds and
    the same gallery draws. Ties go to the candidate listed first.

    Returns:
        ``(best_candidate, mean_scores)``; ``mean_scores`` follows the order of ``candidates``.
        With fewer than four training identities no inner fold can be formed, so the first
        candidate is returned with an empty score list.
    """
    n_folds = min(n_folds, len(train_set.names) // 2)
    if n_folds < 2:
        logger.warning(
            "Only %d training identities: too few for inner folds, so the first setting %s is used.",
            len(train_set.names),
            candidates[0],
        )
        return candidates[0], []

    folds = subject_folds(train_set.names, n_folds, rng)
    fold_seeds = rng.integers(0, 2**32, size=n_folds)
    means = []
    for candidate in candidates:
        scores = []
        for (inner_train, inner_test), seed in zip(folds, fold_seeds):
            scores.append(
                score_fold(
                    candidate,
                    train_set.subset(inner_train),
                    train_set.subset(inner_test),
                    np.random.default_rng(int(seed)),
                )
            )
        means.append(float(np.mean(scores)))
        logger.debug("Candidate %s: inner one-shot accuracy %.4f", candidate, means[-1])

    best = int(np.argmax(means))
    return candidates[best], means


class RawPixels(Baseline):
    """Every pixel as one embedding coordinate, compared by Euclidean distance; nothing is fit."""

    name = "raw_pixels"

    def fit(self, train_set, rng, selection=Selection()):
        self.settings = {"distance": "euclidean"}
        return self

    def embed(self, images):
        return flatten(images)


class _SubspaceBaseline(Baseline):
    """A scikit-learn pipeline over flattened pixels whose setting is chosen on inner folds."""

    def candidates(self, train_set: FaceDataset) -> list[dict]:
        raise NotImplementedError

    def build(self, candidate: dict, train_set: FaceDataset) -> Pipeline:
        raise NotImplementedError

    def fit(self, train_set, rng, selection=Selection()):
        def score_fold(candidate, inner_train, inner_test, fold_rng):
            pipeline = self.build(candidate, inner_train).fit(flatten(inner_train.images), inner_train.labels)
            embeddings = pipeline.transform(flatten(inner_test.images))
            return one_shot_accuracy(embeddings, inner_test.labels, fold_rng, selection.n_draws)

        candidates = self.candidates(train_set)
        best, scores = select_setting(candidates, score_fold, train_set, rng, selection.n_folds)
        self.pipeline = self.build(best, train_set).fit(flatten(train_set.images), train_set.labels)
        self.settings = {
            **best,
            "inner_fold_scores": [
                {**candidate, "one_shot_accuracy": score} for candidate, score in zip(candidates, scores)
            ],
        }
        logger.info("%s: chose %s on the training identities", self.name, best)
        return self

    def embed(self, images):
        return self.pipeline.transform(flatten(images)).astype(np.float32)


class Eigenfaces(_SubspaceBaseline):
    """Eigenfaces (Turk and Pentland, 1991): PCA of the training pixels, Euclidean distance.

    Candidates: the components that keep 80 %, 90 %, 95 % or 99 % of the training variance,
    each without and with whitening (scaling every component to unit variance).
    """

    name = "eigenfaces"
    VARIANCES = (0.80, 0.90, 0.95, 0.99)

    def candidates(self, train_set):
        return [
            {"variance_kept": variance, "whiten": whiten}
            for whiten in (False, True)
            for variance in self.VARIANCES
        ]

    def build(self, candidate, train_set):
        return make_pipeline(
            PCA(n_components=candidate["variance_kept"], whiten=candidate["whiten"], svd_solver="full")
        )


class Fisherfaces(_SubspaceBaseline):
    """Fisherfaces (Belhumeur, Hespanha and Kriegman, 1997): PCA, then LDA to ``classes - 1`` dimensions.

    Candidates: PCA to ``samples - classes`` components (the original rule, which keeps the
    within-class scatter invertible), or to 100, 50 or 25 components, each with the LDA
    projections compared as they are or scaled to unit length (cosine-like).
    """

    name = "fisherfaces"
    PCA_COMPONENTS = ("samples-classes", 100, 50, 25)

    def candidates(self, train_set):
        return [
            {"pca_components": components, "unit_length": unit_length}
            for unit_length in (False, True)
            for components in self.PCA_COMPONENTS
        ]

    def build(self, candidate, train_set):
        n_samples, n_classes = len(train_set), len(train_set.names)
        limit = min(n_samples - n_classes, n_samples, train_set.images[0].size)
        components = candidate["pca_components"]
        components = limit if components == "samples-classes" else min(int(components), limit)
        steps = [PCA(n_components=max(components, 1)), LinearDiscriminantAnalysis()]
        if candidate["unit_length"]:
            steps.append(Normalizer())
        return make_pipeline(*steps)


class LocalBinaryPatterns(Baseline):
    """Grids of local binary pattern histograms (Ahonen, Hadid and Pietikäinen, 2006).

    Codes come from scikit-image's ``local_binary_pattern`` with ``method="nri_uniform"``
    (``P * (P - 1) + 3`` codes). Each cell of a ``rows x cols`` grid gives a normalised
    histogram, and the embedding is the square root of all histograms concatenated, so the
    Euclidean distance between embeddings is the Hellinger distance. Per bin,
    ``(sqrt(h) - sqrt(g))**2 = (h - g)**2 / (sqrt(h) + sqrt(g))**2`` lies between a half and
    the whole of the chi-square term ``(h - g)**2 / (h + g)``. Candidates: ``(P, R)`` of
    ``(8, 1)`` or ``(8, 2)`` and a 4x4 or 7x7 grid. The training identities only choose the
    candidate, because the histograms themselves learn nothing.
    """

    name = "lbp"
    CANDIDATES = tuple(
        {"points": points, "radius": radius, "grid": grid}
        for points, radius in ((8, 1), (8, 2))
        for grid in ((4, 4), (7, 7))
    )

    def fit(self, train_set, rng, selection=Selection()):
        def score_fold(candidate, inner_train, inner_test, fold_rng):
            embeddings = lbp_histograms(inner_test.images, **candidate)
            return one_shot_accuracy(embeddings, inner_test.labels, fold_rng, selection.n_draws)

        candidates = [dict(candidate) for candidate in self.CANDIDATES]
        best, scores = select_setting(candidates, score_fold, train_set, rng, selection.n_folds)
        self.setting = best
        self.settings = {
            **best,
            "distance": "hellinger",
            "inner_fold_scores": [
                {**candidate, "one_shot_accuracy": score} for candidate, score in zip(candidates, scores)
            ],
        }
        logger.info("lbp: chose %s on the training identities", best)
        return self

    def embed(self, images):
        return lbp_histograms(images, **self.setting)


def lbp_histograms(images: np.ndarray, points: int, radius: float, grid: tuple[int, int]) -> np.ndarray:
    """Return square-rooted, per-cell normalised LBP histograms, float32 ``(n, cells * bins)``.

    Cell borders follow ``np.array_split`` of the rows and columns, so cells differ in size by
    at most one pixel when the image does not divide evenly.

    Raises:
        ValueError: the image is smaller than the grid.
    """
    rows, cols = grid
    height, width = images.shape[1:3]
    if height < rows or width < cols:
        raise ValueError(f"Images of {height}x{width} pixels are smaller than the {rows}x{cols} LBP grid.")
    bins = points * (points - 1) + 3
    row_edges = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(height), rows)])
    col_edges = np.cumsum([0] + [len(part) for part in np.array_split(np.arange(width), cols)])

    features = np.empty((len(images), rows * cols * bins), dtype=np.float32)
    for index, image in enumerate(images):
        codes = local_binary_pattern(img_as_ubyte(image[..., 0]), points, radius, method="nri_uniform")
        codes = codes.astype(np.int64)
        cells = []
        for top, bottom in zip(row_edges[:-1], row_edges[1:]):
            for left, right in zip(col_edges[:-1], col_edges[1:]):
                counts = np.bincount(codes[top:bottom, left:right].ravel(), minlength=bins)
                cells.append(counts / counts.sum())
        features[index] = np.sqrt(np.concatenate(cells))
    return features


class DlibResNet(Baseline):
    """dlib's pretrained ResNet face encoder (128-d) through the ``face_recognition`` package.

    A pretrained anchor, trained on millions of faces outside AT&T, so ``fit`` learns
    nothing. Each native 92x112 AT&T image is enlarged ``UPSCALE`` times with bicubic
    interpolation, because dlib's HOG detector misses faces under about 80 pixels. The
    encoder aligns the face from the detector's box. When the detector finds no face, the
    whole image is used as the face box; ``settings["whole_image_fallbacks"]`` counts those.
    """

    name = "dlib"
    image_size = ATT_IMAGE_SIZE
    UPSCALE = 3

    @staticmethod
    def is_available() -> bool:
        """Return whether ``face_recognition`` (and so dlib) can be imported."""
        return importlib.util.find_spec("face_recognition") is not None

    def fit(self, train_set, rng, selection=Selection()):
        self.settings = {"upscale": self.UPSCALE, "detector": "hog", "whole_image_fallbacks": 0}
        return self

    def embed(self, images):
        import face_recognition

        embeddings = np.empty((len(images), 128), dtype=np.float32)
        for index, image in enumerate(images):
            gray = img_as_ubyte(image[..., 0])
            height, width = gray.shape
            large = cv2.resize(gray, (width * self.UPSCALE, height * self.UPSCALE), interpolation=cv2.INTER_CUBIC)
            rgb = np.ascontiguousarray(np.repeat(large[..., None], 3, axis=2))

            boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=0, model="hog")
            if boxes:
                # Boxes are (top, right, bottom, left); keep the largest face.
                box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
            else:
                box = (0, rgb.shape[1], rgb.shape[0], 0)
                self.settings["whole_image_fallbacks"] += 1
            embeddings[index] = face_recognition.face_encodings(rgb, known_face_locations=[box])[0]

        if self.settings["whole_image_fallbacks"]:
            logger.info("dlib: no face detected in %d images; used the whole image", self.settings["whole_image_fallbacks"])
        return embeddings


#: Baselines by method name, in the order they run and appear in tables.
BASELINES: dict[str, type[Baseline]] = {
    baseline.name: baseline for baseline in (RawPixels, Eigenfaces, Fisherfaces, LocalBinaryPatterns, DlibResNet)
}
