"""Adapter to ``model_signing`` (OpenSSF model-signing, pinned ``==1.1.1``) for the modes bastion
does not implement itself: certificate-chain validation and Sigstore keyless signing/verifying.

Key mode is native (``_bundle``): it needs only ``cryptography`` and is what runs offline in CI.
The calls here use model_signing's signer/verifier classes directly so that bastion still computes
the manifest (fast, with its own diff of what changed) and model_signing only does the PKI part.
They are private APIs of that exact version, kept in this one module for that reason.

**Sigstore keyless signing and verification need a network** (OIDC provider, Fulcio, Rekor and
the TUF trust root); certificate mode does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bastion.errors import MissingDependencyError
from bastion.integrity.errors import SignatureFormatError


def _require(purpose: str) -> None:
    try:
        import model_signing  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("model-signing", "sign", purpose) from exc


def verify_certificate_bundle(path: Path, chain: tuple[Path, ...]) -> tuple[str, bytes, str]:
    """Validate a certificate-mode bundle against trust anchors ``chain``.

    Returns ``(payload_type, payload, signer)`` where ``signer`` is the leaf's subject; raises
    :class:`ValueError` when the chain or the signature does not verify.
    """
    _require("Verifying a certificate-mode signature")
    from cryptography import x509
    from model_signing._signing import sign_certificate, sign_sigstore_pb

    try:
        signature = sign_sigstore_pb.Signature.read(path)
    except Exception as exc:
        raise SignatureFormatError(str(path), f"not a certificate-mode bundle: {exc}") from None
    verifier = sign_certificate.Verifier(list(chain))
    try:
        payload_type, payload = verifier._verify_signed_content(signature)
    except Exception as exc:
        raise ValueError(f"certificate chain or signature does not verify: {exc}") from None
    chain_pb = signature.bundle.verification_material.x509_certificate_chain
    if chain_pb is None or not chain_pb.certificates:
        raise ValueError("the bundle carries no certificate chain")
    leaf = x509.load_der_x509_certificate(chain_pb.certificates[0].raw_bytes)
    subject = leaf.subject.rfc4514_string()
    return payload_type, payload, f"certificate {subject}"


def verify_sigstore_bundle(
    path: Path,
    *,
    identity: str,
    oidc_issuer: str,
    use_staging: bool = False,
    trust_config: Path | None = None,
) -> tuple[str, bytes, str]:
    """Verify a Sigstore keyless bundle for ``identity`` from ``oidc_issuer`` (needs network)."""
    _require("Verifying a Sigstore signature")
    from model_signing._signing import sign_sigstore

    try:
        signature = sign_sigstore.Signature.read(path)
    except Exception as exc:
        raise SignatureFormatError(str(path), f"not a Sigstore bundle: {exc}") from None
    verifier = sign_sigstore.Verifier(
        identity=identity,
        oidc_issuer=oidc_issuer,
        use_staging=use_staging,
        trust_config=trust_config,
    )
    try:
        payload_type, payload = verifier._verify_signed_content(signature)
    except Exception as exc:
        raise ValueError(f"Sigstore verification failed: {exc}") from None
    return payload_type, payload, f"sigstore {identity} ({oidc_issuer})"


def sigstore_sign(
    statement: dict[str, Any],
    *,
    use_staging: bool = False,
    identity_token: str | None = None,
    use_ambient_credentials: bool = True,
    oidc_issuer: str | None = None,
    trust_config: Path | None = None,
) -> str:
    """Sign a statement with Sigstore keyless signing (needs network); returns bundle JSON."""
    _require("Sigstore signing")
    from in_toto_attestation.v1 import statement as intoto  # type: ignore[import-untyped]
    from model_signing._signing import sign_sigstore, signing

    subject = intoto.ResourceDescriptor(
        name=statement["subject"][0]["name"], digest=statement["subject"][0]["digest"]
    ).pb
    payload = signing.Payload.__new__(signing.Payload)
    payload.statement = intoto.Statement(
        subjects=[subject],
        predicate_type=statement["predicateType"],
        predicate=json.loads(json.dumps(statement["predicate"])),
    )
    signer = sign_sigstore.Signer(
        oidc_issuer=oidc_issuer,
        use_ambient_credentials=use_ambient_credentials,
        use_staging=use_staging,
        identity_token=identity_token,
        trust_config=trust_config,
    )
    result = signer.sign(payload)
    if not isinstance(result, sign_sigstore.Signature):
        raise ValueError("model_signing returned an unexpected signature type")
    text: str = result.bundle.to_json()
    return text
