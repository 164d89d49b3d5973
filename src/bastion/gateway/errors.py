"""Gateway errors: each explains itself and names the file, model or store involved."""

from __future__ import annotations

from bastion.errors import BastionError


class GatewayError(BastionError):
    """Root of the gateway's errors."""


class ModelLoadError(GatewayError):
    """A model could not be verified or loaded; ``reasons`` says every check that failed."""

    def __init__(self, model: str, reasons: tuple[str, ...]) -> None:
        super().__init__(f"model {model!r} refused: " + "; ".join(reasons))
        self.model = model
        self.reasons = reasons


class AuditError(GatewayError):
    """The audit log could not be written or read (the gateway then fails closed)."""


class AuditLockedError(AuditError):
    """Another process already writes this audit log (one writer per log id)."""


class ApiKeyError(GatewayError):
    """An API key operation failed (unknown key id, bad role)."""
