"""Decode photos from files or arrays into one form for detection, cropping and drawing.

Files are read with Pillow, which applies the EXIF orientation so phone photos come out upright.
JPEG, PNG (with or without alpha), PGM, BMP and TIFF are accepted, grayscale or colour, 8-bit or
16-bit. Files Pillow cannot decode (some TIFF variants) fall back to OpenCV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from siamese.files import atomic_write

CHANNEL_ORDERS = ("bgr", "rgb")

# Suffixes cv2.imencode writes in colour; other inputs (PGM) get annotated copies as PNG.
COLOUR_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Photo:
    """One decoded photo.

    Attributes:
        gray: float32 ``(height, width)`` luma in [0, 1], at full precision for 16-bit inputs.
            Face crops for the network are cut from this array.
        bgr: uint8 ``(height, width, 3)`` colour image in OpenCV's channel order, for detectors
            that take colour and for drawing.
        source: file path or a short description of the array it came from.
    """

    gray: np.ndarray
    bgr: np.ndarray
    source: str

    @property
    def shape(self) -> tuple[int, int]:
        """Size as ``(height, width)`` in pixels."""
        return self.gray.shape[0], self.gray.shape[1]

    @property
    def gray_uint8(self) -> np.ndarray:
        """uint8 ``(height, width)`` luma, the input the Haar cascade expects."""
        return np.round(self.gray * 255.0).astype(np.uint8)


def read_photo(path: str | os.PathLike) -> Photo:
    """Read an image file into a :class:`Photo`, upright according to its EXIF orientation.

    Alpha is flattened onto black, matching :func:`siamese.data.read_grayscale`. 16-bit
    grayscale keeps its precision in ``Photo.gray``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a folder or cannot be decoded as an image.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"Photo not found: '{path}'. Check the path and try again.")
    if not path.is_file():
        raise ValueError(f"Expected an image file; received the folder '{path}'.")

    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            gray, rgb = _pillow_to_arrays(image)
    except Image.DecompressionBombError:
        # Pillow rejects images this large as a defence against decompression bombs. OpenCV
        # would decode them and could exhaust memory, so there is no fallback.
        raise ValueError(
            f"The image {path} is too large to read safely (more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels); "
            f"shrink it first."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as pillow_error:
        gray, rgb = _read_with_opencv(path, pillow_error)

    return Photo(gray, np.ascontiguousarray(rgb[..., ::-1]), str(path))


def _pillow_to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(gray float32 in [0, 1], rgb uint8)`` from a Pillow image of any mode."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / top, 0.0, 1.0).astype(np.float32)
        return gray, _gray_to_rgb(gray)
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max()) or 1.0
        gray = np.clip(array / top, 0.0, 1.0)
        return gray, _gray_to_rgb(gray)

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image)

    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return gray, rgb


def _read_with_opencv(path: Path, pillow_error: Exception) -> tuple[np.ndarray, np.ndarray]:
    data = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if decoded is None:
        raise ValueError(
            f"Cannot read image {path}: {pillow_error}. Expected a JPEG, PNG, PGM, BMP or TIFF "
            f"file; replace or convert the file."
        ) from pillow_error

    photo = photo_from_array(decoded, channel_order="bgr", source=str(path))
    return photo.gray, np.ascontiguousarray(photo.bgr[..., ::-1])


def photo_from_array(array: np.ndarray, channel_order: str = "bgr", source: str = "array") -> Photo:
    """Wrap a NumPy image into a :class:`Photo`.

    Args:
        array: ``(height, width)`` or ``(height, width, 1)`` grayscale, ``(height, width, 3)``
            colour, or ``(height, width, 4)`` colour with alpha (flattened onto black). uint8
            (0–255), uint16 (0–65535), bool, or float with values in [0, 1].
        channel_order: ``"bgr"`` for arrays from OpenCV (``cv2.imread``, ``VideoCapture``) or
            ``"rgb"`` for arrays from Pillow, Matplotlib or scikit-image. Ignored for
            grayscale. Defaults to ``"bgr"``.
        source: description stored in ``Photo.source``.

    Raises:
        ValueError: the shape, dtype, value range or channel order is not one of the above.
    """
    order = str(channel_order).lower()
    if order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be 'bgr' or 'rgb'; received {channel_order!r}.")

    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(
            f"Expected an image array of shape (height, width), (height, width, 3) or "
            f"(height, width, 4); received shape {array.shape}."
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"Image array {source} is empty (shape {array.shape}).")

    unit = _to_unit_range(array, source)
    if unit.ndim == 3 and unit.shape[2] == 4:
        unit = unit[..., :3] * unit[..., 3:4]
    if unit.ndim == 3 and order == "rgb":
        unit = unit[..., ::-1]

    if unit.ndim == 2:
        gray = unit.astype(np.float32)
        bgr = _gray_to_rgb(gray)
    else:
        bgr_float = np.ascontiguousarray(unit, dtype=np.float32)
        gray = cv2.cvtColor(bgr_float, cv2.COLOR_BGR2GRAY)
        bgr = np.round(bgr_float * 255.0).astype(np.uint8)
    return Photo(np.clip(gray, 0.0, 1.0).astype(np.float32), bgr, source)


def _to_unit_range(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"Image array {source} contains NaN or infinite values.")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"Float image arrays must contain values in [0, 1]; {source} ranges over "
                f"[{low:g}, {high:g}]. Divide 8-bit values by 255 or pass a uint8 array."
            )
        return array.astype(np.float32)
    raise ValueError(
        f"Expected a uint8, uint16, bool or float image array; {source} has dtype {array.dtype}."
    )


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.round(gray * 255.0).astype(np.uint8)[..., np.newaxis], 3, axis=2)


def write_image(path: str | os.PathLike, bgr: np.ndarray) -> Path:
    """Write a uint8 BGR (or grayscale) image atomically; the format follows the suffix.

    Raises:
        ValueError: OpenCV has no encoder for the suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(suffix, bgr)
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"Cannot encode an image as {suffix!r} for {path}; use .png or .jpg.")
    atomic_write(path, lambda temporary: temporary.write_bytes(encoded.tobytes()))
    os.chmod(path, default_file_mode())
    return path


def default_file_mode() -> int:
    """Return the mode a new file gets from ``open()`` under the current umask.

    Temporary files start as 0600; outputs renamed from them get this mode instead.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def colour_suffix(path: str | os.PathLike) -> str:
    """Return ``path``'s suffix when it can hold a colour image, else ``".png"``."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in COLOUR_SUFFIXES else ".png"
