"""Tests of photo reading, face detection and face cropping on real photos and AT&T faces."""

from __future__ import annotations

import argparse
import json
import logging

import cv2
import numpy as np
import pytest
from PIL import Image

from faces_fixtures import SAMPLE_FACE_COUNTS, require_att_dir, require_sample_photos_dir
from siamese import detect
from siamese.cli import main
from siamese.commands import faces
from siamese.crops import cut_region, face_frame, prepare_face
from siamese.data import read_grayscale
from siamese.detect import (
    Detection,
    DnnFaceDetector,
    HaarFaceDetector,
    create_detector,
    detect_faces,
    largest_detection,
    overlap_fraction,
    suppress_overlaps,
)
from siamese.photos import photo_from_array, read_photo


@pytest.fixture(scope="module")
def photos():
    return require_sample_photos_dir()


@pytest.fixture(scope="module")
def detector():
    return HaarFaceDetector()


@pytest.mark.parametrize("name", sorted(SAMPLE_FACE_COUNTS))
def test_sample_photo_face_count(photos, detector, name):
    photo = read_photo(photos / name)

    detections = detector.detect(photo)

    assert len(detections) == SAMPLE_FACE_COUNTS[name]
    height, width = photo.shape
    for detection in detections:
        x, y, box_width, box_height = detection.box
        assert x >= 0
        assert y >= 0
        assert x + box_width <= width
        assert y + box_height <= height
        assert detection.score is not None and detection.score > 0


def test_group_faces_sorted_left_to_right(photos, detector):
    detections = detector.detect(read_photo(photos / "four_faces_group.jpg"))

    lefts = [detection.box[0] for detection in detections]

    assert lefts == sorted(lefts)


def test_largest_detection_by_area(photos, detector):
    detections = detector.detect(read_photo(photos / "four_faces_group.jpg"))

    largest = largest_detection(detections)

    assert largest.area == max(detection.box[2] * detection.box[3] for detection in detections)


def test_exif_orientation_applied(photos, detector, tmp_path):
    upright = Image.open(photos / "one_face_portrait.jpg").convert("RGB")
    # Store the pixels turned a quarter to the left with EXIF orientation 6, which instructs
    # viewers to turn them a quarter to the right, as phone cameras do.
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    sideways.save(path, exif=exif.tobytes(), quality=95)

    photo = read_photo(path)

    assert photo.shape == (upright.height, upright.width)
    assert len(detector.detect(photo)) == 1
    assert len(detector.detect(photo_from_array(np.asarray(sideways), "rgb"))) == 0


def test_exif_rotation_changes_pixels(photos, tmp_path):
    upright = Image.open(photos / "one_face_portrait.jpg").convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.png"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())

    photo = read_photo(path)

    expected = np.asarray(upright, dtype=np.float32) / 255.0
    np.testing.assert_allclose(photo.gray, expected, atol=1e-6)


def _save_variants(photos, tmp_path):
    """Write the gray street photo in several formats; returns {label: path}."""
    colour = Image.open(photos / "one_face_street.jpg").convert("RGB")
    gray = colour.convert("L")
    paths = {}

    paths["png_alpha"] = tmp_path / "alpha.png"
    rgba = colour.convert("RGBA")
    rgba.putalpha(255)
    rgba.save(paths["png_alpha"])

    paths["pgm"] = tmp_path / "gray.pgm"
    gray.save(paths["pgm"])

    paths["bmp"] = tmp_path / "colour.bmp"
    colour.save(paths["bmp"])

    paths["tiff16"] = tmp_path / "gray16.tif"
    cv2.imwrite(str(paths["tiff16"]), np.asarray(gray, dtype=np.uint16) * 257)

    paths["png16_colour"] = tmp_path / "colour16.png"
    cv2.imwrite(str(paths["png16_colour"]), np.asarray(colour, dtype=np.uint16)[..., ::-1] * 257)

    paths["jpeg_gray"] = tmp_path / "gray.jpg"
    gray.save(paths["jpeg_gray"], quality=95)
    return paths


@pytest.mark.parametrize("label", ["png_alpha", "pgm", "bmp", "tiff16", "png16_colour", "jpeg_gray"])
def test_formats_detect_one_face(photos, detector, tmp_path, label):
    path = _save_variants(photos, tmp_path)[label]

    photo = read_photo(path)

    assert photo.gray.dtype == np.float32
    assert photo.bgr.dtype == np.uint8
    assert photo.bgr.shape == (*photo.shape, 3)
    assert photo.gray.min() >= 0.0
    assert photo.gray.max() <= 1.0
    assert len(detector.detect(photo)) == 1


def test_16bit_gray_keeps_precision(tmp_path):
    ramp = np.arange(0, 65536, 16, dtype=np.uint16).reshape(64, 64)
    path = tmp_path / "ramp.tif"
    cv2.imwrite(str(path), ramp)

    photo = read_photo(path)

    np.testing.assert_allclose(photo.gray, ramp / 65535.0, atol=1e-6)
    assert len(np.unique(photo.gray)) == 4096


def test_transparent_pixels_become_black(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255
    path = tmp_path / "half.png"
    Image.fromarray(rgba, "RGBA").save(path)

    photo = read_photo(path)

    np.testing.assert_allclose(photo.gray[:2], 1.0)
    np.testing.assert_allclose(photo.gray[2:], 0.0)


def test_rgb_and_bgr_arrays_agree(photos, detector):
    rgb = np.asarray(Image.open(photos / "four_faces_group.jpg").convert("RGB"))
    bgr = np.ascontiguousarray(rgb[..., ::-1])

    from_rgb = photo_from_array(rgb, channel_order="rgb")
    from_bgr = photo_from_array(bgr, channel_order="bgr")

    np.testing.assert_array_equal(from_rgb.bgr, from_bgr.bgr)
    np.testing.assert_allclose(from_rgb.gray, from_bgr.gray)
    assert len(detect_faces(rgb, detector, channel_order="rgb")) == 4


def test_channel_order_matters():
    red_rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    red_rgb[..., 0] = 255

    as_rgb = photo_from_array(red_rgb, "rgb")
    as_bgr = photo_from_array(red_rgb, "bgr")

    assert tuple(as_rgb.bgr[0, 0]) == (0, 0, 255)
    assert as_rgb.gray[0, 0] == pytest.approx(0.299, abs=1e-3)
    assert as_bgr.gray[0, 0] == pytest.approx(0.114, abs=1e-3)


def test_float_and_uint16_arrays():
    gray_float = np.full((3, 3), 0.5, dtype=np.float64)
    gray16 = np.full((3, 3), 65535, dtype=np.uint16)

    assert photo_from_array(gray_float).gray[0, 0] == pytest.approx(0.5)
    assert photo_from_array(gray16).gray[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "array, order, message",
    [
        (np.zeros((4, 4, 2), np.uint8), "bgr", "shape"),
        (np.zeros((4,), np.uint8), "bgr", "shape"),
        (np.full((4, 4), 255.0), "bgr", r"\[0, 1\]"),
        (np.zeros((4, 4), np.int64), "bgr", "dtype"),
        (np.zeros((4, 4, 3), np.uint8), "rbg", "channel_order"),
        (np.zeros((0, 4), np.uint8), "bgr", "empty"),
    ],
)
def test_invalid_arrays_rejected(array, order, message):
    with pytest.raises(ValueError, match=message):
        photo_from_array(array, order)


def test_missing_photo(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        read_photo(tmp_path / "missing.jpg")


def test_unreadable_photo_names_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_text("not a JPEG")

    with pytest.raises(ValueError, match="broken.jpg"):
        read_photo(path)


def test_oversized_photo_refused(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "huge.png"
    cv2.imwrite(str(path), np.zeros((100, 100), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is then a decompression bomb

    with pytest.raises(ValueError, match="huge.png is too large to read safely"):
        read_photo(path)


def test_cascade_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="haarcascade_frontalface_default.xml"):
        HaarFaceDetector(tmp_path / "missing.xml")


def test_cascade_invalid_file(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<opencv_storage></opencv_storage>")

    with pytest.raises(ValueError, match="broken.xml"):
        HaarFaceDetector(path)


def test_cascade_text_file_rejected(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n")

    with pytest.raises(ValueError, match="Expected an OpenCV cascade XML file") as error:
        HaarFaceDetector(path)
    assert "error:" not in str(error.value)  # none of OpenCV's C++ parser message


def test_cascade_unavailable_names_fix(monkeypatch):
    # Simulates an OpenCV build without CascadeClassifier, such as plain opencv-python 5.x.
    monkeypatch.delattr(cv2, "CascadeClassifier")

    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
        HaarFaceDetector()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale_factor": 1.0},
        {"scale_factor": 1.00001},
        {"scale_factor": 1.049},
        {"scale_factor": float("inf")},
        {"min_neighbors": -1},
        {"min_neighbors": 10**20},
        {"min_size": 0},
        {"min_size": 99_999_999_999},
    ],
)
def test_cascade_options_validated(kwargs):
    with pytest.raises(ValueError):
        HaarFaceDetector(**kwargs)


def test_cascade_accepts_minimum_scale_factor():
    assert HaarFaceDetector(scale_factor=1.05).scale_factor == 1.05


def test_opencv_error_becomes_value_error():
    class FailingCascade:
        def detectMultiScale3(self, gray, **options):
            raise cv2.error("OpenCV(5.1.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate 339544004096 bytes")

    detector = HaarFaceDetector()
    detector._cascade = FailingCascade()
    photo = photo_from_array(np.zeros((40, 40), np.uint8), source="tiny.png")

    with pytest.raises(ValueError, match="could not detect faces in tiny.png") as caught:
        detector.detect(photo)
    assert "Failed to allocate" in str(caught.value)
    assert "--scale-factor" in str(caught.value)


def test_dnn_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="yunet"):
        DnnFaceDetector(tmp_path / "face_detection_yunet.onnx")


def test_dnn_invalid_model(tmp_path):
    path = tmp_path / "fake.onnx"
    path.write_bytes(b"\x00garbage, not a protobuf" * 10)

    with pytest.raises(ValueError, match="fake.onnx") as error:
        DnnFaceDetector(path)
    assert "\n" not in str(error.value)
    assert ".cpp" not in str(error.value)  # none of OpenCV's C++ source paths
    assert "face_detection_yunet_2026may.onnx" in str(error.value)


def test_dnn_model_not_regular_file(tmp_path):
    with pytest.raises(ValueError, match="is not a regular file"):
        DnnFaceDetector(tmp_path)


def test_cascade_not_regular_file():
    with pytest.raises(ValueError, match="'/dev/null' is not a regular file"):
        HaarFaceDetector("/dev/null")


@pytest.mark.parametrize("text", ["inf", "-inf", "nan"])
def test_scale_factor_not_finite(text):
    with pytest.raises(argparse.ArgumentTypeError, match="finite number") as error:
        faces._scale_factor(text)
    assert "pyramid" not in str(error.value)


def test_scale_factor_too_small():
    with pytest.raises(argparse.ArgumentTypeError, match="pyramid"):
        faces._scale_factor("1.01")


def test_create_detector_errors():
    with pytest.raises(ValueError, match="haar, dnn"):
        create_detector("mtcnn")
    with pytest.raises(ValueError, match="--dnn-model"):
        create_detector("dnn")


def test_face_frame_by_hand():
    x0, y0, x1, y1 = face_frame((100, 200, 100, 100))

    assert x1 - x0 == pytest.approx(103, abs=1)
    assert y1 - y0 == pytest.approx(125, abs=1)
    assert (x0 + x1) / 2 == pytest.approx(150, abs=1)
    assert (y0 + y1) / 2 == pytest.approx(250 - 7, abs=1)


def test_cut_region_repeats_edges():
    image = np.arange(9, dtype=np.float32).reshape(3, 3)

    region = cut_region(image, (-1, 1, 2, 4))

    expected = np.array([[3, 3, 4], [6, 6, 7], [6, 6, 7]], dtype=np.float32)
    np.testing.assert_array_equal(region, expected)


def test_cut_region_outside_image():
    with pytest.raises(ValueError, match="outside"):
        cut_region(np.zeros((3, 3)), (5, 5, 8, 8))


def test_whole_image_matches_training_loader():
    path = require_att_dir() / "s1" / "1.pgm"

    crop = prepare_face(read_photo(path), None, (56, 46))

    assert crop.shape == (56, 46, 1)
    assert crop.dtype == np.float32
    np.testing.assert_array_equal(crop[..., 0], read_grayscale(path, (56, 46)))


def _framing_error(detector, frame_width: float, monkeypatch) -> float:
    """Median pixel difference between detector crops and the AT&T images they came from."""
    import siamese.crops as crops

    monkeypatch.setattr(crops, "FRAME_WIDTH", frame_width)
    monkeypatch.setattr(crops, "FRAME_HEIGHT", frame_width * 112 / 92)
    differences = []
    for subject in range(1, 41, 2):
        path = require_att_dir() / f"s{subject}" / "1.pgm"
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        canvas = photo_from_array(cv2.copyMakeBorder(image, 60, 60, 60, 60, cv2.BORDER_REPLICATE))
        detections = detector.detect(canvas)
        if len(detections) != 1:
            continue
        crop = crops.prepare_face(canvas, detections[0].box, (56, 46))
        whole = crops.prepare_face(read_photo(path), None, (56, 46))
        differences.append(float(np.mean(np.abs(crop - whole))))
    assert len(differences) >= 18
    return float(np.median(differences))


def test_frame_reproduces_att_framing(detector, monkeypatch):
    import siamese.crops as crops

    chosen = _framing_error(detector, crops.FRAME_WIDTH, monkeypatch)
    tighter = _framing_error(detector, crops.FRAME_WIDTH * 0.85, monkeypatch)
    looser = _framing_error(detector, crops.FRAME_WIDTH * 1.15, monkeypatch)

    assert chosen < tighter
    assert chosen < looser


def test_detect_cli_json(photos, tmp_path, capsys):
    inputs = [photos / name for name in sorted(SAMPLE_FACE_COUNTS)]
    before = {path: path.read_bytes() for path in inputs}

    code = main(["detect", *map(str, inputs), "--json", "--output", str(tmp_path / "out"), "--crops", str(tmp_path / "crops")])

    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert [result["path"] for result in results] == [str(path) for path in inputs]
    for result, path in zip(results, inputs):
        assert len(result["faces"]) == SAMPLE_FACE_COUNTS[path.name]
        assert all(len(face["box"]) == 4 and face["score"] > 0 for face in result["faces"])
        assert (tmp_path / "out" / f"{path.stem}.detect.jpg").is_file()
    assert len(list((tmp_path / "crops").glob("*.png"))) == sum(SAMPLE_FACE_COUNTS.values())
    assert all(path.read_bytes() == content for path, content in before.items())


def test_detect_cli_missing_photo(tmp_path, capsys):
    code = main(["detect", str(tmp_path / "nobody.jpg"), "--no-annotate"])

    assert code == 2
    assert "nobody.jpg" in capsys.readouterr().err


def test_detect_cli_refuses_input_as_output(photos, tmp_path, capsys):
    copy = tmp_path / "face.jpg"
    copy.write_bytes((photos / "one_face_street.jpg").read_bytes())

    code = main(["detect", str(copy), "--output", str(copy)])

    assert code == 2
    assert "overwrite" in capsys.readouterr().err
    assert copy.read_bytes() == (photos / "one_face_street.jpg").read_bytes()


def test_output_folder_with_image_suffix(photos, tmp_path):
    folder = tmp_path / "results.jpg"
    folder.mkdir()

    code = main(["detect", str(photos / "one_face_street.jpg"), "--output", str(folder)])

    assert code == 0
    assert (folder / "one_face_street.detect.jpg").is_file()


@pytest.mark.parametrize("name", ["boxes.gif", "boxes.PGM"])
def test_output_unwritable_image_rejected(photos, tmp_path, capsys, name):
    code = main(["detect", str(photos / "one_face_street.jpg"), "--output", str(tmp_path / name)])

    assert code == 2
    assert f"{name}' names a {name[-4:]} image" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_output_trailing_slash_is_folder(photos, tmp_path):
    code = main(["detect", str(photos / "one_face_street.jpg"), "--output", f"{tmp_path / 'boxes.jpg'}/"])

    assert code == 0
    assert (tmp_path / "boxes.jpg" / "one_face_street.detect.jpg").is_file()


def test_same_stem_photos_numbered_and_logged(photos, tmp_path, caplog):
    inputs = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        inputs.append(tmp_path / folder / "face.jpg")
        inputs[-1].write_bytes((photos / "one_face_street.jpg").read_bytes())
    output = tmp_path / "out"

    with caplog.at_level(logging.INFO, logger="siamese.commands.faces"):
        code = main(["detect", *map(str, inputs), "--output", str(output)])

    assert code == 0
    assert (output / "face.detect.jpg").is_file()
    assert (output / "face.detect-2.jpg").is_file()
    assert f"{inputs[1]} -> {output / 'face.detect-2.jpg'}" in caplog.text


def test_haar_min_score_drops_weak_boxes(photos):
    # The group photo shifted into an 800x600 frame, as a video of the sample photos shows it:
    # besides the four faces, the cascade finds a weak box on a shirt (score 2.7).
    group = cv2.imread(str(photos / "four_faces_group.jpg"))
    shift = np.float32([[1, 0, -12], [0, 1, (600 - group.shape[0]) // 2]])
    frame = photo_from_array(cv2.warpAffine(group, shift, (800, 600)))

    every = HaarFaceDetector().detect(frame)
    filtered = HaarFaceDetector(min_score=5.0).detect(frame)

    assert len(every) > SAMPLE_FACE_COUNTS["four_faces_group.jpg"]
    assert len(filtered) == SAMPLE_FACE_COUNTS["four_faces_group.jpg"]
    assert all(detection.score >= 5.0 for detection in filtered)
    assert [detection for detection in every if detection.score >= 5.0] == filtered


def test_score_threshold_option_per_detector():
    haar = create_detector("haar", score_threshold=4.5)
    assert haar.min_score == 4.5
    assert create_detector("haar").min_score is None
    with pytest.raises(ValueError, match="--score-threshold"):
        HaarFaceDetector(min_score=float("nan"))


def test_overlap_fraction_by_hand():
    # A 4x4 box inside a 10x10 box: the whole smaller box overlaps.
    assert overlap_fraction((0, 0, 10, 10), (2, 2, 4, 4)) == pytest.approx(1.0)
    # Two 10x10 boxes sharing a 5x10 strip.
    assert overlap_fraction((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(0.5)
    # A 10x10 box and a 20x20 box sharing a 4x5 corner: 20 of the smaller box's 100.
    assert overlap_fraction((0, 0, 10, 10), (6, 5, 20, 20)) == pytest.approx(0.2)
    assert overlap_fraction((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0


def test_suppress_overlaps_by_hand():
    face = Detection((100, 100, 80, 80), 9.0)
    inside = Detection((110, 110, 60, 60), 3.0)  # wholly inside the face box
    beside = Detection((150, 100, 80, 80), 2.0)  # shares 30 of 80 columns: 0.375
    elsewhere = Detection((0, 0, 40, 40), 1.0)

    kept = suppress_overlaps([inside, elsewhere, beside, face], max_overlap=0.5)

    assert kept == [elsewhere, face, beside]
    assert suppress_overlaps([inside, face], max_overlap=1.0) == [face, inside]
    assert suppress_overlaps([face, beside], max_overlap=0.3) == [face]


def test_suppress_overlaps_stronger_box_wins():
    weak = Detection((0, 0, 50, 50), 2.0)
    strong = Detection((5, 5, 50, 50), 8.0)

    assert suppress_overlaps([weak, strong]) == [strong]
    assert suppress_overlaps([strong, weak]) == [strong]


def test_suppress_overlaps_ties_are_deterministic():
    small = Detection((10, 10, 40, 40), 5.0)
    large = Detection((0, 0, 60, 60), 5.0)
    unscored = [Detection((0, 0, 50, 50)), Detection((10, 0, 50, 50))]

    assert suppress_overlaps([small, large]) == [large]
    assert suppress_overlaps([large, small]) == [large]
    # Without scores, equal areas go to the leftmost box.
    assert suppress_overlaps(unscored) == [unscored[0]]
    assert suppress_overlaps(unscored[::-1]) == [unscored[0]]


def test_max_overlap_validated():
    for value in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="max_overlap"):
            HaarFaceDetector(max_overlap=value)


def test_haar_one_box_per_face_in_frames(photos):
    # The group photo at 15 places in an 800x600 frame, as a video shows it. Without the
    # suppression OpenCV returns a second, weaker box on one face at some of them.
    group = cv2.imread(str(photos / "four_faces_group.jpg"))
    every = HaarFaceDetector(max_overlap=1.0)
    default = HaarFaceDetector()
    doubled = 0
    for dx in (-24, -12, 0, 12, 24):
        for dy in (18, 38, 58):
            frame = photo_from_array(cv2.warpAffine(group, np.float32([[1, 0, dx], [0, 1, dy]]), (800, 600)))
            raw = every.detect(frame)
            kept = default.detect(frame)

            doubled += any(overlap_fraction(a.box, b.box) > 0.5 for a in raw for b in raw if a is not b)
            assert not any(overlap_fraction(a.box, b.box) > 0.5 for a in kept for b in kept if a is not b)
            assert set(kept) <= set(raw)
    assert doubled > 0


def test_detect_cli_model_needs_crops(photos, tmp_path, capsys):
    code = main(["detect", str(photos / "one_face_street.jpg"), "--model", str(tmp_path / "model.keras"), "--no-annotate"])

    assert code == 2
    error = capsys.readouterr().err
    assert "--model" in error
    assert "--crops DIR" in error


def test_score_threshold_none_keeps_every_box(photos, capsys):
    code = main(["detect", str(photos / "four_faces_group.jpg"), "--no-annotate", "--score-threshold", "none", "--json"])

    assert code == 0
    assert len(json.loads(capsys.readouterr().out)[0]["faces"]) == SAMPLE_FACE_COUNTS["four_faces_group.jpg"]
    with pytest.raises(SystemExit):
        main(["detect", str(photos / "four_faces_group.jpg"), "--score-threshold", "nan"])


def test_detect_rerun_numbers_outputs_and_crops(photos, tmp_path):
    photo = photos / "one_face_street.jpg"
    output, crops = tmp_path / "out", tmp_path / "crops"

    for _ in range(2):
        assert main(["detect", str(photo), "--output", str(output), "--crops", str(crops)]) == 0

    assert sorted(path.name for path in output.iterdir()) == ["one_face_street.detect-2.jpg", "one_face_street.detect.jpg"]
    assert sorted(path.name for path in crops.iterdir()) == ["one_face_street.face1-2.png", "one_face_street.face1.png"]


def test_detect_explicit_output_replaced_with_warning(photos, tmp_path, caplog):
    target = tmp_path / "keep.png"
    target.write_bytes(b"earlier image")

    with caplog.at_level(logging.WARNING):
        code = main(["detect", str(photos / "one_face_street.jpg"), "--output", str(target)])

    assert code == 0
    assert target.read_bytes() != b"earlier image"
    assert f"Replacing the existing '{target}'" in caplog.text


def test_detect_crops_folder_not_input(photos, tmp_path, capsys):
    copy = tmp_path / "face.jpg"
    copy.write_bytes((photos / "one_face_street.jpg").read_bytes())

    code = main(["detect", str(copy), "--no-annotate", "--crops", str(copy)])

    assert code == 2
    assert f"The output path '{copy}' is the input photo" in capsys.readouterr().err


def detector_arguments(score_threshold=None, detector="haar") -> argparse.Namespace:
    """The detector options of a command as the parser leaves them when only these are given."""
    parser = argparse.ArgumentParser()
    faces._add_detector_options(parser)
    arguments = ["--detector", detector]
    if score_threshold is not None:
        arguments += ["--score-threshold", score_threshold]
    return parser.parse_args(arguments)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [(None, 2.5), ("none", None), ("4", 4.0)],
    ids=["default applies", "none keeps every box", "typed value wins"],
)
def test_command_default_min_score(typed, expected):
    detector = faces._make_detector(detector_arguments(typed), haar_min_score=2.5)

    assert detector.min_score == expected


def test_default_min_score_skipped_without_scores(monkeypatch):
    # A build whose cascade gives no scores must still run video with its default.
    monkeypatch.setattr(detect, "haar_scores_available", lambda: False)

    detector = faces._make_detector(detector_arguments(), haar_min_score=2.5)

    assert detector.min_score is None
