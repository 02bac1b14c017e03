"""Loaders on tiny image folders written by the tests, and on the real AT&T folder."""

import logging

import numpy as np
import pytest
from PIL import Image

from siamese.data import load_att_faces, load_image_folder, natural_sort_key, read_grayscale


def write_image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_natural_sort_orders_numbers():
    names = ["s10", "s2", "s1", "S3"]
    assert sorted(names, key=natural_sort_key) == ["s1", "s2", "S3", "s10"]


def test_loads_mixed_formats(tmp_path):
    gray = np.full((20, 10), 255, np.uint8)
    color = np.zeros((30, 15, 3), np.uint8)
    color[..., 0] = 255  # pure red: luma 0.299 * 255
    write_image(tmp_path / "alice" / "1.pgm", gray)
    write_image(tmp_path / "alice" / "2.png", color)
    write_image(tmp_path / "bob" / "a.jpg", gray)
    write_image(tmp_path / "bob" / "b.bmp", gray)
    write_image(tmp_path / "bob" / "c.tiff", gray)

    dataset = load_image_folder(tmp_path, image_size=(8, 6))

    assert dataset.images.shape == (5, 8, 6, 1)
    assert dataset.images.dtype == np.float32
    assert dataset.names == ("alice", "bob")
    assert list(dataset.labels) == [0, 0, 1, 1, 1]
    assert dataset.images[0].min() == pytest.approx(1.0)
    assert dataset.images[1].mean() == pytest.approx(0.299, abs=0.01)


def test_identities_sort_naturally(tmp_path):
    for name in ["s10", "s2", "s1"]:
        write_image(tmp_path / name / "1.pgm", np.zeros((4, 4), np.uint8))
    assert load_image_folder(tmp_path, image_size=None).names == ("s1", "s2", "s10")


def test_sixteen_bit_scaled_to_unit(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(path)
    assert read_grayscale(path, None).max() == pytest.approx(1.0)


def test_alpha_dropped_onto_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255  # top half opaque white, bottom half transparent
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba).save(path)
    image = read_grayscale(path, None)
    assert image[0, 0] == pytest.approx(1.0)
    assert image[3, 0] == pytest.approx(0.0)


def test_non_images_skipped_with_one_warning(tmp_path, caplog):
    write_image(tmp_path / "alice" / "1.pgm", np.zeros((4, 4), np.uint8))
    (tmp_path / "alice" / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()

    with caplog.at_level(logging.WARNING, logger="siamese.data"):
        dataset = load_image_folder(tmp_path, image_size=None)

    assert dataset.names == ("alice",)
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "notes.txt" in warnings[0].getMessage()
    assert "empty" in warnings[0].getMessage()


def test_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image_folder(tmp_path / "nowhere")


def test_file_as_root_raises(tmp_path):
    image = tmp_path / "1.pgm"
    write_image(image, np.zeros((4, 4), np.uint8))
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        load_image_folder(image)


def test_folder_without_identities_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("no people here")
    with pytest.raises(ValueError, match="No identities"):
        load_image_folder(tmp_path)


def test_unreadable_image_names_path(tmp_path):
    broken = tmp_path / "alice" / "1.jpg"
    broken.parent.mkdir()
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="1.jpg"):
        load_image_folder(tmp_path)


def test_mixed_sizes_need_image_size(tmp_path):
    write_image(tmp_path / "a" / "1.pgm", np.zeros((4, 4), np.uint8))
    write_image(tmp_path / "a" / "2.pgm", np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match="differ in size"):
        load_image_folder(tmp_path, image_size=None)


def test_subset_relabels(tmp_path):
    for name in ["a", "b", "c"]:
        write_image(tmp_path / name / "1.pgm", np.zeros((4, 4), np.uint8))
    subset = load_image_folder(tmp_path, image_size=None).subset(["c", "a"])
    assert subset.names == ("c", "a")
    assert list(subset.labels) == [1, 0]


def test_att_faces_shape_and_order(att_dir):
    dataset = load_att_faces(att_dir, image_size=(112, 92))
    assert dataset.images.shape == (400, 112, 92, 1)
    assert dataset.names[:3] == ("s1", "s2", "s3")
    assert dataset.names[-1] == "s40"
    assert dataset.images.min() >= 0.0
    assert dataset.images.max() <= 1.0
    assert dataset.paths[10].parent.name == "s2"
    assert dataset.paths[1].name == "2.pgm"


def test_decompression_bomb_names_file(tmp_path, monkeypatch):
    write_image(tmp_path / "alice" / "huge.png", np.zeros((64, 64), np.uint8))
    # Pillow raises DecompressionBombError above twice this limit, here 200 pixels.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    with pytest.raises(ValueError, match="huge.png") as raised:
        load_image_folder(tmp_path)

    assert "too large" in str(raised.value)
    assert "shrink" in str(raised.value)


def test_lab_tiff_names_file(tmp_path):
    path = tmp_path / "alice" / "lab.tif"
    path.parent.mkdir()
    Image.new("LAB", (4, 4)).save(path)

    with pytest.raises(ValueError, match="lab.tif") as raised:
        load_image_folder(tmp_path)

    assert "LAB" in str(raised.value)
    assert "convert" in str(raised.value)
