"""Errors of the MLOps integrations: each names the target (URI, cache folder, payload) and the
problem, so a pipeline log says what to fix."""

from __future__ import annotations

from bastion.errors import BastionError


class IntegrationError(BastionError):
    """A model store, cache or pipeline target could not be resolved or read."""

    def __init__(self, target: str, problem: str) -> None:
        super().__init__(f"{target}: {problem}")
        self.target = target
        self.problem = problem


class WebhookError(IntegrationError):
    """A registry webhook payload is malformed, unsigned or signed with the wrong secret."""
