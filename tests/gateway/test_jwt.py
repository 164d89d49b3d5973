"""JWT validation: algorithm confusion, unknown key ids, role mapping, oversized tokens."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from bastion.gateway.identity import AuthError, AuthFailure
from bastion.gateway.jwtauth import JwtAuthenticator
from bastion.gateway.settings import JwtIssuer
from tests.gateway.jwt_helpers import AUDIENCE, ISSUER, Issuer

pytestmark = pytest.mark.anyio


def _auth(issuer: Issuer, **extra: object) -> JwtAuthenticator:
    settings = JwtIssuer.model_validate({**issuer.settings(), **extra})
    return JwtAuthenticator((settings,), lambda p: p)


async def _failure(auth: JwtAuthenticator, token: str) -> AuthFailure:
    with pytest.raises(AuthError) as info:
        await auth.authenticate(token)
    return info.value.failure


async def test_hmac_with_the_public_key_is_refused(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path)
    pem = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "eve",
        "iat": now,
        "exp": now + 60,
        "roles": ["admin"],
    }
    import hashlib
    import hmac
    import json
    from base64 import urlsafe_b64encode

    def b64(data: bytes) -> bytes:
        return urlsafe_b64encode(data).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(pem, head + b"." + body, hashlib.sha256).digest())
    forged = (head + b"." + body + b"." + sig).decode()
    assert await _failure(_auth(issuer), forged) is AuthFailure.BAD_ALGORITHM


async def test_unknown_kid_and_role_mapping(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path)
    auth = _auth(issuer, role_map={"ml-team": "predictor"})
    identity = await auth.authenticate(issuer.token(["ml-team", "admin"]))
    assert identity.roles == ("predictor",) and identity.id == f"jwt:{ISSUER}#alice"
    (tmp_path / "other").mkdir()
    other = Issuer(tmp_path / "other", kid="k9")
    assert await _failure(auth, other.token(["ml-team"])) is AuthFailure.UNKNOWN_KID


async def test_missing_claims_and_size(tmp_path: Path) -> None:
    issuer = Issuer(tmp_path)
    auth = _auth(issuer, max_token_bytes=256)
    assert await _failure(auth, issuer.token(["x"])) is AuthFailure.MALFORMED
    now = int(time.time())
    no_sub = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60},
        issuer.key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert await _failure(_auth(issuer), no_sub) is AuthFailure.BAD_CLAIMS
    assert await _failure(_auth(issuer), "a.b.c") is AuthFailure.MALFORMED


def test_settings_refuse_none_and_hmac() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        JwtIssuer(issuer="i", audience="a", jwks_file=Path("j"), algorithms=("none",))
    with pytest.raises(ValueError, match="asymmetric"):
        JwtIssuer(issuer="i", audience="a", jwks_file=Path("j"), algorithms=("HS256",))
