"""Tests of video identification: tracking, name smoothing, the `siamese video` command and errors."""

from __future__ import annotations

import collections
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from faces_fixtures import box_centre_inside, make_scene, read_att, trained_model_dir
from siamese.cli import main
from siamese.files import WriteFailedError
from siamese.gallery import UNKNOWN
from siamese.photos import photo_from_array
from siamese.recognize import Recognizer, enroll
import siamese.video
from siamese.video import FaceTracker, box_iou, has_display, open_capture, parse_source, process_video

FRAMES = 12
FPS = 10.0


def test_box_iou_by_hand():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_tracker_smooths_flicker():
    tracker = FaceTracker(window=5)
    raw = ["ann", "ann", "unknown", "ann", "unknown", "ann", "ann"]

    smoothed = [tracker.update([(100 + frame, 50, 80, 80)], [name])[0] for frame, name in enumerate(raw)]

    assert [track for track, _ in smoothed] == [1] * len(raw)
    assert [name for _, name in smoothed] == ["ann"] * len(raw)


def test_tracker_tie_goes_to_latest():
    tracker = FaceTracker(window=4)

    names = [tracker.update([(0, 0, 50, 50)], [name])[0][1] for name in ["ann", "bob", "bob", "ann"]]

    assert names == ["ann", "bob", "bob", "ann"]


def test_tracker_keeps_faces_apart():
    tracker = FaceTracker(window=3)

    first = tracker.update([(0, 0, 50, 50), (200, 0, 50, 50)], ["ann", "bob"])
    # The faces come back in the other order and moved a little; each keeps its track.
    second = tracker.update([(203, 2, 50, 50), (4, 1, 50, 50)], ["bob", "unknown"])

    assert [track for track, _ in first] == [1, 2]
    assert second == [(2, "bob"), (1, "unknown")]


def test_tracker_drops_lost_faces():
    tracker = FaceTracker(window=3, max_missed=2)
    tracker.update([(0, 0, 50, 50)], ["ann"])

    for _ in range(3):
        tracker.update([], [])
    [(track, name)] = tracker.update([(0, 0, 50, 50)], ["bob"])

    assert track == 2
    assert name == "bob"


def test_tracker_validates_window():
    with pytest.raises(ValueError, match="window"):
        FaceTracker(window=0)


def test_tracker_splits_unlike_faces():
    tracker = FaceTracker(window=5, max_distance=0.5)
    ann, ann_again, bob = np.array([[1.0, 0.0]]), np.array([[0.8, 0.0]]), np.array([[0.0, 1.0]])

    first = tracker.update([(0, 0, 50, 50)], ["ann"], ann)
    # Same place, similar face (distance 0.2): the track continues.
    second = tracker.update([(1, 0, 50, 50)], ["ann"], ann_again)
    # Same place, another face (distance 1.28 from the last one): a scene cut, so a new track.
    third = tracker.update([(1, 0, 50, 50)], ["bob"], bob)

    assert first == [(1, "ann")]
    assert second == [(1, "ann")]
    assert third == [(2, "bob")]


def test_tracker_ignores_embeddings_without_limit():
    tracker = FaceTracker(window=5)

    tracker.update([(0, 0, 50, 50)], ["ann"], np.array([[1.0, 0.0]]))
    [(track, name)] = tracker.update([(0, 0, 50, 50)], ["bob"], np.array([[0.0, 1.0]]))

    assert track == 1
    assert name == "bob"  # the tie between ann and bob goes to the latest


def test_tracker_validates_embeddings():
    with pytest.raises(ValueError, match="max_distance"):
        FaceTracker(max_distance=0)
    with pytest.raises(ValueError, match="one embedding per box"):
        FaceTracker().update([(0, 0, 50, 50)], ["ann"], np.zeros((2, 4)))


def test_parse_source():
    assert parse_source("0") == 0
    assert parse_source(2) == 2
    assert str(parse_source("clip.avi")) == "clip.avi"


def test_headless_build_has_no_display():
    gui_none = any(
        line.split(":")[0].strip() == "GUI" and line.split(":", 1)[1].strip().upper() == "NONE"
        for line in cv2.getBuildInformation().splitlines()
    )
    if not gui_none:
        pytest.skip("this OpenCV build has a GUI backend")

    assert has_display() is False


def test_missing_video_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.mp4"):
        open_capture(tmp_path / "gone.mp4")


def test_unreadable_video_file(tmp_path):
    path = tmp_path / "notes.avi"
    path.write_text("this is not a video\n" * 100)

    with pytest.raises(ValueError, match="notes.avi"):
        open_capture(path)


def test_missing_camera():
    with pytest.raises(ValueError, match="Camera 97 could not be opened"):
        open_capture(97)


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    return Recognizer.from_path(trained_model_dir(tmp_path_factory) / "model.keras")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """An MJPG clip of 12 frames: s36 (enrolled) and s40 (not enrolled) drifting right.

    Returns ``(path, boxes per frame)`` with the pasted boxes in s36, s40 order.
    """
    folder = tmp_path_factory.mktemp("video")
    scene, boxes = make_scene([read_att("s36", 2), read_att("s40", 2)], np.random.default_rng(3), scale_range=(1.3, 1.3))
    background = cv2.GaussianBlur(scene, (0, 0), 8)
    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (scene.shape[1], scene.shape[0]))
    assert writer.isOpened()

    frame_boxes = []
    for frame in range(FRAMES):
        shift = 2 * frame
        image = background.copy()
        moved = []
        for x, y, width, height in boxes:
            image[y : y + height, x + shift : x + shift + width] = scene[y : y + height, x : x + width]
            moved.append((x + shift, y, width, height))
        writer.write(image)
        frame_boxes.append(moved)
    writer.release()
    return path, frame_boxes


@pytest.fixture(scope="module")
def gallery_path(recognizer, clip, tmp_path_factory):
    path = tmp_path_factory.mktemp("video-gallery") / "gallery.db"
    scene, _ = make_scene([read_att("s36", 2)], np.random.default_rng(11))
    with recognizer.open_gallery(path, create=True) as gallery:
        enroll(recognizer, gallery, "s36", [photo_from_array(scene)])
    return path


@pytest.mark.slow
def test_video_cli_end_to_end(recognizer, clip, gallery_path, tmp_path, capsys):
    path, frame_boxes = clip
    output = tmp_path / "out"

    code = main(
        ["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path), "--output", str(output), "--no-show"]
    )

    assert code == 0
    printed = capsys.readouterr().out
    assert f"Processed {FRAMES} frames" in printed
    assert f"Threshold: {recognizer.require_identify_threshold():.3f}" in printed

    capture = cv2.VideoCapture(str(output / "clip.identify.avi"))
    written = 0
    while capture.read()[0]:
        written += 1
    capture.release()
    assert written == FRAMES

    records = [json.loads(line) for line in (output / "clip.identify.jsonl").read_text().splitlines()]
    assert [record["frame"] for record in records] == list(range(FRAMES))
    assert records[1]["time"] == pytest.approx(1 / FPS)
    scores = [face["score"] for record in records for face in record["faces"]]
    assert scores == [round(score, 3) for score in scores]  # rounded as in identify --json

    tracks = collections.defaultdict(list)
    for record, boxes in zip(records, frame_boxes):
        for face in record["faces"]:
            for subject, box in zip(("s36", "s40"), boxes):
                if box_centre_inside(face["box"], box):
                    tracks[subject].append(face)

    # Each pasted face is found in nearly every frame and keeps one track id throughout.
    for subject in ("s36", "s40"):
        assert len(tracks[subject]) >= FRAMES - 1, subject
        assert len({face["track"] for face in tracks[subject]}) == 1, subject

    # The smoothed name is the majority of the last five raw names, ties to the latest.
    for faces in tracks.values():
        for index, face in enumerate(faces):
            window = [earlier["raw_name"] for earlier in faces[max(0, index - 4) : index + 1]]
            counts = collections.Counter(window)
            best = max(counts.values())
            assert face["name"] == next(name for name in reversed(window) if counts[name] == best)

    enrolled_named = np.mean([face["name"] == "s36" for face in tracks["s36"]])
    stranger_named = np.mean([face["name"] == "s36" for face in tracks["s40"]])
    assert enrolled_named >= 0.75, [face["raw_name"] for face in tracks["s36"]]
    assert stranger_named < enrolled_named


@pytest.mark.slow
def test_video_scene_cut_starts_new_track(recognizer, gallery_path, tmp_path):
    # The enrolled s36 for 6 frames, then a cut to the stranger s40 pasted at the same place.
    scenes = [make_scene([read_att(subject, 2)], np.random.default_rng(5)) for subject in ("s36", "s40")]
    assert scenes[0][1] == scenes[1][1]
    path = tmp_path / "cut.avi"
    height, width = scenes[0][0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
    for scene, _ in scenes:
        for _ in range(6):
            writer.write(scene)
    writer.release()

    with recognizer.open_gallery(gallery_path) as gallery:
        process_video(path, recognizer, gallery, output_json=tmp_path / "cut.jsonl", progress=False)

    records = [json.loads(line) for line in (tmp_path / "cut.jsonl").read_text().splitlines()]
    box = scenes[0][1][0]
    tracks = [
        {face["track"] for face in record["faces"] if box_centre_inside(face["box"], box)} for record in records
    ]
    assert all(len(found) == 1 for found in tracks), tracks
    assert tracks[0] == tracks[5]
    assert tracks[6] == tracks[11]
    assert tracks[5] != tracks[6]
    after_cut = [face for record in records[6:] for face in record["faces"] if box_centre_inside(face["box"], box)]
    assert all(face["name"] == face["raw_name"] for face in after_cut), after_cut
    assert all(face["raw_name"] in (face["nearest"], UNKNOWN) for record in records for face in record["faces"])


def test_video_strict_threshold_keeps_tracks(recognizer, clip, gallery_path, tmp_path):
    path, frame_boxes = clip
    # A naming threshold far below the frame-to-frame distances of one face: every face is
    # unknown, but the tracker still splits only at the calibrated identification threshold.
    strict = Recognizer.from_path(recognizer.model_path, threshold=0.01)

    with strict.open_gallery(gallery_path) as gallery:
        process_video(path, strict, gallery, output_json=tmp_path / "strict.jsonl", progress=False)

    records = [json.loads(line) for line in (tmp_path / "strict.jsonl").read_text().splitlines()]
    for subject_index in range(2):
        tracks = {
            face["track"]
            for record, boxes in zip(records, frame_boxes)
            for face in record["faces"]
            if box_centre_inside(face["box"], boxes[subject_index])
        }
        assert len(tracks) == 1, tracks
    assert {face["name"] for record in records for face in record["faces"]} == {UNKNOWN}


def test_video_output_folder_rejected(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    folder = tmp_path / "adir"
    folder.mkdir()

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(ValueError, match="is a folder; give a file name"):
            process_video(path, recognizer, gallery, output_json=folder, progress=False)
        with pytest.raises(ValueError, match="SQLite file"):
            process_video(path, recognizer, gallery, output_json=f"{gallery_path}-journal", progress=False)

    assert not list(folder.iterdir())
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["adir"]


def test_video_second_output_failure_leaves_nothing(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    (tmp_path / "afile").write_text("x")
    output = tmp_path / "out"

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(NotADirectoryError):
            process_video(path, recognizer, gallery, output_video=output / "clip.avi",
                          output_json=tmp_path / "afile" / "clip.jsonl", progress=False)

    assert not output.exists() or not list(output.iterdir())


def test_camera_index_out_of_range():
    with pytest.raises(ValueError, match="Camera index 99999999999999999999 is out of range"):
        open_capture("99999999999999999999")


def test_video_max_frames_and_show_headless(recognizer, clip, gallery_path, tmp_path, caplog):
    path, _ = clip
    with recognizer.open_gallery(gallery_path) as gallery:
        summary = process_video(
            path, recognizer, gallery, output_json=tmp_path / "frames.jsonl", show=True, max_frames=3, progress=False
        )

    assert summary.frames == 3
    assert summary.output_video is None
    assert len((tmp_path / "frames.jsonl").read_text().splitlines()) == 3
    if not has_display():
        assert "No display" in caplog.text


def test_video_counts_frames_not_faces(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    strict = Recognizer(recognizer.network, recognizer.detector, threshold=1e-6)  # every face unknown
    with strict.open_gallery(gallery_path) as gallery:
        summary = process_video(path, strict, gallery, output_json=tmp_path / "frames.jsonl", max_frames=4, progress=False)

    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert max(len(record["faces"]) for record in records) == 2
    assert summary.name_frames == {UNKNOWN: sum(1 for record in records if record["faces"])}


def test_video_bad_output_suffix(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(ValueError, match=r"\.avi"):
            process_video(path, recognizer, gallery, output_video=tmp_path / "out.gif", progress=False)
    assert not list(tmp_path.iterdir())


def test_video_rejects_outputs_over_inputs(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    gallery_bytes = gallery_path.read_bytes()
    model_bytes = recognizer.model_path.read_bytes()

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(ValueError, match="is the gallery"):
            process_video(path, recognizer, gallery, output_json=gallery_path, progress=False)
        with pytest.raises(ValueError, match="is the model"):
            process_video(path, recognizer, gallery, output_json=recognizer.model_path, progress=False)
        with pytest.raises(ValueError, match="different paths"):
            process_video(path, recognizer, gallery, output_video=tmp_path / "same.avi",
                          output_json=tmp_path / "same.avi", progress=False)

    assert gallery_path.read_bytes() == gallery_bytes
    assert recognizer.model_path.read_bytes() == model_bytes
    assert not (tmp_path / "same.avi").exists()


def test_video_cli_unreadable(recognizer, gallery_path, tmp_path, capsys):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00" * 1000)

    code = main(["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path), "--output", str(tmp_path / "out")])

    assert code == 2
    assert "broken.mp4" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_video_tiny_frames_need_mp4(recognizer, gallery_path, tmp_path):
    # The input is mp4v, because OpenCV's MJPG writer aborts the process on 5x5 frames.
    path = tmp_path / "tiny.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (5, 5))
    for _ in range(3):
        writer.write(np.zeros((5, 5, 3), np.uint8))
    writer.release()
    output = tmp_path / "out"
    output.mkdir()

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(ValueError, match=r"are \dx\d pixels, too small to write as MJPG"):
            process_video(path, recognizer, gallery, output_video=output / "tiny.identify.avi",
                          output_json=output / "tiny.identify.jsonl", progress=False)
        assert not list(output.iterdir())

        summary = process_video(path, recognizer, gallery, output_video=output / "tiny.identify.mp4",
                                progress=False, whole_image=True)

    assert summary.frames == 3
    assert (output / "tiny.identify.mp4").is_file()


def test_parse_source_odd_names():
    assert isinstance(parse_source("²"), type(parse_source("clip.avi")))
    assert parse_source("9" * 300) == int("9" * 300)
    with pytest.raises(ValueError, match="Camera index 9+ is out of range"):
        open_capture("9" * 300)
    with pytest.raises(ValueError, match="as a video path"):
        open_capture("a" * 300 + ".avi")


def test_tracking_distance_clamped(tmp_path):
    import types

    from siamese.video import tracking_distance

    (tmp_path / "metrics.json").write_text(json.dumps({"threshold": 1.2, "identify_threshold": 50}))
    stub = types.SimpleNamespace(model_path=tmp_path / "model.keras", require_identify_threshold=lambda: 0.4)
    assert tracking_distance(stub) == pytest.approx(1.2)

    (tmp_path / "metrics.json").write_text(json.dumps({"threshold": 9.0, "identify_threshold": 5.0}))
    assert tracking_distance(stub) == pytest.approx(0.4)

    (tmp_path / "metrics.json").write_text(json.dumps({"threshold": 1.2, "identify_threshold": 1.0}))
    assert tracking_distance(stub) == pytest.approx(1.0)


def test_video_linked_gallery_journal_protected(recognizer, clip, gallery_path, tmp_path):
    path, _ = clip
    link = tmp_path / "link.db"
    link.symlink_to(gallery_path)

    with recognizer.open_gallery(link) as gallery:
        with pytest.raises(ValueError, match="SQLite file"):
            process_video(path, recognizer, gallery, output_json=f"{gallery_path}-journal", progress=False)

    assert not Path(f"{gallery_path}-journal").exists()


def _video_cli(recognizer, clip_path, gallery_path, *options):
    return main(
        ["video", str(clip_path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path), "--no-show", *options]
    )


@pytest.mark.slow
def test_video_default_outputs_never_replaced(recognizer, clip, gallery_path, tmp_path, capsys):
    path, _ = clip
    output = tmp_path / "out"

    assert _video_cli(recognizer, path, gallery_path, "--output", str(output), "--max-frames", "3") == 0
    first = (output / "clip.identify.jsonl").read_text()
    # An explicit --video-out with the default JSON path: the JSON gets the next free number.
    assert _video_cli(recognizer, path, gallery_path, "--output", str(output), "--max-frames", "1",
                      "--video-out", str(tmp_path / "short.mp4")) == 0
    # Only the JSON of the run before exists under number 2, so both outputs move to 3.
    assert _video_cli(recognizer, path, gallery_path, "--output", str(output), "--max-frames", "2") == 0

    assert (output / "clip.identify.jsonl").read_text() == first
    assert len((output / "clip.identify-2.jsonl").read_text().splitlines()) == 1
    assert not (output / "clip.identify-2.avi").exists()
    assert (tmp_path / "short.mp4").is_file()
    assert len((output / "clip.identify-3.jsonl").read_text().splitlines()) == 2
    assert (output / "clip.identify-3.avi").is_file()
    printed = capsys.readouterr().out
    assert f"Per-frame JSON: {output / 'clip.identify-2.jsonl'}" in printed


@pytest.mark.slow
def test_video_explicit_output_replaced_with_warning(recognizer, clip, gallery_path, tmp_path, caplog):
    path, _ = clip
    frames = tmp_path / "frames.jsonl"
    frames.write_text("earlier\n")

    assert _video_cli(recognizer, path, gallery_path, "--json-out", str(frames), "--no-video", "--max-frames", "1") == 0

    assert len(frames.read_text().splitlines()) == 1
    assert frames.read_text() != "earlier\n"
    assert f"Replacing the existing '{frames}'" in caplog.text


@pytest.mark.slow
def test_video_summary_pluralises_frames(recognizer, clip, gallery_path, tmp_path, capsys):
    path, _ = clip

    assert _video_cli(recognizer, path, gallery_path, "--output", str(tmp_path), "--no-video", "--max-frames", "1") == 0

    printed = capsys.readouterr().out
    assert "(1 frame)" in printed
    assert "(1 frames)" not in printed


@pytest.mark.slow
def test_video_labels_show_three_decimals(recognizer, clip, gallery_path, tmp_path, monkeypatch):
    import siamese.video

    path, _ = clip
    labels = []
    original = siamese.video.draw_faces

    def recording_draw_faces(bgr, boxes, texts, colours):
        labels.extend(texts)
        return original(bgr, boxes, texts, colours)

    monkeypatch.setattr(siamese.video, "draw_faces", recording_draw_faces)
    with recognizer.open_gallery(gallery_path) as gallery:
        process_video(path, recognizer, gallery, output_json=tmp_path / "frames.jsonl", max_frames=2, progress=False)

    records = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    faces = [face for record in records for face in record["faces"]]
    assert len(labels) == len(faces) > 0
    for label, face in zip(labels, faces):
        if face["name"] in (face["nearest"], UNKNOWN):
            assert label == f"{face['name']} {face['distance']:.3f}"


@pytest.mark.parametrize("cv2_first", [False, True], ids=["cv2 imported after", "cv2 imported before"])
def test_cli_hides_library_logs(tmp_path, cv2_first):
    # A fresh process, because OpenCV reads its log levels once per process. The command line
    # imports cv2 while building its parser, before it quiets the logs, so both orders count.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    script = (
        ("import cv2; " if cv2_first else "")
        + "import sys; from siamese.cli import quiet_library_logs; quiet_library_logs(sys.argv[1] == 'verbose'); "
        "import cv2; cv2.VideoCapture(sys.argv[2]); cv2.VideoCapture(97)"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OPENCV_")}

    quiet = subprocess.run([sys.executable, "-c", script, "quiet", str(broken)], capture_output=True, text=True, env=environment)
    verbose = subprocess.run([sys.executable, "-c", script, "verbose", str(broken)], capture_output=True, text=True, env=environment)

    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "moov atom not found" in verbose.stderr


def test_video_non_utf8_name_rejected(recognizer, gallery_path, tmp_path, capsys):
    # OpenCV 5.1's VideoCapture crashed the process on such a name.
    folder = os.fsencode(tmp_path)
    path = Path(os.fsdecode(folder + b"/bad\xffname.avi"))
    path.write_bytes(b"\x00" * 100)

    code = main(["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path),
                 "--output", str(tmp_path / "out"), "--no-show"])

    err = capsys.readouterr().err
    assert code == 2
    assert "bad\\xffname.avi is not valid UTF-8" in err
    assert "Rename the file" in err


@pytest.mark.parametrize("option", ["--video-out", "--output"])
def test_video_non_utf8_output_rejected(recognizer, clip, gallery_path, tmp_path, capsys, option):
    # OpenCV 5.1's VideoWriter crashed the process on such a name, also on a folder's name.
    path, _ = clip
    target = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xffname" + (b".avi" if option == "--video-out" else b"")))

    code = main(["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path),
                 option, str(target), "--no-show"])

    err = capsys.readouterr().err
    assert code == 2
    assert "bad\\xffname" in err
    assert "is not valid UTF-8" in err
    assert sorted(tmp_path.iterdir()) == sorted(p for p in tmp_path.iterdir() if b"\xff" not in os.fsencode(p))


def test_video_no_video_with_video_out_rejected(recognizer, clip, gallery_path, tmp_path, capsys):
    path, _ = clip

    code = main(["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path),
                 "--no-video", "--video-out", str(tmp_path / "a.avi"), "--no-show"])

    err = capsys.readouterr().err
    assert code == 2
    assert "--no-video writes no annotated video, but --video-out" in err
    assert not (tmp_path / "a.avi").exists()


def test_video_tiny_frames_rejected_before_progress(recognizer, gallery_path, tmp_path, capsys):
    path = tmp_path / "tiny.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (5, 5))
    writer.write(np.zeros((5, 5, 3), np.uint8))
    writer.release()

    code = main(["video", str(path), "--gallery", str(gallery_path), "--model", str(recognizer.model_path),
                 "--output", str(tmp_path / "out"), "--no-show"])

    err = capsys.readouterr().err
    assert code == 2
    assert "too small to write as MJPG" in err
    assert "Video:" not in err


def test_video_folder_named_like_journal_rejected(recognizer, clip, gallery_path, tmp_path, capsys):
    path, _ = clip
    journal = Path(f"{gallery_path}-journal")

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(ValueError, match="SQLite file"):
            process_video(path, recognizer, gallery, output_json=journal / "clip.jsonl", progress=False)
    code = _video_cli(recognizer, path, gallery_path, "--output", f"{gallery_path}-shm", "--max-frames", "1")

    assert code == 2
    assert "SQLite file" in capsys.readouterr().err
    assert not journal.exists()
    assert not Path(f"{gallery_path}-shm").exists()


def test_video_input_as_output_not_warned(recognizer, clip, gallery_path, caplog, capsys):
    path, _ = clip

    code = _video_cli(recognizer, path, gallery_path, "--video-out", str(path), "--max-frames", "1")

    assert code == 2
    assert "is the input video" in capsys.readouterr().err
    assert "Replacing" not in caplog.text


class _DroppingWriter:
    """A VideoWriter that, like OpenCV's on a full disk, silently stores only the first frame."""

    def __init__(self, writer):
        self._writer = writer
        self._frames = 0

    def write(self, frame):
        if self._frames == 0:
            self._writer.write(frame)
        self._frames += 1

    def release(self):
        self._writer.release()


@pytest.mark.parametrize(("free_bytes", "message"), [(0, "no space is left"), (10**12, "stored 1 of 3 frames")])
def test_video_short_video_fails(recognizer, clip, gallery_path, tmp_path, monkeypatch, free_bytes, message):
    path, _ = clip
    open_writer = siamese.video._open_writer
    monkeypatch.setattr(siamese.video, "_open_writer", lambda *args: _DroppingWriter(open_writer(*args)))
    monkeypatch.setattr(siamese.video, "_free_bytes", lambda folder: free_bytes)

    with recognizer.open_gallery(gallery_path) as gallery:
        with pytest.raises(WriteFailedError, match=message):
            process_video(path, recognizer, gallery, output_video=tmp_path / "v.avi",
                          output_json=tmp_path / "v.jsonl", max_frames=3, progress=False)

    assert list(tmp_path.iterdir()) == []


class _FullDiskFile:
    """A text file whose close() flushes, closes and then fails as on a full disk."""

    def __init__(self, file):
        self._file = file

    def write(self, text):
        return self._file.write(text)

    def close(self):
        self._file.close()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_video_full_disk_on_close(recognizer, clip, gallery_path, tmp_path, monkeypatch, capsys):
    path, _ = clip
    monkeypatch.setattr(siamese.video, "open", lambda *args, **kwargs: _FullDiskFile(open(*args, **kwargs)), raising=False)

    code = _video_cli(recognizer, path, gallery_path, "--output", str(tmp_path / "out"), "--max-frames", "2")

    error = capsys.readouterr().err
    assert code == 2
    assert "no space is left" in error
    assert "internal error" not in error
    assert list((tmp_path / "out").iterdir()) == []


def test_video_interrupt_keeps_frames(recognizer, clip, gallery_path, tmp_path, monkeypatch, capsys):
    path, _ = clip
    process_frame = siamese.video._process_frame
    calls = []

    def interrupted_process_frame(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return process_frame(*args)

    monkeypatch.setattr(siamese.video, "_process_frame", interrupted_process_frame)
    json_path = tmp_path / "frames.jsonl"

    code = _video_cli(recognizer, path, gallery_path, "--json-out", str(json_path), "--no-video")

    assert code == 130
    assert "interrupted. The outputs contain the 2 frames processed before Ctrl-C" in capsys.readouterr().err
    assert len(json_path.read_text().splitlines()) == 2


def test_video_interrupt_before_first_frame(recognizer, clip, gallery_path, tmp_path, monkeypatch, capsys):
    # Ctrl-C while a camera is still starting: nothing is kept, and the video is not blamed.
    path, _ = clip

    def interrupted_process_frame(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(siamese.video, "_process_frame", interrupted_process_frame)
    output = tmp_path / "out"

    code = _video_cli(recognizer, path, gallery_path, "--output", str(output))

    err = capsys.readouterr().err
    assert code == 130
    assert "no readable frames" not in err
    assert not output.exists() or list(output.iterdir()) == []


def _write_frames(path: Path, sizes: list[tuple[int, int]]) -> "siamese.video._FrameOutputs":
    outputs = siamese.video._FrameOutputs(path, None, fps=10.0)
    for index, (width, height) in enumerate(sizes):
        outputs.write(np.full((height, width, 3), 40 * index, dtype=np.uint8), {"frame": index})
    return outputs


def test_video_frame_size_change_kept(tmp_path):
    # OpenCV's writer drops a frame of another size without an error; it is resized instead.
    path = tmp_path / "v.avi"
    outputs = _write_frames(path, [(64, 48), (128, 96), (64, 48)])

    outputs.close()
    outputs.commit()

    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    capture.release()


@pytest.mark.parametrize(("counted", "accepted"), [(2, True), (3, True), (4, False)])
def test_video_read_back_allows_extra_frame(tmp_path, monkeypatch, counted, accepted):
    # A Ctrl-C right after write() leaves one frame more than counted; fewer means a short file.
    monkeypatch.setattr(siamese.video, "_free_bytes", lambda folder: 10**12)
    path = tmp_path / "v.avi"
    outputs = _write_frames(path, [(64, 48)] * 3)
    outputs.close()

    if accepted:
        siamese.video._check_video_written(outputs._temporary_video, path, counted)
    else:
        with pytest.raises(WriteFailedError, match="stored 3 of 4 frames"):
            siamese.video._check_video_written(outputs._temporary_video, path, counted)
    outputs.discard()
