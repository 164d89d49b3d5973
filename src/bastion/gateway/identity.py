"""Who is calling: the identity that authentication establishes, and why it may fail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class CredentialKind(str, Enum):
    """How the identity was established."""

    API_KEY = "api_key"
    JWT = "jwt"


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: a stable id, its roles and the models its credential allows."""

    id: str
    name: str
    kind: CredentialKind
    roles: tuple[str, ...]
    models: tuple[str, ...] = ("*",)
    issuer: str | None = None
    expires_at: float | None = None


class AuthFailure(str, Enum):
    """Why authentication failed (the audit reason and the rule)."""

    MISSING = "missing-credential"
    MALFORMED = "malformed-credential"
    UNKNOWN_KEY = "unknown-key"
    BAD_SECRET = "bad-secret"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    BAD_SIGNATURE = "bad-signature"
    BAD_ALGORITHM = "disallowed-algorithm"
    UNKNOWN_ISSUER = "unknown-issuer"
    BAD_CLAIMS = "invalid-claims"
    UNKNOWN_KID = "unknown-signing-key"

    @property
    def stale(self) -> bool:
        """A credential that was once valid (expired, revoked, suspended)."""
        return self in (AuthFailure.EXPIRED, AuthFailure.REVOKED, AuthFailure.SUSPENDED)


class AuthError(Exception):
    """Raised by authenticators; carries the failure kind and a safe detail for the audit."""

    def __init__(self, failure: AuthFailure, detail: str = "", subject: str | None = None) -> None:
        super().__init__(f"{failure.value}: {detail}" if detail else failure.value)
        self.failure = failure
        self.detail = detail
        self.subject = subject
