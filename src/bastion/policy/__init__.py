"""Policy: the model loaded from configuration and the evaluation that yields a verdict."""

from bastion.policy.evaluate import Suppressed, Verdict, evaluate
from bastion.policy.model import PathOverride, Policy

__all__ = ["PathOverride", "Policy", "Suppressed", "Verdict", "evaluate"]
