"""ONNX models written by real exporters: ``torch.onnx.export`` (TorchScript-based and dynamo
exporters, external data too) and ``skl2onnx`` (classifiers with ZipMap, pipelines, text).
"""

from __future__ import annotations

import warnings
from typing import Any

from tests.benign_real.base import Recorder


def _torch_models() -> dict[str, tuple[Any, tuple[Any, ...]]]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, 2), nn.Softmax(dim=-1),
    ).eval()  # fmt: skip
    rnn = nn.LSTM(4, 8, batch_first=True).eval()
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0), 1
    ).eval()
    return {
        "cnn": (cnn, (torch.randn(1, 3, 8, 8),)),
        "lstm": (rnn, (torch.randn(1, 5, 4),)),
        "transformer": (encoder, (torch.randn(1, 5, 8),)),
    }


def generate_torch(rec: Recorder) -> None:
    """torch.onnx.export with the legacy and the dynamo exporter."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (model, args) in _torch_models().items():
            out = rec.path(f"torch/{name}.legacy.onnx")
            torch.onnx.export(model, args, str(out), dynamo=False, opset_version=17)
            rec.add(f"torch/{name}.legacy.onnx", "torch.onnx", "onnx")
            out = rec.path(f"torch/{name}.dynamo.onnx")
            program = torch.onnx.export(model, args, dynamo=True, verbose=False)
            program.save(str(out))
            rec.add(f"torch/{name}.dynamo.onnx", "torch.onnx", "onnx")
        model, args = _torch_models()["cnn"]
        external = rec.path("torch/external/cnn.onnx")
        program = torch.onnx.export(model, args, dynamo=True, verbose=False)
        program.save(str(external), external_data=True)
        rec.add("torch/external", "torch.onnx", "onnx-external-data")


def _sklearn_models() -> dict[str, tuple[Any, Any]]:
    import numpy as np
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    return {
        "logreg": (LogisticRegression().fit(x, y), x),
        "forest": (RandomForestClassifier(n_estimators=3, max_depth=3).fit(x, y), x),
        "tree": (DecisionTreeClassifier(max_depth=3).fit(x, y), x),
        "gbr": (GradientBoostingRegressor(n_estimators=3).fit(x, x[:, 1]), x),
        "svc": (SVC(probability=True).fit(x, y), x),
        "knn": (KNeighborsClassifier(3).fit(x, y), x),
        "pipeline": (make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), x),
    }


def generate_sklearn(rec: Recorder) -> None:
    """skl2onnx conversions (ai.onnx.ml operators, ZipMap outputs)."""
    from skl2onnx import to_onnx

    for name, (model, x) in _sklearn_models().items():
        options = {"zipmap": False} if name == "svc" else None
        onx = to_onnx(model, x[:1], options=options, target_opset={"": 17, "ai.onnx.ml": 3})
        rec.path(f"sklearn/{name}.onnx").write_bytes(onx.SerializeToString())
        rec.add(f"sklearn/{name}.onnx", "skl2onnx", "onnx")


def generate(rec: Recorder) -> None:
    """Every ONNX artifact of this module."""
    generate_torch(rec)
    generate_sklearn(rec)
