"""Penultimate-layer representations for the backdoor screens.

When the target exposes one (a PyTorch module, an ONNX graph, a scikit-learn MLP), its own
representation of the training data is used: that is the network the data trained. Otherwise a
small network is trained on the data for the purpose — a two-layer convolutional net for images
and a two-hidden-layer perceptron for tabular data in PyTorch, or scikit-learn's MLPClassifier
when PyTorch is not installed — deterministically under the seed.
"""

from __future__ import annotations

import warnings

import numpy as np

from bastion.assess.device import torch_available
from bastion.assess.targets.interface import NDArray, Target


def _torch_network(
    x: NDArray, y: NDArray, n_classes: int, image: bool, epochs: int, seed: int
) -> NDArray:
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    shape = x.shape[1:]
    if image and len(shape) in (2, 3):
        channels = 1 if len(shape) == 2 else shape[0]
        h, w = shape[-2], shape[-1]
        body: nn.Module = nn.Sequential(
            nn.Unflatten(1, (channels, h, w)),
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((max(h // 2, 1), max(w // 2, 1))),
            nn.Flatten(),
            nn.LazyLinear(64),
            nn.ReLU(),
        )
    else:
        body = nn.Sequential(nn.LazyLinear(128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
    flat = torch.as_tensor(x.reshape(len(x), -1), dtype=torch.float32)
    labels = torch.as_tensor(y, dtype=torch.long)
    body(flat[:2])
    head = nn.Linear(64, n_classes)
    model = nn.Sequential(body, head)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = 64
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(flat), generator=generator)
        for start in range(0, len(flat), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(flat[idx]), labels[idx])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
    model.eval()
    with torch.inference_mode():
        return np.asarray(body(flat).numpy(), dtype=np.float64)


def _sklearn_network(x: NDArray, y: NDArray, epochs: int, seed: int) -> NDArray:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=epochs * 4, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x.reshape(len(x), -1), y)
    h = x.reshape(len(x), -1).astype(np.float64)
    for w, b in zip(model.coefs_[:-1], model.intercepts_[:-1], strict=True):
        h = np.maximum(h @ w + b, 0)
    return h


def representations(
    target: Target | None,
    x: NDArray,
    y: NDArray,
    n_classes: int,
    *,
    image: bool,
    epochs: int,
    seed: int,
) -> tuple[NDArray, str]:
    """``(n, d)`` penultimate features and where they came from."""
    if target is not None:
        feats = target.features(x)
        if feats is not None:
            return feats, f"penultimate layer of target {target.name!r}"
    if torch_available():
        return _torch_network(x, y, n_classes, image, epochs, seed), (
            f"penultimate layer of a network trained on the data ({epochs} epochs)"
        )
    return _sklearn_network(x, y, epochs, seed), "hidden layer of an MLP trained on the data"
