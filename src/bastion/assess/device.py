"""Device choice, seeding and mixed precision for the PyTorch parts of an assessment.

``auto`` picks CUDA when a GPU is visible and the CPU otherwise. ``bf16`` autocast is offered for
crafting adversarial examples (the forward and backward passes of the attack loop); accuracy is
always *measured* in full precision, so the reported numbers do not depend on it. ``auto``
precision means bf16 on a CUDA device that supports it and fp32 elsewhere (bf16 on CPUs without
AMX is slower than fp32).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np

from bastion.errors import MissingDependencyError

if TYPE_CHECKING:
    import torch


def require_torch(purpose: str) -> None:
    """Raise a clear error naming the extra when PyTorch is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingDependencyError("torch", "torch", purpose) from None


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def pick_device(choice: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """The device for a setting; ``cuda`` without a GPU is an error, ``auto`` falls back."""
    import torch

    from bastion.assess.errors import AssessError

    if choice == "cuda" and not torch.cuda.is_available():
        raise AssessError("device = 'cuda' was requested but no CUDA device is visible")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def resolve_precision(
    choice: Literal["auto", "fp32", "bf16"], device: torch.device
) -> Literal["fp32", "bf16"]:
    """``auto`` → bf16 on a bf16-capable GPU, fp32 otherwise."""
    if choice != "auto":
        return choice
    import torch

    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


@contextlib.contextmanager
def autocast(device: torch.device, precision: Literal["fp32", "bf16"]) -> Iterator[None]:
    """bf16 autocast on ``device`` when asked for, a no-op for fp32."""
    if precision == "fp32":
        yield
        return
    import torch

    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Limit PyTorch intra-op threads and BLAS/OpenMP pools to ``count`` for a block.

    The models an assessment runs are small; on a shared CI runner, threads that spin-wait for
    busy cores make a step many times slower than one thread does (measured here: a digits CNN
    training step took 16 ms on one thread and 311 ms on two under load). ``None`` leaves the
    libraries' defaults alone.
    """
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    previous = None
    if torch_available():
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(count)
        # NOTE: denormal floats (tiny Adam moments, vanishing activations) are ~100x slower on
        # x86; flushing them to zero changes no reported figure and made a training step 3.5x
        # faster in measurement here.
        torch.set_flush_denormal(True)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        if previous is not None:
            import torch

            torch.set_num_threads(previous)
            torch.set_flush_denormal(False)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (when installed) PyTorch; return a NumPy generator."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if torch_available():
        import torch

        torch.manual_seed(seed)
    return np.random.default_rng(seed)
