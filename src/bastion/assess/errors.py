"""Errors of ``bastion assess`` and ``bastion harden``: each names the file or target and problem.

They all derive from :class:`~bastion.errors.BastionError`, so the CLI prints them and exits 2.
Conditions an assessment can live with (an endpoint that rate-limits after part of the budget, a
model that is not differentiable) are *not* errors: they become fallbacks stated in the report.
"""

from __future__ import annotations

from bastion.errors import BastionError


class AssessError(BastionError):
    """Root of the assessment errors."""


class AssessConfigError(AssessError):
    """The ``[assess]`` table of the policy file is invalid (names the file and the key)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: [assess] {problem}")
        self.source = source
        self.problem = problem


class DataError(AssessError):
    """A dataset cannot be read or is unusable (NaNs, no labels, wrong shape); names the file."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class TargetError(AssessError):
    """A model cannot be loaded or does not accept the data; names the target and the file."""

    def __init__(self, target: str, problem: str) -> None:
        super().__init__(f"target {target!r}: {problem}")
        self.target = target
        self.problem = problem


class ShapeMismatchError(TargetError):
    """The model rejects inputs of the data's shape, or returns the wrong number of classes."""


class EndpointError(TargetError):
    """A remote prediction endpoint failed: unreachable, timed out, rate-limited, bad reply."""

    def __init__(self, target: str, problem: str, *, retryable: bool = False) -> None:
        super().__init__(target, problem)
        self.retryable = retryable


class QueryBudgetExceeded(AssessError):
    """A black-box target's query budget is spent; attacks stop and report what they measured."""

    def __init__(self, target: str, budget: int) -> None:
        super().__init__(f"target {target!r}: query budget of {budget} queries exhausted")
        self.target = target
        self.budget = budget


class HardenError(AssessError):
    """A hardening run (adversarial or differentially private training) cannot proceed."""
