"""Benign PyTorch files, written by ``torch.save`` the way training code writes them.

State dicts of several architectures (zip and legacy format), whole modules (including a
project-defined class, as ``torch.save(model)`` users do), optimizer and scheduler state, and
checkpoint dicts carrying ``argparse.Namespace``, NumPy scalars and ``pathlib`` paths.
"""

from __future__ import annotations

import argparse
import io
import pathlib
from typing import Any

from tests.corpus.sample import CorpusWriter


def _blocks() -> tuple[type[Any], type[Any]]:
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        """A torchvision-style residual block."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + x)

    class TinyResNet(nn.Module):
        """Stem, two residual blocks, pooled classifier."""

        def __init__(self, classes: int = 10) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.layer1 = nn.Sequential(BasicBlock(8), BasicBlock(8))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.flatten(self.pool(self.layer1(self.stem(x))), 1))

    # Pickle finds classes by module and qualified name; give them stable ones.
    for cls in (BasicBlock, TinyResNet):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        globals()[cls.__name__] = cls
    return BasicBlock, TinyResNet


def _architectures() -> dict[str, Any]:
    from torch import nn

    _, tiny_resnet = _blocks()
    return {
        "mlp": nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 4)),
        "cnn": nn.Sequential(
            nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
        ),
        "lstm": nn.LSTM(8, 16, num_layers=2, batch_first=True),
        "transformer": nn.TransformerEncoderLayer(
            d_model=16, nhead=2, dim_feedforward=32, batch_first=True
        ),
        "gru_embedding": nn.ModuleDict({"embed": nn.Embedding(50, 8), "gru": nn.GRU(8, 8)}),
        "resnet": tiny_resnet(),
    }


def _save(obj: object, *, legacy: bool = False) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def _tensor_zoo() -> dict[str, Any]:
    import torch

    return {
        "f16": torch.ones(4, dtype=torch.float16),
        "bf16": torch.zeros(4, dtype=torch.bfloat16),
        "i8": torch.arange(8, dtype=torch.int8),
        "mask": torch.tensor([True, False]),
        "complex": torch.ones(2, dtype=torch.complex64),
        "sparse": torch.sparse_coo_tensor(
            [[0, 1], [1, 0]], [1.0, 2.0], (2, 2), check_invariants=True
        ),
        "shared_view": torch.arange(10.0)[2:6],
        "nested": [torch.eye(2), (torch.ones(1), {"k": torch.zeros(1)})],
    }


def generate(w: CorpusWriter) -> None:
    """Write the benign PyTorch samples under ``torch/benign/``."""
    if not w.wants("torch"):
        return
    import numpy as np
    import torch

    torch.manual_seed(0)

    def add(name: str, data: bytes, technique: str) -> None:
        w.add(f"torch/benign/{name}", data, label="benign", family="torch", technique=technique)

    models = _architectures()
    for key, model in models.items():
        add(f"{key}_state_dict.pt", _save(model.state_dict()), f"{key} state_dict (zip)")
    for key in ("mlp", "cnn", "lstm"):
        state = models[key].state_dict()
        add(f"{key}_state_dict_legacy.pt", _save(state, legacy=True), f"{key} state_dict (legacy)")
    add("mlp_module.pt", _save(models["mlp"]), "whole nn.Sequential module")
    encoder = torch.nn.TransformerEncoder(models["transformer"], num_layers=2)
    add("transformer_module.pth", _save(encoder), "whole nn.TransformerEncoder module")
    add("resnet_module.pt", _save(models["resnet"]), "whole module of a project-defined class")
    add("tensor_zoo.pt", _save(_tensor_zoo()), "tensors of many dtypes, sparse, views, nesting")

    model = models["mlp"]
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 16)).sum().backward()
    adam.step()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    add("adam_state.pt", _save(adam.state_dict()), "Adam optimizer state")
    add("sgd_state.pt", _save(sgd.state_dict()), "SGD optimizer state with momentum")
    schedulers = {
        "steplr": torch.optim.lr_scheduler.StepLR(sgd, step_size=10),
        "onecycle": torch.optim.lr_scheduler.OneCycleLR(adam, max_lr=0.01, total_steps=100),
    }
    for key, scheduler in schedulers.items():
        add(f"{key}_scheduler.pt", _save(scheduler.state_dict()), f"{key} scheduler state")

    checkpoint = {
        "epoch": 12,
        "model": model.state_dict(),
        "optimizer": adam.state_dict(),
        "args": argparse.Namespace(lr=1e-3, batch_size=32, arch="mlp", amp=True),
        "best_acc": np.float64(0.931),
        "step": np.int64(4800),
        "output_dir": pathlib.PurePosixPath("/runs/exp1"),
        "local_path": pathlib.Path("checkpoints/last.pt"),
    }
    add("checkpoint.pt", _save(checkpoint), "checkpoint dict with Namespace, numpy scalars, paths")
    add("checkpoint_legacy.tar", _save(checkpoint, legacy=True), "legacy checkpoint dict")
