"""API keys: 256-bit random secrets, shown once, stored as SHA-256, looked up by key id.

Format: ``bst_<key id>_<secret>`` (key id 16 hex characters, secret 43 URL-safe base64
characters). The prefix ``bst_<key id>`` identifies a key in logs and listings; only
``SHA-256(secret)`` is stored. NOTE: a fast hash is the right tool for a 256-bit random secret:
offline guessing is infeasible whatever the hash, and a slow KDF (argon2) would add tens of
milliseconds to every request for no gain; argon2 is for low-entropy passwords
(``bench/gateway_latency.py`` measures both).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from bastion.gateway.identity import AuthError, AuthFailure, CredentialKind, Identity
from bastion.gateway.store import GatewayStore, KeyRecord

PREFIX = "bst_"
_KEY = re.compile(r"^bst_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the only time the full secret exists."""

    record: KeyRecord
    token: str

    @property
    def display(self) -> str:
        """``bst_<key id>`` (safe to log)."""
        return f"{PREFIX}{self.record.key_id}"


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """``(key id, secret)`` of a well-formed key, or ``None``."""
    match = _KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def looks_like_key(token: str) -> bool:
    """Whether a bearer token is meant as an API key (not a JWT)."""
    return token.startswith(PREFIX)


def new_key(
    name: str,
    roles: tuple[str, ...],
    *,
    models: tuple[str, ...] = ("*",),
    expires_in: float | None = None,
    created_by: str = "",
    now: float | None = None,
) -> NewKey:
    """Generate a key; store ``result.record`` and show ``result.token`` once."""
    now = time.time() if now is None else now
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = KeyRecord(
        key_id=key_id,
        name=name,
        secret_hash=hash_secret(secret),
        roles=roles,
        models=models,
        created_at=now,
        expires_at=None if expires_in is None else now + expires_in,
        revoked_at=None,
        created_by=created_by,
    )
    return NewKey(record, f"{PREFIX}{key_id}_{secret}")


class KeyAuthenticator:
    """Checks API keys against the store, with a short cache (invalidated on local changes)."""

    def __init__(self, store: GatewayStore, cache_seconds: float = 2.0) -> None:
        self._store = store
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, KeyRecord | None]] = {}

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget cached records (all, or one key)."""
        if key_id is None:
            self._cache.clear()
        else:
            self._cache.pop(key_id, None)

    def lookup(self, key_id: str) -> KeyRecord | None:
        """The stored record of a key id, cached for ``cache_seconds``."""
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        record = self._store.get_key(key_id)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key_id] = (now, record)
        return record

    def cached(self, key_id: str) -> bool:
        """Whether a lookup would be answered from the cache."""
        hit = self._cache.get(key_id)
        return hit is not None and time.monotonic() - hit[0] < self._ttl

    def authenticate(self, token: str, record: KeyRecord | None, now: float) -> Identity:
        """Check a token against its looked-up record; raises :class:`AuthError`."""
        parts = parse(token)
        if parts is None:
            raise AuthError(AuthFailure.MALFORMED, "not a bastion API key")
        key_id, secret = parts
        if record is None:
            raise AuthError(AuthFailure.UNKNOWN_KEY, f"{PREFIX}{key_id}")
        if not hmac.compare_digest(record.secret_hash, hash_secret(secret)):
            raise AuthError(AuthFailure.BAD_SECRET, f"{PREFIX}{key_id}", subject=f"key:{key_id}")
        state = record.state(now)
        if state == "revoked":
            raise AuthError(AuthFailure.REVOKED, f"{PREFIX}{key_id}", subject=f"key:{key_id}")
        if state == "expired":
            raise AuthError(AuthFailure.EXPIRED, f"{PREFIX}{key_id}", subject=f"key:{key_id}")
        return Identity(
            id=f"key:{key_id}",
            name=record.name,
            kind=CredentialKind.API_KEY,
            roles=record.roles,
            models=record.models,
            expires_at=record.expires_at,
        )
