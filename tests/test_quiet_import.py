"""Filtering TensorFlow's start-up lines from stderr while it is imported."""

import os
import subprocess
import sys
import textwrap

import pytest

from siamese.quiet_import import ABSL_NOTICE, without_startup_lines

STARTUP_MARKERS = ("absl::InitializeLog", "oneDNN custom operations")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **env},
    )


def test_startup_lines_removed_by_hand():
    text = (
        f"WARNING: {ABSL_NOTICE}\n"
        "I0000 00:00:1796482122.759354   15276 port.cc:153] oneDNN custom operations are on.\n"
        "W0000 00:00:1796482122.759354   15276 a.cc:1] a warning\n"
        "E0000 00:00:1796482122.759354   15276 b.cc:2] an error\n"
        "UserWarning: from Python\n"
    )

    assert without_startup_lines(text, 2) == "E0000 00:00:1796482122.759354   15276 b.cc:2] an error\nUserWarning: from Python\n"
    assert without_startup_lines(text, 1).count("\n") == 3  # the warning line stays at level 1
    assert without_startup_lines(text, 0) == text


def test_captured_lines_replayed_afterwards():
    result = run_python(
        """
        import os, sys
        from siamese.quiet_import import stderr_filtered
        with stderr_filtered(2):
            os.write(2, b"I1205 10:00:00.000000 1 x.cc:1] dropped info\\n")
            os.write(2, b"E1205 10:00:00.000000 1 x.cc:2] kept error\\n")
            print("kept from Python", file=sys.stderr)
        os.write(2, b"after\\n")
        """
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "E1205 10:00:00.000000 1 x.cc:2] kept error\nkept from Python\nafter\n"


def test_exception_inside_still_reported():
    result = run_python(
        """
        from siamese.quiet_import import stderr_filtered
        with stderr_filtered(2):
            raise RuntimeError("raised while filtered")
        """
    )

    assert result.returncode == 1
    assert "RuntimeError: raised while filtered" in result.stderr


def test_closed_stderr_runs_unfiltered():
    code = "import sys; from siamese.quiet_import import stderr_filtered\nwith stderr_filtered(2): print('ran')"
    result = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$0" 2>&-', code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0
    assert result.stdout == "ran\n"


@pytest.mark.slow
def test_tensorflow_startup_lines_hidden():
    raw = run_python("import tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    if not any(marker in raw.stderr for marker in STARTUP_MARKERS):
        pytest.skip("this TensorFlow build prints no start-up lines to hide")

    filtered = run_python("import siamese.model", TF_CPP_MIN_LOG_LEVEL="2")
    unfiltered = run_python("import siamese.model", TF_CPP_MIN_LOG_LEVEL="0")

    assert filtered.returncode == 0, filtered.stderr
    assert not any(marker in filtered.stderr for marker in STARTUP_MARKERS), filtered.stderr
    assert any(marker in unfiltered.stderr for marker in STARTUP_MARKERS), unfiltered.stderr
