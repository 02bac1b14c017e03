"""Per-subject view of one-shot identification errors: which people, and which of their photos, fail.

The one-shot accuracy of :func:`siamese.evaluation.one_shot_accuracy` averages over random
galleries, which hides whether errors come from a few photos, from groups of photos taken in
different conditions (with and without glasses, different sessions), or from everywhere.
:func:`subject_errors` breaks it down exactly, per subject and per gallery photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from siamese.data import FaceDataset
from siamese.evaluation import one_shot_success


def subject_errors(distances: np.ndarray, test_set: FaceDataset) -> list[dict]:
    """Return the one-shot error analysis of every test subject, worst subject first.

    Args:
        distances: float ``(n, n)`` distances between the embeddings of ``test_set``.
        test_set: the test images, labels ``0 … subjects - 1``; every subject needs two images.

    Returns:
        One dict per subject with these keys:

        - ``subject``: its name.
        - ``error``: the chance that a randomly chosen query of the subject is misidentified,
          averaged over all gallery choices.
        - ``files``: its image file names.
        - ``success``: ``success[g][q]`` is the chance that image ``q`` is identified when
          image ``g`` is the subject's gallery image, and ``None`` on the diagonal.
        - ``own_distance``: the mean distance between its images.
        - ``other_distance``: the median distance from its images to the other subjects'
          images. The median, because a few very different people would pull a mean up.

    Raises:
        ValueError: labels other than ``0 … len(test_set.names) - 1``, or the errors of
            :func:`siamese.evaluation.one_shot_success`.
    """
    present = set(np.unique(test_set.labels).tolist())
    if present != set(range(len(test_set.names))):
        raise ValueError(
            f"Expected labels 0 to {len(test_set.names) - 1}, one per name; received labels "
            f"{sorted(present)}. Take test sets from FaceDataset.subset, which relabels them."
        )

    success = one_shot_success(distances, test_set.labels)
    subjects = []
    for label, name in enumerate(test_set.names):
        own = np.flatnonzero(test_set.labels == label)
        block = success[np.ix_(own, own)]
        pairs = ~np.eye(len(own), dtype=bool)

        subjects.append({
            "subject": name,
            "error": float(1.0 - block[pairs].mean()),
            "files": [Path(test_set.paths[index]).name for index in own],
            "success": [[None if np.isnan(value) else round(float(value), 4) for value in row] for row in block],
            "own_distance": float(distances[np.ix_(own, own)][pairs].mean()),
            "other_distance": float(np.median(distances[np.ix_(own, np.flatnonzero(test_set.labels != label))])),
        })
    return sorted(subjects, key=lambda subject: -subject["error"])
