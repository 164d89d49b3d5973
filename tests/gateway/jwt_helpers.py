"""Local JWT issuer for tests: an RSA key, its JWKS file, and token makers (no network)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.test/"
AUDIENCE = "bastion-gateway"


class Issuer:
    """Signs tokens; ``jwks`` is the file the gateway trusts."""

    def __init__(self, folder: Path, kid: str = "k1") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=kid, use="sig", alg="RS256")
        self.jwks = folder / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [public]}))

    def settings(self) -> dict[str, Any]:
        """The [[gateway.auth.jwt]] entry."""
        return {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_file": str(self.jwks),
            "algorithms": ["RS256"],
            "roles_claim": "roles",
        }

    def token(
        self,
        roles: list[str],
        *,
        sub: str = "alice",
        issuer: str = ISSUER,
        expires_in: float = 300,
        audience: str = AUDIENCE,
    ) -> str:
        """A signed token."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": sub,
            "iat": now,
            "exp": now + int(expires_in),
            "roles": roles,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def tampered(token: str, **changes: Any) -> str:
    """Same signature, edited claims."""
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{sig}"


def alg_none(claims_from: str) -> str:
    """An unsigned token (alg none) with the claims of another token."""
    _head, payload, _sig = claims_from.split(".")
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{head}.{payload}."
