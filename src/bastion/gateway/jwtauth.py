"""JWT bearer tokens: PyJWT against configured issuers and their JWKS (RFC 8725 practice).

The algorithm is never taken from the token: only the issuer's asymmetric allowlist is accepted
(``none`` and HMAC never), the issuer must be configured, the signing key is chosen by ``kid``
from that issuer's JWKS, and audience, expiry and the required claims are enforced. JWKS come
from a local file (no network) or, when configured, an HTTPS URL fetched off the event loop and
cached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from bastion.gateway.errors import GatewayError
from bastion.gateway.identity import AuthError, AuthFailure, CredentialKind, Identity
from bastion.gateway.settings import JwtIssuer


class _Issuer:
    def __init__(self, settings: JwtIssuer, base: Any) -> None:
        self.settings = settings
        self._keys: dict[str, PyJWK] = {}
        self._client: PyJWKClient | None = None
        if settings.jwks_file is not None:
            path = base(settings.jwks_file)
            try:
                keyset = PyJWKSet.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise GatewayError(
                    f"{path}: cannot load JWKS for {settings.issuer}: {exc}"
                ) from exc
            for key in keyset.keys:
                self._keys[str(key.key_id or "")] = key
        else:
            self._client = PyJWKClient(
                str(settings.jwks_url), cache_jwk_set=True, lifespan=300, timeout=5
            )

    async def key_for(self, token: str, kid: str) -> PyJWK:
        """The signing key named by ``kid`` (from the file, or fetched off the loop)."""
        if self._client is None:
            key = self._keys.get(kid) or (self._keys.get("") if len(self._keys) == 1 else None)
            if key is None:
                raise AuthError(AuthFailure.UNKNOWN_KID, f"kid {kid!r}")
            return key
        client = self._client
        try:
            return await anyio.to_thread.run_sync(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise AuthError(AuthFailure.UNKNOWN_KID, str(exc)[:200]) from None


def _roles(claims: Mapping[str, Any], settings: JwtIssuer) -> tuple[str, ...]:
    raw = claims.get(settings.roles_claim)
    if isinstance(raw, str):
        values = raw.split()
    elif isinstance(raw, list):
        values = [v for v in raw if isinstance(v, str)]
    else:
        values = []
    if settings.role_map:
        mapped = [settings.role_map[v] for v in values if v in settings.role_map]
    else:
        mapped = values
    return tuple(dict.fromkeys(mapped))


class JwtAuthenticator:
    """Validates bearer JWTs from the configured issuers."""

    def __init__(self, issuers: tuple[JwtIssuer, ...], base: Any) -> None:
        self._issuers = {i.issuer: _Issuer(i, base) for i in issuers}

    @property
    def enabled(self) -> bool:
        """Whether any issuer is configured."""
        return bool(self._issuers)

    async def authenticate(self, token: str) -> Identity:
        """Check a token; raises :class:`AuthError` naming why it was refused."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError(AuthFailure.MALFORMED, "not a well-formed JWT") from None
        issuer_name = unverified.get("iss")
        issuer = self._issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if issuer is None:
            raise AuthError(AuthFailure.UNKNOWN_ISSUER, f"iss {str(issuer_name)[:100]!r}")
        settings = issuer.settings
        if len(token) > settings.max_token_bytes:
            raise AuthError(AuthFailure.MALFORMED, "token too large")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in settings.algorithms:
            raise AuthError(AuthFailure.BAD_ALGORITHM, f"alg {str(alg)[:20]!r}")
        key = await issuer.key_for(token, str(header.get("kid") or ""))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": list(settings.required_claims)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(AuthFailure.EXPIRED, "token expired") from None
        except jwt.InvalidSignatureError:
            raise AuthError(AuthFailure.BAD_SIGNATURE, "signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(AuthFailure.BAD_ALGORITHM, f"alg {alg!r}") from None
        except (
            jwt.InvalidAudienceError,
            jwt.InvalidIssuerError,
            jwt.MissingRequiredClaimError,
            jwt.ImmatureSignatureError,
            jwt.InvalidIssuedAtError,
        ) as exc:
            raise AuthError(AuthFailure.BAD_CLAIMS, str(exc)[:200]) from None
        except jwt.PyJWTError as exc:
            raise AuthError(AuthFailure.BAD_SIGNATURE, str(exc)[:200]) from None
        subject = claims.get(settings.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(AuthFailure.BAD_CLAIMS, f"no {settings.subject_claim} claim")
        exp = claims.get("exp")
        return Identity(
            id=f"jwt:{settings.issuer}#{subject}",
            name=subject,
            kind=CredentialKind.JWT,
            roles=_roles(claims, settings),
            issuer=settings.issuer,
            expires_at=float(exp) if isinstance(exp, (int, float)) else None,
        )
