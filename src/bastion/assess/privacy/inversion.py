"""The model-inversion probe: reconstruct a representative of each class from the model alone.

Each reconstruction starts from the population mean and climbs the model's confidence in one
class: Adam on ``log p_c(x)`` with a small pull toward the mean for differentiable models
(Fredrikson et al., 2015), and a query-only random search otherwise (a Gaussian step on a random
quarter of the features, kept when ``p_c`` does not drop). The reconstruction is then compared
with the class means of the training data: the cosine similarity of the centred vectors to its
own class mean, and whether that class mean is the most similar of all (identification).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bastion.assess.errors import EndpointError, QueryBudgetExceeded
from bastion.assess.targets.interface import DifferentiableTarget, NDArray, Target

MAX_CLASSES = 20


@dataclass(frozen=True, eq=False)
class InversionResult:
    """Reconstructions and how much they resemble the training class means."""

    classes: tuple[int, ...]
    similarity: tuple[float, ...]
    identified: tuple[bool, ...]
    confidence: tuple[float, ...]
    reconstructions: NDArray
    class_means: NDArray
    method: str
    queries: int
    note: str = ""

    @property
    def mean_similarity(self) -> float:
        """Mean cosine similarity to the own class mean."""
        return float(np.mean(self.similarity)) if self.similarity else 0.0

    @property
    def identification_rate(self) -> float:
        """Fraction of classes whose reconstruction is closest to their own mean."""
        return float(np.mean(self.identified)) if self.identified else 0.0


def _cosine(a: NDArray, b: NDArray) -> NDArray:
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    return np.asarray((a / np.maximum(na, 1e-12)) @ (b / np.maximum(nb, 1e-12)).T)


def _gradient_inversion(
    target: DifferentiableTarget,
    start: NDArray,
    classes: NDArray,
    steps: int,
    bounds: tuple[float, float],
    prior: float = 1e-3,
) -> NDArray:
    import torch

    device = target.device
    x0 = torch.as_tensor(np.repeat(start[None], len(classes), axis=0), device=device)
    x = x0.clone().requires_grad_(True)
    labels = torch.as_tensor(classes, device=device)
    lr = 0.05 * (bounds[1] - bounds[0])
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        log_p = torch.log_softmax(target.logits(x), dim=1)[torch.arange(len(labels)), labels]
        loss = -log_p.sum() + prior * ((x - x0) ** 2).sum()
        (grad,) = torch.autograd.grad(loss, x)
        x.grad = grad
        optimizer.step()
        with torch.no_grad():
            x.clamp_(bounds[0], bounds[1])
    target.count(len(classes) * steps)
    return x.detach().cpu().numpy()


def _query_inversion(
    target: Target,
    start: NDArray,
    classes: NDArray,
    steps: int,
    bounds: tuple[float, float],
    rng: np.random.Generator,
    proposals: int = 8,
) -> NDArray:
    shape = start.shape
    d = int(np.prod(shape))
    m = len(classes)
    current = np.repeat(start.reshape(1, d), m, axis=0)
    score = target.predict_proba(current.reshape(m, *shape))[np.arange(m), classes]
    sigma = 0.1 * (bounds[1] - bounds[0])
    rows = np.repeat(np.arange(m), proposals)
    for _ in range(steps):
        cand = np.repeat(current, proposals, axis=0)
        mask = rng.random(cand.shape) < 0.25
        cand = np.clip(cand + mask * rng.normal(0, sigma, cand.shape), bounds[0], bounds[1])
        p = target.predict_proba(cand.reshape(len(cand), *shape))[
            np.arange(len(cand)), classes[rows]
        ]
        p = p.reshape(m, proposals)
        best = p.argmax(axis=1)
        better = p[np.arange(m), best] >= score
        chosen = cand.reshape(m, proposals, d)[np.arange(m), best]
        current[better] = chosen[better]
        score[better] = p[np.arange(m), best][better]
    return current.reshape(m, *shape)


def invert_classes(
    target: Target,
    x_train: NDArray,
    y_train: NDArray,
    *,
    steps: int,
    bounds: tuple[float, float],
    seed: int,
) -> InversionResult:
    """Reconstruct up to ``MAX_CLASSES`` classes and score the reconstructions."""
    rng = np.random.default_rng(seed)
    present = np.unique(y_train)
    classes = (
        present
        if len(present) <= MAX_CLASSES
        else np.sort(rng.choice(present, MAX_CLASSES, replace=False))
    )
    flat = x_train.reshape(len(x_train), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    means = np.stack([flat[y_train == c].mean(axis=0) for c in present])
    start = mean.reshape(x_train.shape[1:]).astype(np.float32)
    queries_before = target.queries
    note = ""
    try:
        if isinstance(target, DifferentiableTarget):
            recon = _gradient_inversion(target, start, classes, steps, bounds)
            method = "gradient ascent on log p(class | x)"
        else:
            recon = _query_inversion(target, start, classes, steps, bounds, rng)
            method = "query-only random search on p(class | x)"
    except (QueryBudgetExceeded, EndpointError) as exc:
        return InversionResult(
            (),
            (),
            (),
            (),
            np.zeros((0, *x_train.shape[1:])),
            means,
            "none",
            target.queries - queries_before,
            note=f"not run: {exc}",
        )
    proba = target.predict_proba(recon.astype(np.float32))
    sims = _cosine(recon.reshape(len(recon), -1) - mean, means - mean)
    index = {int(c): i for i, c in enumerate(present)}
    own = np.array([sims[i, index[int(c)]] for i, c in enumerate(classes)])
    identified = np.array([int(present[sims[i].argmax()]) == int(c) for i, c in enumerate(classes)])
    if len(present) > MAX_CLASSES:
        note = f"{MAX_CLASSES} of {len(present)} classes probed"
    return InversionResult(
        classes=tuple(int(c) for c in classes),
        similarity=tuple(float(s) for s in own),
        identified=tuple(bool(b) for b in identified),
        confidence=tuple(float(proba[i, c]) for i, c in enumerate(classes)),
        reconstructions=recon,
        class_means=means.reshape(len(present), *x_train.shape[1:]),
        method=method,
        queries=target.queries - queries_before,
        note=note,
    )
