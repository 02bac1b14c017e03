"""The notebooks run headless with small parameters, stop early on missing data, and are clean.

Each run starts a fresh kernel of this interpreter (see ``siamese.notebook.execute_notebook``)
whose working folder is ``tmp_path``, and the executed copy is written there too. The committed
notebooks are only read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO_ROOT / "Notebook"
CLEAN_SCRIPT = REPO_ROOT / "scripts" / "clean_notebooks.py"

# Small enough that all notebooks together run in a few minutes on two cores.
QUICK_DRAWS = 10
QUICK_TRAINING = {"epochs": 1, "steps_per_epoch": 2, "n_draws": QUICK_DRAWS}


def notebook_names() -> list[str]:
    return sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))


def load_clean_script():
    spec = importlib.util.spec_from_file_location("clean_notebooks", CLEAN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_notebook(name: str, tmp_path: Path, **parameters) -> dict:
    """Execute ``Notebook/name`` with ``parameters``; return the executed notebook's JSON."""
    pytest.importorskip("papermill")
    from siamese.notebook import execute_notebook

    output = tmp_path / name
    execute_notebook(NOTEBOOK_DIR / name, output, parameters, cwd=tmp_path, cell_timeout=600)
    return json.loads(output.read_text(encoding="utf-8"))


def output_text(notebook: dict) -> str:
    """Join every stdout, stderr and text/plain output of the notebook."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                parts.append("".join(output["text"]))
            elif "text/plain" in output.get("data", {}):
                parts.append("".join(output["data"]["text/plain"]))
    return "\n".join(parts)


def image_count(notebook: dict) -> int:
    """Count the PNG and JPEG images among the notebook's outputs."""
    return sum(
        mime in output.get("data", {})
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        for mime in ("image/png", "image/jpeg")
    )


@pytest.fixture(scope="module")
def trained_run(att_dir, tmp_path_factory) -> tuple[Path, dict]:
    """Run 03_training.ipynb once with a tiny training; return its out_dir and executed copy."""
    folder = tmp_path_factory.mktemp("training")
    out_dir = folder / "out"
    notebook = run_notebook("03_training.ipynb", folder, data_dir=str(att_dir), out_dir=str(out_dir), **QUICK_TRAINING)
    return out_dir, notebook


# Structure: fast checks on the committed files.


def test_notebooks_present():
    assert len(notebook_names()) == 7, notebook_names()


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_parameters_cell(name):
    cells = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]
    tagged = [cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert "data_dir" in "".join(tagged[0]["source"]) or "photos_dir" in "".join(tagged[0]["source"])


@pytest.mark.parametrize("name", notebook_names())
def test_notebook_colab_cell_first(name):
    cells = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]
    first_code = next(cell for cell in cells if cell["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert "REPO_URL" in source
    assert '"google.colab" in sys.modules' in source


def test_committed_notebooks_clean():
    result = subprocess.run(
        [sys.executable, str(CLEAN_SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# The cleaner itself, on a small hand-made notebook.


def fake_notebook(outputs: list[dict]) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {"papermill": {}}, "source": "# Title"},
            {"cell_type": "code", "execution_count": 7, "metadata": {"tags": ["parameters"], "scrolled": True}, "outputs": [], "source": "x = 1"},
            {"cell_type": "code", "execution_count": 9, "metadata": {}, "outputs": outputs, "source": "print(x)"},
        ],
        "metadata": {"papermill": {"input_path": "/home/alice/in.ipynb"}, "widgets": {"state": {}}, "kernelspec": {"name": "venv"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def test_cleaner_normalises_metadata():
    clean = load_clean_script()
    notebook = clean.clean_notebook(fake_notebook([]))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "papermill" not in notebook["metadata"]
    assert "widgets" not in notebook["metadata"]
    assert [cell["metadata"] for cell in notebook["cells"]] == [{}, {"tags": ["parameters"]}, {}]
    assert [cell.get("execution_count") for cell in notebook["cells"]] == [None, 1, 2]
    assert [cell["id"] for cell in notebook["cells"]] == ["cell-01", "cell-02", "cell-03"]


def test_cleaner_drops_tensorflow_notices():
    clean = load_clean_script()
    notice = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796416742.700355    9856 port.cc:153] oneDNN custom operations are on.\n"
    )
    notebook = clean.clean_notebook(fake_notebook([
        {"name": "stderr", "output_type": "stream", "text": notice},
        {"name": "stdout", "output_type": "stream", "text": "a\n"},
        {"name": "stdout", "output_type": "stream", "text": "b\n"},
    ]))
    outputs = notebook["cells"][2]["outputs"]
    assert outputs == [{"name": "stdout", "output_type": "stream", "text": ["a\n", "b\n"]}]


def test_cleaner_flags_absolute_path():
    clean = load_clean_script()
    notebook = clean.clean_notebook(fake_notebook([
        {"name": "stdout", "output_type": "stream", "text": "saved to /home/alice/runs/model.keras\n"},
    ]))
    problems = clean.problems_of(notebook)
    assert len(problems) == 1
    assert "/home/alice" in problems[0]


def test_cleaner_redacts_repository_path():
    clean = load_clean_script()
    notebook = clean.clean_notebook(fake_notebook([
        {"name": "stderr", "output_type": "stream", "text": f"{REPO_ROOT}/siamese/data.py:10: UserWarning\n"},
    ]))
    assert notebook["cells"][2]["outputs"][0]["text"] == ["<repo>/siamese/data.py:10: UserWarning\n"]
    assert clean.problems_of(notebook) == []


def test_cleaner_flags_error_output():
    clean = load_clean_script()
    notebook = clean.clean_notebook(fake_notebook([
        {"ename": "ValueError", "evalue": "bad", "output_type": "error", "traceback": []},
    ]))
    assert any("ValueError" in problem for problem in clean.problems_of(notebook))


# Execution: every notebook end to end on the real data.


@pytest.mark.slow
def test_explore_notebook_runs(att_dir, tmp_path):
    notebook = run_notebook("01_explore_att_faces.ipynb", tmp_path, data_dir=str(att_dir))
    text = output_text(notebook)
    assert "40 identity folders, 400 PGM files" in text
    assert image_count(notebook) >= 4


@pytest.mark.slow
def test_missing_data_stops_early(tmp_path):
    papermill = pytest.importorskip("papermill")
    missing = tmp_path / "no_faces_here"

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook("01_explore_att_faces.ipynb", tmp_path, data_dir=str(missing))

    error = caught.value
    assert error.ename == "FileNotFoundError"
    assert "siamese download --data" in error.evalue
    assert "data_dir" in error.evalue
    assert "require_att_faces(data_dir)" in error.source


@pytest.mark.slow
def test_preprocessing_notebook_runs(att_dir, tmp_path):
    notebook = run_notebook("02_preprocessing_and_pairs.ipynb", tmp_path, data_dir=str(att_dir), n_draws=QUICK_DRAWS)
    text = output_text(notebook)
    assert "identities in both: []" in text
    assert "raw pixels, 40-way one-shot" in text


@pytest.mark.slow
def test_training_notebook_saves_model(trained_run):
    out_dir, notebook = trained_run
    assert (out_dir / "train" / "model.keras").is_file()
    assert (out_dir / "train" / "metrics.json").is_file()
    assert "one_shot_accuracy" in output_text(notebook)
    assert image_count(notebook) >= 5


@pytest.mark.slow
def test_evaluation_notebook_runs(att_dir, trained_run, tmp_path):
    out_dir, _ = trained_run
    model_path = out_dir / "train" / "model.keras"
    notebook = run_notebook("04_evaluation.ipynb", tmp_path, data_dir=str(att_dir), model_path=str(model_path), n_draws=QUICK_DRAWS)
    assert "queries correct" in output_text(notebook)
    assert image_count(notebook) >= 6


@pytest.mark.slow
def test_evaluation_without_model_stops_early(att_dir, tmp_path):
    papermill = pytest.importorskip("papermill")

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook("04_evaluation.ipynb", tmp_path, data_dir=str(att_dir), model_path=str(tmp_path / "absent.keras"))

    assert caught.value.ename == "FileNotFoundError"
    assert "03_training.ipynb" in caught.value.evalue
    assert "require_model(model_path)" in caught.value.source


@pytest.mark.slow
def test_comparison_notebook_runs(att_dir, tmp_path):
    notebook = run_notebook(
        "05_optimizer_comparison.ipynb", tmp_path, data_dir=str(att_dir), out_dir=str(tmp_path / "out"),
        optimizers=["adam", "sgd"], seeds=2, epochs=1, steps_per_epoch=2,
    )
    assert "trained 4 runs now" in output_text(notebook)
    assert (tmp_path / "out" / "compare" / "report.md").is_file()
    assert image_count(notebook) >= 3


@pytest.mark.slow
def test_detection_notebook_runs(sample_photos_dir, tmp_path):
    notebook = run_notebook("06_face_detection.ipynb", tmp_path, photos_dir=str(sample_photos_dir))
    photos = sorted(path.name for path in sample_photos_dir.iterdir())
    assert f"{len(photos)} photos: {', '.join(photos)}" in output_text(notebook)
    assert image_count(notebook) >= 2


@pytest.mark.slow
def test_detection_without_photos_stops_early(tmp_path):
    papermill = pytest.importorskip("papermill")

    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_notebook("06_face_detection.ipynb", tmp_path, photos_dir=str(tmp_path / "no_photos"))

    assert caught.value.ename == "FileNotFoundError"
    assert "photos_dir" in caught.value.evalue
    assert "require_photos(photos_dir)" in caught.value.source


@pytest.mark.slow
def test_recognition_notebook_runs(att_dir, sample_photos_dir, trained_run, tmp_path):
    out_dir, _ = trained_run
    notebook = run_notebook(
        "07_recognition.ipynb", tmp_path, data_dir=str(att_dir), photos_dir=str(sample_photos_dir),
        model_path=str(out_dir / "train" / "model.keras"), out_dir=str(tmp_path / "out"), camera_index=None,
    )
    text = output_text(notebook)
    assert "enrolled: s36, s37, s38" in text
    assert "camera_index is None" in text
    assert (tmp_path / "out" / "recognition" / "gallery.sqlite").is_file()


def test_missing_model_error_names_environment_variable(tmp_path):
    from siamese.notebook import require_model

    with pytest.raises(FileNotFoundError) as missing:
        require_model(tmp_path / "absent.keras")

    assert "model_path parameter (or the SIAMESE_MODEL environment variable)" in str(missing.value)


def test_missing_folder_error_resolves_relative_path(tmp_path, monkeypatch):
    from siamese.notebook import require_photos

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as relative:
        require_photos("../data/sample_photos")
    with pytest.raises(FileNotFoundError) as absolute:
        require_photos(tmp_path / "photos")

    assert "photos_dir='../data/sample_photos'" in str(relative.value)
    assert f"relative to the working folder {tmp_path}" in str(relative.value)
    assert str(tmp_path / ".." / "data" / "sample_photos") in str(relative.value)
    assert f"photos_dir='{tmp_path / 'photos'}'" in str(absolute.value)
    assert "relative to" not in str(absolute.value)


def test_run_printing_output_echoes_lines(capsys):
    from siamese.notebook import run_printing_output

    run_printing_output([sys.executable, "-c", "import sys; print('first'); print('second', file=sys.stderr)"])

    assert capsys.readouterr().out.splitlines() == ["first", "second"]


def test_run_printing_output_raises_on_failure(capsys):
    from siamese.notebook import run_printing_output

    with pytest.raises(RuntimeError, match="exit status 3"):
        run_printing_output([sys.executable, "-c", "print('before failing'); raise SystemExit(3)"])
    assert "before failing" in capsys.readouterr().out


def interrupt_child_ignoring_sigint(monkeypatch, tmp_path) -> int:
    """Run a child that ignores SIGINT through run_printing_output, interrupt it, return its pid.

    The child ignores SIGINT, like a training busy in native code, so only the kill stops it.
    """
    import siamese.notebook

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(siamese.notebook, "print", interrupt, raising=False)
    monkeypatch.setattr(siamese.notebook, "STOP_TIMEOUT", 5.0)
    pid_file = tmp_path / "child.pid"
    child = (
        "import os, signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); print('started', flush=True); time.sleep(300)"
    )

    with pytest.raises(KeyboardInterrupt):
        siamese.notebook.run_printing_output([sys.executable, "-c", child])
    return int(pid_file.read_text())


def test_run_printing_output_interrupt_stops_child(monkeypatch, tmp_path):
    pid = interrupt_child_ignoring_sigint(monkeypatch, tmp_path)

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_printing_output_replaces_bad_bytes(capsys):
    from siamese.notebook import run_printing_output

    run_printing_output([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'bad \\xff byte\\n')"])

    assert capsys.readouterr().out == "bad \ufffd byte\n"


def test_run_printing_output_second_interrupt_kills_child(monkeypatch, tmp_path):
    real_wait = subprocess.Popen.wait

    def interrupted_wait(self, timeout=None):
        # A second Ctrl-C while the child is given time to stop.
        if timeout is not None:
            raise KeyboardInterrupt
        return real_wait(self)

    monkeypatch.setattr(subprocess.Popen, "wait", interrupted_wait)
    pid = interrupt_child_ignoring_sigint(monkeypatch, tmp_path)

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
