"""Helpers shared by the Jupyter notebooks in ``Notebook/``: input checks, Colab and image grids.

The checks raise early with a message naming the notebook parameter to change and the command
that fetches the data, so a notebook with missing inputs stops in its first cells.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from siamese.data import IMAGE_SUFFIXES

# In a Jupyter kernel without ipywidgets, importing tqdm.auto warns "IProgress not found" and
# falls back to text progress bars, which work. The warning names the local site-packages path,
# so it would put machine details into the committed notebook outputs.
warnings.filterwarnings("ignore", message="IProgress not found")


def in_colab() -> bool:
    """Return whether the code runs in Google Colab (its ``google.colab`` module is loaded)."""
    return "google.colab" in sys.modules


def describe_parameter(name: str, value: str | os.PathLike) -> str:
    """Return ``name='value'`` for an error message, with the working folder when ``value`` is
    relative: ``Notebook/`` under Jupyter, but wherever papermill or nbconvert was started
    otherwise."""
    from siamese.files import relative_path_note

    return f"{name}={str(value)!r}{relative_path_note(value)}"


def require_att_faces(data_dir: str | os.PathLike) -> Path:
    """Return ``data_dir`` as a path when it contains the AT&T layout (``s1/1.pgm`` at least).

    Raises:
        FileNotFoundError: the folder or ``s1/1.pgm`` is missing; the message names the
            download command and the ``data_dir`` parameter.
    """
    folder = Path(data_dir).expanduser()
    if not (folder / "s1" / "1.pgm").is_file():
        raise FileNotFoundError(
            f"AT&T faces not found in {describe_parameter('data_dir', data_dir)} (expected s1/1.pgm … s40/10.pgm "
            f"there). Download them with `siamese download --data {data_dir}`, or set the "
            f"notebook's data_dir parameter (or the SIAMESE_ATT_DIR environment variable) to the "
            f"folder that contains s1 … s40."
        )
    return folder


def require_photos(photos_dir: str | os.PathLike) -> list[Path]:
    """Return the image files directly inside ``photos_dir``, in name order.

    Raises:
        FileNotFoundError: the folder is missing or contains no JPEG, PNG, BMP, TIFF or PGM file;
            the message names the ``photos_dir`` parameter.
    """
    folder = Path(photos_dir).expanduser()
    photos = []
    if folder.is_dir():
        photos = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise FileNotFoundError(
            f"No photos found in {describe_parameter('photos_dir', photos_dir)}. Put a few JPEG or PNG photos "
            f"with faces in that folder, or set the notebook's photos_dir parameter (or the "
            f"SIAMESE_SAMPLE_PHOTOS environment variable) to a folder that has them."
        )
    return photos


def require_model(model_path: str | os.PathLike) -> Path:
    """Return ``model_path`` as a path when the file exists.

    Raises:
        FileNotFoundError: the file is missing; the message names the training notebook and
            the ``siamese train`` command that write one.
    """
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Trained model not found at {describe_parameter('model_path', model_path)}. Run "
            f"03_training.ipynb first (it saves model.keras into its out_dir), train one with "
            f"`siamese train --out DIR`, or set the notebook's model_path parameter (or the "
            f"SIAMESE_MODEL environment variable) to a model.keras file."
        )
    return path


def show_images(
    images: np.ndarray | list[np.ndarray],
    titles: list[str] | None = None,
    columns: int = 10,
    size: float = 1.3,
    title: str | None = None,
):
    """Draw images in a grid and return the Matplotlib figure.

    Args:
        images: float ``(n, height, width, 1)`` or ``(n, height, width)`` grayscale in [0, 1],
            or a list of such images; colour images ``(height, width, 3)`` are RGB.
        titles: one caption per image, or ``None``.
        columns: images per row.
        size: width of one grid cell in inches; the height follows the first image's aspect.
        title: title above the whole grid.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image; received none.")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    height, width = np.asarray(images[0]).shape[:2]

    figure, axes = plt.subplots(
        rows, columns, figsize=(size * columns, size * height / width * rows + (0.4 if title else 0) + 0.25 * rows),
        squeeze=False,
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        image = np.asarray(images[index])
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 2:
            axis.imshow(image, cmap="gray", vmin=0, vmax=1)
        else:
            axis.imshow(image)
        if titles is not None:
            axis.set_title(titles[index], fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def prepare_colab(att_faces: bool = True, photos: bool = False, model: bool = False, root: str | os.PathLike = ".") -> None:
    """Fetch a notebook's inputs in Google Colab and point the parameters' defaults at them.

    Sets ``SIAMESE_ATT_DIR``, ``SIAMESE_SAMPLE_PHOTOS`` and ``SIAMESE_MODEL``, which the
    notebooks' parameter cells read. Each Colab notebook runs in its own runtime, so nothing
    made by another notebook is available.

    Args:
        att_faces: download and verify the AT&T faces into ``root/data/att_faces``.
        photos: ask for photos with the browser's upload dialog unless ``root/photos``
            already contains some. The sample photos are not in the repository, because
            their licence does not allow redistribution.
        model: train a model with ``siamese train`` (default settings, several minutes)
            into ``root/runs/colab`` unless one is there already, printing its progress. An
            interrupted training resumes on the next call. Implies ``att_faces``.
        root: folder that receives the data; Colab's working folder by default.

    Raises:
        RuntimeError: not running in Colab.
    """
    # NOTE: runs only inside Colab; the tests and the committed notebook runs never execute it.
    if not in_colab():
        raise RuntimeError("prepare_colab only works in Google Colab.")
    root = Path(root)

    if att_faces or model:
        from siamese.download import ensure_att_faces

        os.environ["SIAMESE_ATT_DIR"] = str(ensure_att_faces(root / "data" / "att_faces"))

    if photos:
        from google.colab import files

        folder = root / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            print("Upload a few photos with faces (JPEG or PNG); the sample photos are not in the repository.")
            for name, content in files.upload().items():
                (folder / Path(name).name).write_bytes(content)
        os.environ["SIAMESE_SAMPLE_PHOTOS"] = str(folder)

    if model:
        out = root / "runs" / "colab"
        if not (out / "model.keras").is_file():
            print("Training a model for this notebook (several minutes). If the cell is interrupted, "
                  "running it again resumes after the last finished epoch.")
            run_printing_output([sys.executable, "-m", "siamese", "train", "--data", os.environ["SIAMESE_ATT_DIR"], "--out", str(out)])
        os.environ["SIAMESE_MODEL"] = str(out / "model.keras")


#: Seconds an interrupted child may take to stop before it is killed.
STOP_TIMEOUT = 30.0


def run_printing_output(command: list[str]) -> None:
    """Run ``command`` and print its stdout and stderr line by line as they arrive.

    A notebook cell does not show the output that a child process writes to inherited file
    descriptors, so a long command would otherwise run silently.

    Raises:
        RuntimeError: the command exited with a nonzero status.
    """
    import signal
    import subprocess

    # errors="replace": one undecodable byte must not stop the echo, which would break the pipe.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        try:
            for line in process.stdout:
                print(line, end="", flush=True)
        except KeyboardInterrupt:
            # Interrupting the cell stops the child too, as Ctrl-C would in a terminal. Popen's
            # context manager waits only briefly after an interrupt, so wait here, because a
            # rerun of the cell must not start a second training beside a live one.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            finally:
                # Also reached when a second interrupt arrives during the wait.
                if process.poll() is None:
                    process.kill()
                    process.wait()
            raise
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} … failed with exit status {process.returncode}; its output is above.")


def display_jpeg(figure, quality: int = 85) -> None:
    """Show a Matplotlib figure in the notebook as a JPEG image and close the figure.

    Photos and grids of faces are several times smaller as JPEG than as the inline backend's
    PNG, which keeps the committed notebooks small. Line plots stay sharper as PNG. The image
    has the figure's own resolution (``figure.dpi``), as the inline backend's PNG has.

    Args:
        figure: the figure to show.
        quality: JPEG quality, 1 to 95.
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="jpeg", dpi="figure", bbox_inches="tight", pil_kwargs={"quality": int(quality)})
    plt.close(figure)
    display(Image(data=buffer.getvalue(), format="jpeg"))


# The camera-capture snippet of Google Colab's code examples: JavaScript in the browser shows the
# camera stream with a Capture button and returns the frame as a JPEG data URL.
_COLAB_CAPTURE_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const capture = document.createElement('button');
  capture.textContent = 'Capture';
  div.appendChild(capture);

  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});

  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();

  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => capture.onclick = resolve);

  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def capture_colab_photo(path: str | os.PathLike = "snapshot.jpg", quality: float = 0.9) -> Path:
    """Take one photo with the browser's camera in Google Colab and save it as JPEG.

    Shows the camera stream with a Capture button below the cell and waits for the click.

    Args:
        path: JPEG file to write.
        quality: JPEG quality in (0, 1].

    Raises:
        RuntimeError: not running in Colab, where the browser bridge does not exist.
    """
    # NOTE: runs only inside Colab; the tests and the committed notebook runs never execute it.
    if not in_colab():
        raise RuntimeError("capture_colab_photo needs Google Colab's browser bridge; run it in Colab.")

    from base64 import b64decode

    from google.colab.output import eval_js
    from IPython.display import Javascript, display

    from siamese.files import atomic_write

    display(Javascript(_COLAB_CAPTURE_JS))
    data_url = eval_js(f"takePhoto({float(quality)})")
    jpeg = b64decode(data_url.split(",", 1)[1])
    return atomic_write(path, lambda temporary: temporary.write_bytes(jpeg))


def write_python_kernelspec(folder: str | os.PathLike, name: str = "python3") -> Path:
    """Write a Jupyter kernelspec that starts ``sys.executable`` and return its folder.

    Put ``folder`` first on ``JUPYTER_PATH`` and the kernel ``name`` resolves to the running
    interpreter, whatever kernels the user or the system has installed. The kernel draws
    Matplotlib figures inline even where ``MPLBACKEND=Agg`` is set for scripts.
    """
    import json

    spec_dir = Path(folder) / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return spec_dir


def execute_notebook(
    notebook: str | os.PathLike,
    output: str | os.PathLike,
    parameters: dict | None = None,
    cwd: str | os.PathLike | None = None,
    cell_timeout: float | None = 1800,
) -> Path:
    """Run a notebook top to bottom in a fresh kernel of this interpreter with papermill.

    Args:
        notebook: the ``.ipynb`` to run; it is only read.
        output: where the executed copy is written (may equal ``notebook``).
        parameters: values that papermill injects after the cell tagged ``parameters``.
        cwd: working folder of the kernel; defaults to the notebook's folder, which the
            notebooks' relative default paths assume.
        cell_timeout: seconds one cell may run; ``None`` for no limit.

    Raises:
        papermill.PapermillExecutionError: a cell raised; ``ename`` and ``evalue`` hold the
            error, and the partly executed copy is still written to ``output``.
    """
    import tempfile

    try:
        import papermill
    except ImportError as error:
        raise ImportError("Running notebooks needs papermill; install it with `pip install -e .[notebooks]`.") from error

    notebook = Path(notebook)
    with tempfile.TemporaryDirectory(prefix="siamese-kernel-") as jupyter_dir:
        write_python_kernelspec(jupyter_dir)
        previous = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [jupyter_dir, previous]))
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=parameters or {},
                kernel_name="python3",
                cwd=str(cwd if cwd is not None else notebook.parent),
                execution_timeout=cell_timeout,
                progress_bar=False,
            )
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = previous
    return Path(output)
