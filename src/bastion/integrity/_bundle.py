"""Sigstore bundles with a DSSE envelope: the signature file format of model-signing.

A bundle (media type ``application/vnd.dev.sigstore.bundle.v0.3+json``) carries a DSSE envelope
(payload = the in-toto statement, base64) and the verification material: a public-key hint (key
mode), an X.509 chain (certificate mode) or a Fulcio certificate with transparency-log entries
(Sigstore keyless). The signature is ECDSA over DSSE's pre-authentication encoding (PAE).

Reading is bounded and strict: any deviation is a :class:`SignatureFormatError` naming the file.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.integrity.errors import SignatureFormatError
from bastion.integrity.keys import fingerprint, signature_hash
from bastion.integrity.manifest import PAYLOAD_TYPE

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Largest signature or attestation file read (a manifest of millions of files fits).
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload."""
    header = f"DSSEv1 {len(payload_type)} {payload_type} {len(payload)} ".encode()
    return header + payload


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle: the signed payload, the signature and the verification material."""

    source: str
    payload: bytes
    payload_type: str
    signature: bytes
    key_hint: str | None
    certificates: tuple[bytes, ...]
    has_tlog: bool

    def statement(self) -> dict[str, Any]:
        """The in-toto statement the envelope carries (not yet authenticated by itself)."""
        if self.payload_type != PAYLOAD_TYPE:
            raise SignatureFormatError(
                self.source, f"payload type {self.payload_type!r} is not {PAYLOAD_TYPE}"
            )
        try:
            data = json.loads(self.payload)
        except (ValueError, RecursionError) as exc:
            raise SignatureFormatError(self.source, f"payload is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SignatureFormatError(self.source, "payload is not a JSON object")
        return data

    @property
    def mode(self) -> str:
        """``key``, ``certificate`` or ``sigstore`` (keyless, with a transparency log)."""
        if self.has_tlog:
            return "sigstore"
        return "certificate" if self.certificates else "key"


def _b64(value: object, what: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureFormatError(source, f"{what} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureFormatError(source, f"{what} is not valid base64") from None


def read_bundle(path: Path) -> Bundle:
    """Read and structurally validate a bundle file (no cryptographic check yet)."""
    source = str(path)
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise SignatureFormatError(source, "too large to be a signature bundle")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignatureFormatError(source, "signature file not found") from None
    except IsADirectoryError:
        raise SignatureFormatError(source, "is a directory, not a signature file") from None
    except UnicodeDecodeError:
        raise SignatureFormatError(source, "not a signature bundle (not UTF-8 text)") from None
    except OSError as exc:
        raise SignatureFormatError(source, f"cannot read: {exc.strerror or exc}") from exc
    return parse_bundle(text, source)


def parse_bundle(text: str, source: str) -> Bundle:
    """Parse bundle JSON text."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SignatureFormatError(
            source, f"not a signature bundle (invalid JSON: {exc})"
        ) from None
    if not isinstance(data, dict):
        raise SignatureFormatError(source, "not a signature bundle (JSON is not an object)")
    if data.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise SignatureFormatError(
            source, f"media type {data.get('mediaType')!r} is not {BUNDLE_MEDIA_TYPE}"
        )
    envelope = data.get("dsseEnvelope")
    material = data.get("verificationMaterial")
    if not isinstance(envelope, dict) or not isinstance(material, dict):
        raise SignatureFormatError(source, "bundle lacks a DSSE envelope or verification material")
    signatures = envelope.get("signatures")
    if (
        not isinstance(signatures, list)
        or len(signatures) != 1
        or not isinstance(signatures[0], dict)
    ):
        raise SignatureFormatError(source, "the DSSE envelope must hold exactly one signature")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise SignatureFormatError(source, "the DSSE envelope has no payloadType")
    hint = None
    public = material.get("publicKey")
    if isinstance(public, dict) and isinstance(public.get("hint"), str):
        hint = public["hint"]
    chain: list[bytes] = []
    x509 = material.get("x509CertificateChain")
    if isinstance(x509, dict):
        chain.extend(
            _b64(cert.get("rawBytes") if isinstance(cert, dict) else None, "a certificate", source)
            for cert in x509.get("certificates") or []
        )
    single = material.get("certificate")
    if isinstance(single, dict):
        chain.append(_b64(single.get("rawBytes"), "the certificate", source))
    tlog = material.get("tlogEntries")
    return Bundle(
        source=source,
        payload=_b64(envelope.get("payload"), "the DSSE payload", source),
        payload_type=payload_type,
        signature=_b64(signatures[0].get("sig"), "the DSSE signature", source),
        key_hint=hint,
        certificates=tuple(chain),
        has_tlog=isinstance(tlog, list) and bool(tlog),
    )


def verify_with_key(bundle: Bundle, key: ec.EllipticCurvePublicKey) -> bool:
    """Whether the envelope's signature verifies with ``key`` (DSSE PAE, curve's hash)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(
            bundle.signature,
            pae(bundle.payload_type, bundle.payload),
            ec.ECDSA(signature_hash(key)),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_statement(
    statement: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    *,
    certificates: tuple[bytes, ...] = (),
) -> str:
    """Sign a statement and return the bundle JSON (key mode, or certificate mode with a chain).

    The payload is written as model_signing writes it (2-space indented JSON); any JSON would
    verify, since the signature covers the exact bytes.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = json.dumps(statement, indent=2, ensure_ascii=False).encode("utf-8")
    public = key.public_key()
    signature = key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(signature_hash(public)))
    material: dict[str, Any]
    if certificates:
        material = {
            "x509CertificateChain": {
                "certificates": [
                    {"rawBytes": base64.b64encode(der).decode("ascii")} for der in certificates
                ]
            },
            "tlogEntries": [],
        }
    else:
        material = {"publicKey": {"hint": fingerprint(public)}, "tlogEntries": []}
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    return json.dumps(bundle, indent=2) + "\n"


__all__ = [
    "BUNDLE_MEDIA_TYPE",
    "Bundle",
    "pae",
    "parse_bundle",
    "read_bundle",
    "sign_statement",
    "verify_with_key",
]
