"""Real Keras samples, built once per session in a subprocess (Keras never loads in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def keras_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of benign models saved by Keras 3 (``.keras``, ``.h5``, ``to_json``)."""
    pytest.importorskip("keras")
    out = tmp_path_factory.mktemp("keras_samples")
    builder = Path(__file__).with_name("samples_build.py")
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(builder), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out
