"""Signed checkpoints: periodically the writer signs ``{log_id, seq, head}`` with Ed25519/ECDSA.

A checkpoint is itself a chain record (kind ``checkpoint``), so it is exported to the SIEM with
everything else: a copy held outside the writer makes truncating the tail or rewriting the whole
log detectable. The private key should be readable by the gateway only; verifiers need the
public key (``bastion audit verify --public-key``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from bastion.gateway.audit.chain import canonical
from bastion.gateway.errors import AuditError

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def fingerprint(key: PublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex (identifies the key in records)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def message(log_id: str, seq: int, head: str) -> bytes:
    """The exact bytes that are signed."""
    return canonical({"head": head, "log_id": log_id, "seq": seq}).encode("utf-8")


@dataclass(frozen=True)
class CheckpointSigner:
    """Signs checkpoints with a private key loaded from PEM."""

    key: PrivateKey

    @classmethod
    def from_file(cls, path: Path) -> CheckpointSigner:
        """Load an unencrypted PEM private key (Ed25519 or EC)."""
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise AuditError(f"{path}: cannot load the checkpoint key: {exc}") from exc
        if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
            raise AuditError(f"{path}: checkpoint keys must be Ed25519 or ECDSA")
        return cls(key)

    @property
    def algorithm(self) -> str:
        """``ed25519`` or ``ecdsa-sha256``."""
        return "ed25519" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "ecdsa-sha256"

    def sign(self, log_id: str, seq: int, head: str) -> dict[str, Any]:
        """The ``checkpoint`` object of a checkpoint record."""
        data = message(log_id, seq, head)
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            signature = self.key.sign(data)
        else:
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return {
            "seq": seq,
            "head": head,
            "alg": self.algorithm,
            "key": fingerprint(self.key.public_key()),
            "signature": base64.b64encode(signature).decode("ascii"),
        }


def load_public_key(path: Path) -> PublicKey:
    """Load a PEM public key (or derive it from a private key file)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the public key: {exc}") from exc
    try:
        key: Any = serialization.load_pem_public_key(raw)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(raw, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise AuditError(f"{path}: not a PEM public key: {exc}") from exc
    if not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        raise AuditError(f"{path}: checkpoint keys must be Ed25519 or ECDSA")
    return key


class CheckpointVerifier:
    """Checks checkpoint records against trusted public keys and the recomputed head."""

    def __init__(self, keys: tuple[PublicKey, ...]) -> None:
        self._keys = {fingerprint(k): k for k in keys}

    def __call__(self, record: dict[str, Any], head: str | None) -> str | None:
        """A problem description, or ``None`` when the checkpoint holds."""
        cp = record.get("checkpoint")
        if not isinstance(cp, dict):
            return "checkpoint record without checkpoint data"
        seq, claimed = cp.get("seq"), cp.get("head")
        if not isinstance(seq, int) or not isinstance(claimed, str):
            return "checkpoint without seq/head"
        if head is None:
            return f"checkpoint refers to seq {seq}, which is not in the log"
        if head != claimed:
            return f"log head at seq {seq} differs from the signed checkpoint"
        if not self._keys:
            return None
        key = self._keys.get(str(cp.get("key")))
        if key is None:
            return "checkpoint signed by an untrusted key"
        log_id = record.get("log_id")
        data = message(str(log_id), seq, claimed)
        try:
            signature = base64.b64decode(str(cp.get("signature")), validate=True)
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            else:
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return "checkpoint signature does not verify"
        return None
