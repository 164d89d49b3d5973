"""Build the example projects' model files: clean ones, and one that carries a harmless payload.

Nothing malicious is committed as a binary: this script writes it. The payload is inert — were
the checkpoint ever loaded with ``torch.load(weights_only=False)``, it would only create the file
``bastion-demo-marker`` in the system temp directory. bastion never loads it; it reads the bytes.

    python examples/build_models.py            # both example projects' models/ directories
    python examples/build_models.py DIR        # the vulnerable set into DIR
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import tempfile
import zipfile
from pathlib import Path


def _classifier(dest: Path) -> None:
    """A real scikit-learn pipeline trained on the iris data, saved with joblib: clean."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    joblib.dump(model, dest / "classifier.joblib")


def _embeddings(dest: Path) -> None:
    """A safetensors file of float32 embeddings, written by the format's rules: clean."""
    rows, cols = 16, 8
    data = struct.pack(f"<{rows * cols}f", *(float(i % 7) for i in range(rows * cols)))
    header = {
        "__metadata__": {"format": "pt", "source": "bastion example"},
        "embeddings": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [0, len(data)]},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    (dest / "embeddings.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _payload_pickle(marker: str) -> bytes:
    """Protocol-2 pickle of ``os.system("touch <marker>")``, as a hostile checkpoint holds it."""
    command = f"touch {marker}".encode()
    return (
        b"\x80\x02cos\nsystem\nq\x00X"
        + struct.pack("<I", len(command))
        + command
        + b"q\x01\x85q\x02Rq\x03."
    )


def _checkpoint(dest: Path) -> None:
    """A PyTorch-format checkpoint (zip with ``data.pkl``) whose pickle runs a command."""
    marker = os.path.join(tempfile.gettempdir(), "bastion-demo-marker")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("checkpoint/data.pkl", _payload_pickle(marker))
        archive.writestr("checkpoint/byteorder", "little")
        archive.writestr("checkpoint/version", "3\n")
    (dest / "checkpoint.pt").write_bytes(buffer.getvalue())


def build(dest: Path, *, malicious: bool) -> list[str]:
    """Write the models of one project into ``dest``; returns the file names."""
    dest.mkdir(parents=True, exist_ok=True)
    _classifier(dest)
    _embeddings(dest)
    if malicious:
        _checkpoint(dest)
    return sorted(p.name for p in dest.iterdir())


def main(argv: list[str]) -> int:
    """Write the vulnerable project's models (and the fixed project's, by default)."""
    here = Path(__file__).parent
    if len(argv) > 1:
        targets = [(Path(argv[1]), True)]
    else:
        targets = [
            (here / "vulnerable-project" / "models", True),
            (here / "fixed-project" / "models", False),
        ]
    for dest, malicious in targets:
        print(f"wrote {', '.join(build(dest, malicious=malicious))} to {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
