"""Face detection and one-shot face recognition with Siamese networks.

Importing ``siamese.model`` registers the custom Keras layers, losses and metrics, so a saved
``.keras`` model then reloads with plain ``keras.saving.load_model``. The top-level package
stays light so that the command line starts without loading TensorFlow.
"""

import os

# TensorFlow prints several lines of start-up notices on import; keep warnings and errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# A few of those notices ignore that setting; filter them too (see siamese.quiet_import).
from siamese import quiet_import  # noqa: E402

quiet_import.install()

__version__ = "0.1.0"


def __getattr__(name):
    # Import the Keras-dependent modules lazily, so `siamese --help` starts fast.
    if name in {"losses", "model"}:
        import importlib

        return importlib.import_module(f"siamese.{name}")
    raise AttributeError(f"module 'siamese' has no attribute {name!r}")
