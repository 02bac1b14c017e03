"""Where draw_faces puts a label: above the box, below it, or inside it."""

import numpy as np
import pytest

from siamese.annotate import draw_faces

RED = (0, 0, 255)


@pytest.mark.parametrize(
    "box, where",
    [
        ((20, 60, 40, 40), "above"),
        ((20, 0, 40, 40), "below"),
        ((0, 0, 92, 112), "inside"),  # the whole image, as --whole-image boxes are
    ],
)
def test_label_stays_inside_the_image(box, where):
    canvas = draw_faces(np.zeros((112, 92, 3), np.uint8), [box], ["unknown"], [RED])

    text_rows = np.flatnonzero(np.all(canvas == 255, axis=-1).any(axis=1))  # the label's white text
    x, y, width, height = box
    assert text_rows.size > 0, "the label was drawn outside the image"
    if where == "above":
        assert text_rows.max() < y
    elif where == "below":
        assert text_rows.min() > y + height
    else:
        assert text_rows.max() < height // 4  # at the top of the box
