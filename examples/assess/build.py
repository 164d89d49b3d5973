"""Build the example assessment project: digits data, a small CNN and a random forest.

    python examples/assess/build.py            # writes examples/assess/build/
    bastion assess -c examples/assess/bastion.toml

Half of scikit-learn's digits (scaled to [0, 1]) is the training set — the records a membership
attack tries to recognise — and the other half is held out. The CNN's weights are a plain
``state_dict`` and the forest is saved with skops, the two formats ``bastion assess`` loads
without unpickling.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skops.io as sio
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from model import train_cnn  # noqa: E402


def build(out: Path, seed: int = 0) -> None:
    """Write ``data/train.npz``, ``data/test.npz``, ``models/cnn.pt``, ``models/forest.skops``."""
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[: len(x) // 2], order[len(x) // 2 :]
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(parents=True, exist_ok=True)
    np.savez(out / "data" / "train.npz", x=x[train], y=y[train])
    np.savez(out / "data" / "test.npz", x=x[test], y=y[test])
    cnn = train_cnn(x[train], y[train], seed=seed)
    torch.save(cnn.state_dict(), out / "models" / "cnn.pt")
    forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    forest.fit(x[train], y[train])
    sio.dump(forest, out / "models" / "forest.skops")
    with torch.inference_mode():
        cnn_acc = (
            cnn(torch.as_tensor(x[test]).reshape(-1, 1, 8, 8)).argmax(1).numpy() == y[test]
        ).mean()
    print(
        f"wrote {out}: cnn test accuracy {cnn_acc:.3f}, "
        f"forest test accuracy {forest.score(x[test], y[test]):.3f}"
    )


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build")
