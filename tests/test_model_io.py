"""The Siamese model: shapes, shared weights and the `.keras` round trip in a fresh process."""

import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from siamese.model import (
    build_embedding_network,
    build_siamese_model,
    compile_siamese_model,
    load_model,
    model_fingerprint,
)


def tiny_network(seed=0):
    return build_embedding_network(input_shape=(16, 12, 1), widths=(4, 8), embedding_dim=8, seed=seed)


def test_embedding_shape_and_unit_length():
    network = tiny_network()
    embeddings = np.asarray(network(np.random.default_rng(0).random((3, 16, 12, 1), dtype=np.float32)))
    assert embeddings.shape == (3, 8)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_siamese_model_shares_weights():
    network = tiny_network()
    model = build_siamese_model(network)
    images = np.random.default_rng(1).random((2, 16, 12, 1), dtype=np.float32)
    distances = np.asarray(model.predict([images, images], verbose=0))
    assert distances.shape == (2, 1)
    assert np.all(distances < 1e-3)
    assert len(model.trainable_weights) == len(network.trainable_weights)


def test_same_seed_same_weights():
    first, second, other = tiny_network(3), tiny_network(3), tiny_network(4)
    assert model_fingerprint(first) == model_fingerprint(second)
    assert model_fingerprint(first) != model_fingerprint(other)


def test_too_small_input_raises():
    with pytest.raises(ValueError, match="too small"):
        build_embedding_network(input_shape=(4, 4, 1), widths=(4, 8, 16))


def test_keras_round_trip_in_fresh_process(tmp_path):
    model = compile_siamese_model(build_siamese_model(tiny_network()))
    images = np.random.default_rng(2).random((2, 4, 16, 12, 1), dtype=np.float32)
    expected = np.asarray(model.predict([images[0], images[1]], verbose=0))
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "images.npy", images)

    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        import siamese.model  # registers the custom layers; no custom_objects below
        model = keras.saving.load_model({str(path)!r})
        images = np.load({str(tmp_path / "images.npy")!r})
        np.save({str(tmp_path / "reloaded.npy")!r}, model.predict([images[0], images[1]], verbose=0))
        print(type(model.loss).__name__)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ContrastiveLoss" in result.stdout
    assert np.allclose(np.load(tmp_path / "reloaded.npy"), expected, atol=1e-6)


@pytest.mark.parametrize(
    "content",
    [b"", b"hi\n", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100)],
    ids=["empty", "text", "jpeg"],
)
def test_load_model_non_zip_named(tmp_path, content):
    path = tmp_path / "model.keras"
    path.write_bytes(content)

    with pytest.raises(ValueError) as caught:
        load_model(path)

    message = str(caught.value)
    assert "not a valid .keras archive" in message
    assert "File not found" not in message
    assert "retrain" in message


def test_load_model_truncated_archive(tmp_path):
    whole = tmp_path / "whole.keras"
    with zipfile.ZipFile(whole, "w") as archive:
        archive.writestr("config.json", "{}" * 1000)
    path = tmp_path / "model.keras"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(ValueError, match="not a valid .keras archive"):
        load_model(path)


def test_load_model_zip_without_model(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a model")

    with pytest.raises(ValueError, match="Cannot load .* as a Keras model") as caught:
        load_model(path)

    assert "retrain" in str(caught.value)
