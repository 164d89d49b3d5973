"""PGD throughput of bastion vs ART vs torchattacks vs a plain batched torch loop; black-box
query efficiency of bastion's Square and RayS vs ART's HopSkipJump.

Part 1 runs PGD (L-inf, random start) on the same model, inputs, ε, steps and batch size with
each implementation and prints images per second and the ratio to ART, in fp32 and (bastion and
the plain loop) in bf16 autocast. The plain loop is the practical ceiling without compilation:
forward, ``autograd.grad`` on the input, signed step, projection — nothing else. On a CPU the
model is the digits CNN; on a GPU, ``--model resnet18`` is a CIFAR-shaped ResNet-18.

Part 2 attacks a random forest on digits (L-inf ε = 0.3) with ART's HopSkipJump at several
iteration budgets and with bastion's Square (scores) and RayS (labels only) and prints success
rate within ε and queries per sample, including RayS capped at one fifth of HopSkipJump's
queries.

Usage::

    .venv/bin/python bench/assess_speed.py [--images 4096] [--batch 512] [--device cpu]
        [--threads 1] [--model digits|resnet18] [--skip-blackbox]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from bastion.assess.robustness.whitebox import WhiteBoxParams, pgd  # noqa: E402
from bastion.assess.targets.torch_target import TorchTarget  # noqa: E402


def digits_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """The digits CNN, trained for a few epochs, and the digits as a 1x8x8 pool."""
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(REPO / "examples" / "assess"))
    from model import train_cnn

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    model = train_cnn(x, y, seed=0, epochs=5)
    return model, torch.as_tensor(x.reshape(-1, 1, 8, 8)), torch.as_tensor(y), (1, 8, 8)


def resnet18() -> tuple[nn.Module, torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """A CIFAR-shaped ResNet-18 with random weights (throughput does not depend on them)."""

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.skip: nn.Module = nn.Identity()
            if stride != 1 or cin != cout:
                self.skip = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(out)) + self.skip(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    model = nn.Sequential(*layers).eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2048, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (2048,), generator=generator)
    return model, x, y, (3, 32, 32)


def plain_pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    alpha: float,
    steps: int,
    bf16: bool,
) -> torch.Tensor:
    """The ceiling: nothing but the PGD arithmetic."""
    x_adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x_adv)
        loss = nn.functional.cross_entropy(logits.float(), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * grad.sign(), x - eps), x + eps)
        x_adv = x_adv.clamp(0, 1)
    return x_adv


def timed(
    run: Callable[[torch.Tensor, torch.Tensor], Any],
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int,
    device: torch.device,
) -> float:
    """Images per second of ``run`` over ``x`` in batches (one warm-up batch first)."""
    run(x[:batch].to(device), y[:batch].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(x), batch):
        run(x[i : i + batch].to(device), y[i : i + batch].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(x) / (time.perf_counter() - start)


def throughput(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    model, pool, labels, shape = digits_cnn() if args.model == "digits" else resnet18()
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    reps = int(np.ceil(args.images / len(pool)))
    x = pool.repeat(reps, *([1] * (pool.dim() - 1)))[: args.images]
    y = labels.repeat(reps)[: args.images]
    eps = 0.1 if args.model == "digits" else 8 / 255
    steps, alpha = 10, 2.5 * (0.1 if args.model == "digits" else 8 / 255) / 10
    print(
        f"PGD-{steps}, L-inf ε={eps:.4g}, {args.images} images of {list(shape)} in batches of "
        f"{args.batch}, {args.model} on {device} ({torch.get_num_threads()} thread(s))"
    )
    target = TorchTarget("m", model, 10, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    runs: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]] = {}

    def bastion(precision: str) -> Callable[[torch.Tensor, torch.Tensor], Any]:
        params = WhiteBoxParams(eps, steps=steps, step_size=alpha, precision=precision)  # type: ignore[arg-type]
        return lambda xb, yb: pgd(target, xb, yb, params, generator)

    runs["bastion fp32"] = bastion("fp32")
    runs["plain loop fp32"] = lambda xb, yb: plain_pgd(model, xb, yb, eps, alpha, steps, False)
    try:
        import torchattacks

        runs["torchattacks fp32"] = torchattacks.PGD(
            model, eps=eps, alpha=alpha, steps=steps, random_start=True
        )
    except ImportError:
        print("  torchattacks not installed (pip install --no-deps torchattacks)")
    try:
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        clf = PyTorchClassifier(
            model,
            loss=nn.CrossEntropyLoss(),
            input_shape=shape,
            nb_classes=10,
            clip_values=(0.0, 1.0),
            device_type="gpu" if device.type == "cuda" else "cpu",
        )
        art_pgd = ProjectedGradientDescent(
            clf,
            norm=np.inf,
            eps=eps,
            eps_step=alpha,
            max_iter=steps,
            num_random_init=1,
            batch_size=args.batch,
            verbose=False,
        )
        runs["ART fp32"] = lambda xb, yb: art_pgd.generate(xb.cpu().numpy(), y=yb.cpu().numpy())
    except ImportError:
        print("  ART not installed (pip install adversarial-robustness-toolbox)")
    runs["bastion bf16"] = bastion("bf16")
    runs["plain loop bf16"] = lambda xb, yb: plain_pgd(model, xb, yb, eps, alpha, steps, True)
    # Round-robin repeats, best rate kept: a shared machine's load hits everyone alike.
    rates = dict.fromkeys(runs, 0.0)
    for round_ in range(args.repeat):
        for name, run in runs.items():
            rates[name] = max(rates[name], timed(run, x, y, args.batch, device))
        print(
            f"  round {round_ + 1}/{args.repeat}: "
            + ", ".join(f"{k} {v:.0f}/s" for k, v in rates.items()),
            flush=True,
        )
    base = rates.get("ART fp32")
    plain = rates["plain loop fp32"]
    print(f"\n{'implementation':22s} {'images/s':>10s} {'× ART':>8s} {'× plain fp32':>13s}")
    for name, rate in rates.items():
        vs_art = f"{rate / base:8.2f}" if base else "       –"
        print(f"{name:22s} {rate:10.0f} {vs_art} {rate / plain:13.2f}")


def blackbox(args: argparse.Namespace) -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    from bastion.assess.robustness.blackbox import rays_attack, square_attack
    from bastion.assess.targets.sklearn_target import SklearnTarget

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[: len(x) // 2], order[len(x) // 2 :]
    forest = RandomForestClassifier(100, random_state=0, n_jobs=1).fit(x[tr], y[tr])
    pick = te[: args.blackbox_samples]
    keep = forest.predict(x[pick]) == y[pick]
    xs, ys = x[pick][keep], y[pick][keep]
    eps = 0.3
    print(
        f"\nRandom forest on digits (test accuracy {forest.score(x[te], y[te]):.3f}), "
        f"{len(xs)} correctly classified samples, L-inf ε={eps}"
    )
    rows: list[tuple[str, float, float]] = []
    target = SklearnTarget("rf", forest, 10)
    result = square_attack(
        target,
        xs.reshape(-1, 1, 8, 8),
        ys,
        eps,
        bounds=(0.0, 1.0),
        image=True,
        max_queries=1000,
        rng=np.random.default_rng(0),
    )
    rows.append(
        ("bastion Square (scores)", float(result.fooled.mean()), float(result.queries.mean()))
    )
    result = rays_attack(
        target, xs, ys, eps, bounds=(0.0, 1.0), max_queries=1000, rng=np.random.default_rng(0)
    )
    rows.append(
        (
            "bastion RayS (labels), ≤1000 q",
            float(result.fooled.mean()),
            float(result.queries.mean()),
        )
    )
    try:
        from art.attacks.evasion import HopSkipJump
        from art.estimators.classification import SklearnClassifier
    except ImportError:
        print("  ART not installed: HopSkipJump skipped")
    else:
        for iterations in (5, 10, 20):
            clf = SklearnClassifier(forest, clip_values=(0.0, 1.0))
            counter = {"rows": 0}
            original = clf.predict

            def counted(
                batch: np.ndarray, _o: Any = original, _c: dict[str, int] = counter, **kw: Any
            ) -> np.ndarray:
                _c["rows"] += len(batch)
                return _o(batch, **kw)

            clf.predict = counted  # type: ignore[method-assign]
            attack = HopSkipJump(
                clf, norm=np.inf, max_iter=iterations, max_eval=1000, init_eval=100, verbose=False
            )
            np.random.seed(0)
            adv = attack.generate(xs)
            success = float(
                ((forest.predict(adv) != ys) & (np.abs(adv - xs).max(axis=1) <= eps + 1e-6)).mean()
            )
            queries = counter["rows"] / len(xs)
            rows.append((f"ART HopSkipJump, {iterations} iterations", success, queries))
            capped = rays_attack(
                target,
                xs,
                ys,
                eps,
                bounds=(0.0, 1.0),
                max_queries=int(queries / 5),
                rng=np.random.default_rng(0),
            )
            rows.append(
                (
                    f"  bastion RayS capped at {int(queries / 5)} q",
                    float(capped.fooled.mean()),
                    float(capped.queries.mean()),
                )
            )
    print(f"{'attack':40s} {'success@ε':>10s} {'queries/sample':>15s}")
    for name, success, queries in rows:
        print(f"{name:40s} {100 * success:9.1f}% {queries:15.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", choices=("digits", "resnet18"), default="digits")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept")
    parser.add_argument("--skip-blackbox", action="store_true")
    parser.add_argument("--blackbox-samples", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    throughput(args)
    if not args.skip_blackbox:
        blackbox(args)


if __name__ == "__main__":
    main()
