"""Hiding TensorFlow's start-up lines on stderr while it is imported."""

import os
import subprocess
import sys
import textwrap

import pytest

STARTUP_MARKERS = ("absl::InitializeLog", "oneDNN custom operations")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )


def test_descriptor_write_hidden_and_restored():
    result = run_python(
        """
        import os
        from siamese.quiet_import import stderr_descriptor_silenced
        with stderr_descriptor_silenced():
            os.write(2, b"hidden\\n")
        os.write(2, b"shown\\n")
        """
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "shown\n"


def test_exception_inside_still_reported():
    result = run_python(
        """
        from siamese.quiet_import import stderr_descriptor_silenced
        with stderr_descriptor_silenced():
            raise RuntimeError("raised while silenced")
        """
    )

    assert result.returncode == 1
    assert "RuntimeError: raised while silenced" in result.stderr


@pytest.mark.slow
def test_tensorflow_startup_lines_hidden():
    code = "import siamese.model"
    raw = run_python(code, TF_CPP_MIN_LOG_LEVEL="0")
    if not any(marker in raw.stderr for marker in STARTUP_MARKERS):
        pytest.skip("this TensorFlow build prints no start-up lines to hide")

    quiet = run_python(code, TF_CPP_MIN_LOG_LEVEL="2")

    assert quiet.returncode == 0, quiet.stderr
    assert not any(marker in quiet.stderr for marker in STARTUP_MARKERS), quiet.stderr
