"""White-box evasion attacks in PyTorch: FGSM, PGD (L-inf and L2, random starts), APGD-CE.

All attacks are untargeted, batched and run on the target's device; gradients are taken with
respect to the input only (parameters are frozen), inside optional bf16 autocast. Each returns
the adversarial batch and whether each sample was misclassified at *some* point of the attack
(for APGD and for restarts, the best point found is kept, as AutoAttack does).

``apgd`` follows Croce & Hein (2020), "Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks": step size 2·ε halved at checkpoints
``p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)`` when fewer than ρ = 0.75 of the steps since
the last checkpoint increased the loss or when neither the step size nor the best loss changed;
momentum α = 0.75; restart from the best point after halving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bastion.assess.device import autocast

if TYPE_CHECKING:
    import torch

    from bastion.assess.targets.interface import DifferentiableTarget

Norm = Literal["linf", "l2"]


@dataclass(frozen=True)
class WhiteBoxParams:
    """Budget and schedule of one white-box attack."""

    epsilon: float
    norm: Norm = "linf"
    steps: int = 10
    step_size: float | None = None
    restarts: int = 1
    random_start: bool = True
    bounds: tuple[float, float] = (0.0, 1.0)
    precision: Literal["fp32", "bf16"] = "fp32"

    @property
    def alpha(self) -> float:
        """The PGD step size: the configured one, else 2.5·ε / steps (Madry et al.)."""
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    norms: torch.Tensor = t.flatten(1).norm(dim=1).clamp_min(1e-12)
    return norms.view(-1, *([1] * (t.dim() - 1)))


def project(
    x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: Norm, bounds: tuple[float, float]
) -> torch.Tensor:
    """Project onto the ε-ball around ``x`` and the valid input box."""
    import torch

    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * torch.clamp(eps / _flat_norm(delta), max=1.0)
    return (x + delta).clamp(bounds[0], bounds[1])


def random_start(
    x: torch.Tensor, eps: float, norm: Norm, generator: torch.Generator
) -> torch.Tensor:
    """A uniform point of the L-inf ball, or a uniform point of the L2 ball."""
    import torch

    if norm == "linf":
        noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + (2 * noise - 1) * eps
    direction = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    direction = direction / _flat_norm(direction)
    dims = x[0].numel()
    radius = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype) ** (1 / dims)
    return x + direction * (eps * radius).view(-1, *([1] * (x.dim() - 1)))


def _step_direction(grad: torch.Tensor, norm: Norm) -> torch.Tensor:
    return grad.sign() if norm == "linf" else grad / _flat_norm(grad)


def _loss_and_grad(
    target: DifferentiableTarget, x_adv: torch.Tensor, y: torch.Tensor, precision: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample cross-entropy, its input gradient, and the logits."""
    import torch
    import torch.nn.functional as F

    x_adv = x_adv.detach().requires_grad_(True)
    with autocast(target.device, precision):  # type: ignore[arg-type]
        logits = target.logits(x_adv)
    losses = F.cross_entropy(logits.float(), y, reduction="none")
    (grad,) = torch.autograd.grad(losses.sum(), x_adv)
    return losses.detach(), grad.detach(), logits.detach()


def fgsm(
    target: DifferentiableTarget, x: torch.Tensor, y: torch.Tensor, params: WhiteBoxParams
) -> tuple[torch.Tensor, int]:
    """One signed-gradient step of size ε (L2: one normalised step of length ε)."""
    _, grad, _ = _loss_and_grad(target, x, y, params.precision)
    target.count(len(x))
    x_adv = x + params.epsilon * _step_direction(grad, params.norm)
    return project(x_adv, x, params.epsilon, params.norm, params.bounds).detach(), 1


def pgd(
    target: DifferentiableTarget,
    x: torch.Tensor,
    y: torch.Tensor,
    params: WhiteBoxParams,
    generator: torch.Generator,
) -> tuple[torch.Tensor, int]:
    """Projected gradient descent; with restarts, a sample keeps the first run that fools it."""
    import torch

    eps, alpha = params.epsilon, params.alpha
    if params.restarts == 1:
        # NOTE: one run needs no bookkeeping: the caller measures the final point anyway, and
        # skipping the extra forward pass keeps this loop at the speed of a bare PGD loop.
        x_adv = x
        if params.random_start:
            x_adv = project(
                random_start(x, eps, params.norm, generator), x, eps, params.norm, params.bounds
            )
        for _ in range(params.steps):
            _, grad, _ = _loss_and_grad(target, x_adv, y, params.precision)
            x_adv = project(
                x_adv + alpha * _step_direction(grad, params.norm),
                x,
                eps,
                params.norm,
                params.bounds,
            ).detach()
        target.count(len(x) * params.steps)
        return x_adv, params.steps
    best = x.clone()
    fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(params.restarts):
        x_adv = x.clone()
        if params.random_start:
            x_adv = project(
                random_start(x, eps, params.norm, generator), x, eps, params.norm, params.bounds
            )
        for _ in range(params.steps):
            _, grad, _ = _loss_and_grad(target, x_adv, y, params.precision)
            x_adv = x_adv + alpha * _step_direction(grad, params.norm)
            x_adv = project(x_adv, x, eps, params.norm, params.bounds).detach()
        target.count(len(x) * params.steps)
        with torch.inference_mode():
            wrong = target.logits(x_adv).argmax(dim=1) != y
        take = wrong & ~fooled
        best[take] = x_adv[take]
        best[~fooled & ~wrong] = x_adv[~fooled & ~wrong]
        fooled |= wrong
        if bool(fooled.all()):
            break
    return best, params.steps * params.restarts


def apgd_checkpoints(steps: int) -> list[int]:
    """Iterations after which APGD reconsiders its step size.

    The first window is ``0.22·N`` iterations and each next one is ``0.03·N`` shorter, down to
    ``0.06·N`` (each at least one iteration, fractions truncated as in the AutoAttack code, which
    for N = 100 gives the paper's checkpoints 22, 41, 57, 70, 80, 87, 93, 99).
    """
    window = max(int(0.22 * steps), 1)
    shrink = max(int(0.03 * steps), 1)
    smallest = max(int(0.06 * steps), 1)
    points, at = [], 0
    while at + window <= steps:
        at += window
        points.append(at)
        window = max(window - shrink, smallest)
    return points


def apgd(
    target: DifferentiableTarget,
    x: torch.Tensor,
    y: torch.Tensor,
    params: WhiteBoxParams,
    generator: torch.Generator,
    *,
    rho: float = 0.75,
    momentum: float = 0.75,
) -> tuple[torch.Tensor, int]:
    """APGD with the cross-entropy loss; returns the best adversarial point per sample."""
    import torch

    eps, norm, n, steps = params.epsilon, params.norm, len(x), params.steps
    view = (-1, *([1] * (x.dim() - 1)))
    best_adv = x.clone()
    fooled = torch.zeros(n, dtype=torch.bool, device=x.device)
    checkpoints = apgd_checkpoints(steps)
    for _ in range(params.restarts):
        x_adv = project(random_start(x, eps, norm, generator), x, eps, norm, params.bounds)
        loss, grad, logits = _loss_and_grad(target, x_adv, y, params.precision)
        wrong = logits.argmax(1) != y
        best_adv[wrong & ~fooled] = x_adv[wrong & ~fooled]
        fooled |= wrong
        step = torch.full((n,), 2 * eps, device=x.device).view(view)
        x_best, loss_best, grad_best = x_adv.clone(), loss.clone(), grad.clone()
        x_prev = x_adv.clone()
        increases = torch.zeros(n, device=x.device)
        loss_best_at_check = loss_best.clone()
        step_reduced = torch.zeros(n, dtype=torch.bool, device=x.device)
        last_check = 0
        for k in range(steps):
            z = project(x_adv + step * _step_direction(grad, norm), x, eps, norm, params.bounds)
            if k == 0:
                x_new = z
            else:
                x_new = x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_prev)
                x_new = project(x_new, x, eps, norm, params.bounds)
            x_prev = x_adv
            x_adv = x_new.detach()
            new_loss, grad, logits = _loss_and_grad(target, x_adv, y, params.precision)
            wrong = logits.argmax(1) != y
            best_adv[wrong & ~fooled] = x_adv[wrong & ~fooled]
            fooled |= wrong
            increases += (new_loss > loss).float()
            loss = new_loss
            improved = loss > loss_best
            x_best[improved], grad_best[improved] = x_adv[improved], grad[improved]
            loss_best = torch.where(improved, loss, loss_best)
            if k + 1 in checkpoints:
                span = k + 1 - last_check
                cond1 = increases <= rho * span
                cond2 = ~step_reduced & (loss_best_at_check >= loss_best)
                reduce = cond1 | cond2
                step = torch.where(reduce.view(view), step / 2, step)
                x_adv[reduce], grad[reduce] = x_best[reduce], grad_best[reduce]
                loss = torch.where(reduce, loss_best, loss)
                step_reduced = reduce
                loss_best_at_check = loss_best.clone()
                increases.zero_()
                last_check = k + 1
        target.count(n * (steps + 1))
        best_adv[~fooled] = x_best[~fooled]
        if bool(fooled.all()):
            break
    return best_adv.detach(), (steps + 1) * params.restarts
