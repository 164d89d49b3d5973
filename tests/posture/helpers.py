"""Building small ML projects for posture tests: a safe model, a malicious one, lockfiles.

Malicious models are pickles whose only effect, were they ever loaded, is to create a marker
file (see ``tests/conftest.py``); the tests assert the marker never appears.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

from typer.testing import CliRunner

from bastion.cli.app import app
from tests.conftest import inert_command
from tests.corpus.payloads import SystemCall

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str]:
    """Run the CLI; never a traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def safetensors_bytes(values: int = 2, fill: bytes = b"\0") -> bytes:
    """A valid safetensors file with one F32 tensor."""
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [values], "data_offsets": [0, 4 * values]}}
    ).encode()
    return struct.pack("<Q", len(header)) + header + fill * (4 * values)


def malicious_pickle(marker_dir: Path) -> bytes:
    """A pickle that would run ``touch <marker>`` if loaded (it never is)."""
    return pickle.dumps(SystemCall(inert_command(marker_dir)), protocol=4)


def make_project(root: Path, *, requirements: str = "numpy==1.26.4\nscikit-learn==1.5.0\n") -> Path:
    """A project: policy, requirements, a safetensors model and a training script."""
    (root / "models").mkdir(parents=True)
    (root / ".git").mkdir()  # stops the policy search here
    (root / "bastion.toml").write_text('fail_on = "high"\n')
    (root / "requirements.txt").write_text(requirements)
    (root / "models" / "classifier.safetensors").write_bytes(safetensors_bytes())
    (root / "train.py").write_text("import numpy as np\n\nprint(np.zeros(3))\n")
    return root
