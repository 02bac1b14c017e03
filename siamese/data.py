"""Load face datasets laid out as one folder per identity.

The AT&T (ORL) Database of Faces is one such layout: folders ``s1`` … ``s40``, each holding
``1.pgm`` … ``10.pgm``, 8-bit grayscale, 92 pixels wide and 112 high. The same loader reads any
folder-per-person image set in PGM, PNG, JPEG, BMP or TIFF, grayscale or colour, of any size.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from siamese.config import DEFAULT_IMAGE_SIZE

logger = logging.getLogger(__name__)

#: Native size of the AT&T images as ``(height, width)`` in pixels.
ATT_IMAGE_SIZE = (112, 92)


#: Environment variable naming a local AT&T folder; tests and CI set it.
DATA_ENV_VAR = "SIAMESE_ATT_DIR"

IMAGE_SUFFIXES = frozenset({".pgm", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class FaceDataset:
    """Face images with their identities.

    Attributes:
        images: float32 array of shape ``(n, height, width, 1)`` with values in [0, 1].
        labels: int64 array of shape ``(n,)``; ``labels[i]`` indexes ``names``.
        names: identity names (folder names), in natural sort order.
        paths: source file of each image, in the same order as ``images``.
    """

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    paths: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_size(self) -> tuple[int, int]:
        """Image size as ``(height, width)`` in pixels."""
        return self.images.shape[1], self.images.shape[2]

    def subset(self, names: list[str] | tuple[str, ...]) -> "FaceDataset":
        """Return the images of the given identities, relabelled ``0 … len(names) - 1``."""
        unknown = [name for name in names if name not in self.names]
        if unknown:
            raise ValueError(
                f"Unknown identities {unknown}; expected names from this dataset, "
                f"such as {list(self.names[:3])}."
            )

        old_to_new = {self.names.index(name): new for new, name in enumerate(names)}
        keep = np.array([label in old_to_new for label in self.labels], dtype=bool)
        labels = np.array([old_to_new[label] for label in self.labels[keep]], dtype=np.int64)
        paths = tuple(path for path, kept in zip(self.paths, keep) if kept)
        return FaceDataset(self.images[keep], labels, tuple(names), paths)


def natural_sort_key(text: str) -> list:
    """Sort key that orders embedded numbers by value, so ``s2`` comes before ``s10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def read_grayscale(path: str | os.PathLike, image_size: tuple[int, int] | None) -> np.ndarray:
    """Read one image file as float32 ``(height, width)`` grayscale in [0, 1].

    Colour is converted with ITU-R 601 luma weights, 16-bit images are scaled by their full
    range, alpha is dropped, and the EXIF orientation is applied. ``image_size`` is
    ``(height, width)``; ``None`` keeps the file's size.

    Raises:
        ValueError: the file cannot be decoded as an image, has more than twice
            ``PIL.Image.MAX_IMAGE_PIXELS`` pixels, or is in a mode that Pillow cannot convert
            to grayscale, such as LAB. The message names the file.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            array = _to_unit_grayscale(image)
    except Image.DecompressionBombError:
        # Pillow rejects images this large as a defence against decompression bombs.
        raise ValueError(
            f"The image {path} is too large to read safely (more than "
            f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels); shrink it or remove it from the folder."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(
            f"Cannot read image {path}: {error}. Replace or remove the file."
        ) from error
    except ValueError as error:
        # Pillow (13.0) raises ValueError for modes it cannot convert to grayscale, such as LAB.
        raise ValueError(
            f"Cannot convert image {path} to grayscale: {error}. Save it as RGB or grayscale "
            f"(for example as PNG) or remove it from the folder."
        ) from error

    if image_size is not None and array.shape != tuple(image_size):
        array = resize(array, image_size)
    return array


def _to_unit_grayscale(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return np.clip(array / top, 0.0, 1.0).astype(np.float32)
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max()) or 1.0
        return np.clip(array / top, 0.0, 1.0)

    # Flatten transparency onto black before dropping alpha, so transparent pixels carry no
    # hidden colour into the face.
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def resize(array: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Resize a float ``(height, width)`` image to ``image_size`` = ``(height, width)``.

    Uses area averaging when shrinking and bicubic interpolation when enlarging.
    """
    height, width = int(image_size[0]), int(image_size[1])
    if height < 1 or width < 1:
        raise ValueError(
            f"Image size must be two positive integers (height, width); received {image_size}."
        )

    shrinking = height < array.shape[0] and width < array.shape[1]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    resized = Image.fromarray(array.astype(np.float32)).resize((width, height), resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def load_image_folder(
    root: str | os.PathLike,
    image_size: tuple[int, int] | None = DEFAULT_IMAGE_SIZE,
) -> FaceDataset:
    """Load a folder-per-identity image set.

    Args:
        root: folder whose subfolders are identities; each subfolder contains that person's
            images (PGM, PNG, JPEG, BMP or TIFF). Files directly under ``root`` are ignored.
        image_size: ``(height, width)`` every image is resized to. ``None`` keeps the files'
            size, which must then be the same for all. Defaults to ``(56, 46)``.

    Returns:
        A :class:`FaceDataset` whose images are float32 ``(n, height, width, 1)`` in [0, 1],
        with identities and files in natural sort order (``s2`` before ``s10``).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        NotADirectoryError: ``root`` is a file.
        ValueError: no identity folder contains an image, an image cannot be read, or images
            differ in size while ``image_size`` is ``None``.
    """
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(
            f"{root} is a file, not a folder. Pass a folder that contains one subfolder of "
            f"images per person."
        )
    if not root.is_dir():
        raise FileNotFoundError(
            f"Dataset folder not found: {root}. Pass a folder that contains one subfolder per "
            f"person, or download the AT&T faces with `siamese download --data {root}`."
        )

    folders = sorted(
        (entry for entry in root.iterdir() if entry.is_dir()),
        key=lambda folder: natural_sort_key(folder.name),
    )
    skipped: list[str] = []
    names: list[str] = []
    files_by_name: list[list[Path]] = []
    for folder in folders:
        if folder.name.startswith("."):
            continue
        files = []
        for entry in sorted(folder.iterdir(), key=lambda p: natural_sort_key(p.name)):
            if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
                files.append(entry)
            elif not entry.name.startswith("."):
                skipped.append(str(entry))
        if files:
            names.append(folder.name)
            files_by_name.append(files)
        else:
            skipped.append(f"{folder} (no images)")

    if skipped:
        logger.warning("Skipped %d entries that are not images: %s", len(skipped), ", ".join(skipped))
    if not names:
        raise ValueError(
            f"No identities found in {root}: expected one subfolder per person containing "
            f"{', '.join(sorted(IMAGE_SUFFIXES))} images."
        )

    images, labels, paths = [], [], []
    for label, files in enumerate(files_by_name):
        for path in files:
            images.append(read_grayscale(path, image_size))
            labels.append(label)
            paths.append(path)

    sizes = {image.shape for image in images}
    if len(sizes) > 1:
        raise ValueError(
            f"Images in {root} differ in size ({sorted(sizes)[:3]} …); pass image_size=(height, "
            f"width) to resize them to one size."
        )

    stacked = np.stack(images)[..., np.newaxis].astype(np.float32)
    return FaceDataset(stacked, np.asarray(labels, dtype=np.int64), tuple(names), tuple(paths))


def load_att_faces(
    root: str | os.PathLike | None = None,
    image_size: tuple[int, int] | None = DEFAULT_IMAGE_SIZE,
) -> FaceDataset:
    """Load the AT&T (ORL) Database of Faces.

    Args:
        root: the ``att_faces`` folder containing ``s1`` … ``s40``. Defaults to the folder named
            by the ``SIAMESE_ATT_DIR`` environment variable, then ``data/att_faces``.
        image_size: ``(height, width)``; defaults to ``(56, 46)``. ``None`` or ``(112, 92)``
            keeps the native resolution.

    Returns:
        A :class:`FaceDataset` with 400 images of 40 identities, ``s1`` … ``s40`` labelled
        0 … 39, each image float32 ``(height, width, 1)`` in [0, 1].
    """
    dataset = load_image_folder(resolve_att_dir(root), image_size)
    if len(dataset.names) != 40 or len(dataset) != 400:
        logger.warning(
            "Expected 40 identities and 400 images in the AT&T folder; found %d and %d.",
            len(dataset.names),
            len(dataset),
        )
    return dataset


def resolve_att_dir(root: str | os.PathLike | None = None) -> Path:
    """Return the AT&T folder: ``root``, else ``$SIAMESE_ATT_DIR``, else ``data/att_faces``."""
    return att_dir_and_source(root)[0]


def att_dir_and_source(root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Return the folder :func:`resolve_att_dir` picks and where it came from, for logs:
    ``"--data"``, ``"$SIAMESE_ATT_DIR"`` or ``"the default folder"``."""
    if root is not None:
        return Path(root).expanduser(), "--data"
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser(), f"${DATA_ENV_VAR}"
    return Path("data") / "att_faces", "the default folder"


def dataset_fingerprint(dataset: FaceDataset) -> dict:
    """Describe a dataset by its size and a SHA-256 digest of names, labels and pixels."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(dataset.names)).encode())
    digest.update(dataset.labels.astype(np.int64).tobytes())
    digest.update(np.ascontiguousarray(dataset.images, dtype=np.float32).tobytes())
    return {
        "identities": len(dataset.names),
        "images": len(dataset),
        "image_size": list(dataset.image_size),
        "sha256": digest.hexdigest(),
    }
