"""Cut a face out of a photo and prepare it for the embedding network.

The network learns from AT&T images: 92 x 112 pixels, the face filling most of the frame with a
little hair and background. A crop around a detector box therefore copies that framing.
The default Haar cascade was run on the 400 AT&T images padded by 40 edge-replicated pixels,
and it found one face in 399 of them. Measured against its boxes, the AT&T frame is 1.02-1.03
box widths wide and 1.24-1.25 box widths high, and its centre lies 0.07 box widths above the
box centre. AT&T faces pasted onto noise at 1x and 1.5x give the same ratios. Unpadded images at native size give wider ratios
(1.19 and 1.45) because the image edge cuts off the detector's larger windows, so the cascade
finds a face in only 348 of them and its boxes come out small. :func:`face_frame` uses the
padded measurement.

Enrollment, identification, verification and video all go through :func:`prepare_face`, so a
face reaches the network the same way at every stage.
"""

from __future__ import annotations

import numpy as np

from siamese.data import ATT_IMAGE_SIZE, resize
from siamese.photos import Photo

#: Frame width as a multiple of the detector box width.
FRAME_WIDTH = 1.03
#: Frame height as a multiple of the box width, keeping the AT&T aspect (112 high, 92 wide).
FRAME_HEIGHT = FRAME_WIDTH * ATT_IMAGE_SIZE[0] / ATT_IMAGE_SIZE[1]
#: Upward shift of the frame centre from the box centre, as a multiple of the box width.
FRAME_RAISE = 0.07


def face_frame(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Return the AT&T-style frame around a detector box as ``(x0, y0, x1, y1)`` pixels.

    The frame may extend past the photo's edges; :func:`prepare_face` pads it.
    """
    x, y, width, height = box
    if width < 1 or height < 1:
        raise ValueError(f"A face box needs a positive width and height; received {box}.")

    side = float(width)
    centre_x = x + width / 2.0
    centre_y = y + height / 2.0 - FRAME_RAISE * side
    half_width = FRAME_WIDTH * side / 2.0
    half_height = FRAME_HEIGHT * side / 2.0
    return (
        int(round(centre_x - half_width)),
        int(round(centre_y - half_height)),
        int(round(centre_x + half_width)),
        int(round(centre_y + half_height)),
    )


def cut_region(image: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """Return ``image[y0:y1, x0:x1]``, repeating edge pixels where the region leaves the image.

    ``image`` is ``(height, width)`` or ``(height, width, channels)``.
    """
    x0, y0, x1, y1 = region
    height, width = image.shape[:2]
    inside = image[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)]
    if inside.size == 0:
        raise ValueError(f"Region {region} lies entirely outside the {width}x{height} image.")

    padding = [(max(-y0, 0), max(y1 - height, 0)), (max(-x0, 0), max(x1 - width, 0))]
    padding += [(0, 0)] * (image.ndim - 2)
    return np.pad(inside, padding, mode="edge")


def prepare_face(
    photo: Photo,
    box: tuple[int, int, int, int] | None,
    input_size: tuple[int, int],
) -> np.ndarray:
    """Return the network input for one face: float32 ``(height, width, 1)`` in [0, 1].

    Args:
        photo: the decoded photo.
        box: detector box ``(x, y, width, height)``; the crop is :func:`face_frame` of it.
            ``None`` takes the whole photo, for images that are already face crops; they are
            resized as the training images were, without cropping.
        input_size: the network's ``(height, width)``; see :func:`input_size_of`.
    """
    region = photo.gray if box is None else cut_region(photo.gray, face_frame(box))
    return resize(region, input_size)[..., np.newaxis].astype(np.float32)


def input_size_of(network) -> tuple[int, int]:
    """Return a Keras model's image input size ``(height, width)``.

    Raises:
        ValueError: the input is not ``(batch, height, width, 1)`` with a known size.
    """
    shape = network.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] != 1:
        raise ValueError(
            f"Expected a model input of shape (batch, height, width, 1); received {shape}. "
            f"Pass a model made by `siamese train`."
        )
    return int(shape[1]), int(shape[2])
