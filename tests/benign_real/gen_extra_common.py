"""Helpers shared by the extra benign generators (pickle and torch.save writers, toy data)."""

from __future__ import annotations

import io
import pickle
from typing import Any

from tests.benign_real.base import Recorder


def _pickle(rec: Recorder, rel: str, obj: object, library: str, protocol: int = 4) -> None:
    rec.path(rel).write_bytes(pickle.dumps(obj, protocol=protocol))
    rec.add(rel, library, f"pickle-p{protocol}")


def _torch_save(rec: Recorder, rel: str, obj: object, fmt: str, **kwargs: Any) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    rec.path(rel).write_bytes(buffer.getvalue())
    rec.add(rel, "torch", fmt)


def _xy() -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(5)
    x = np.abs(rng.standard_normal((80, 4))) + 0.1
    y = (x[:, 0] > x[:, 1]).astype(int)
    return x, y, x[:, 0] * 2 + x[:, 3]
