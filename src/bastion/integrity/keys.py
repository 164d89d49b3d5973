"""Signing keys: generate, load and fingerprint the elliptic-curve keys model-signing uses.

>>> from pathlib import Path
>>> from bastion.integrity.keys import generate_key_pair, load_public_key, fingerprint
>>> pair = generate_key_pair(Path("release.pem"))                  # doctest: +SKIP
>>> fingerprint(load_public_key(pair.public)) == pair.fingerprint  # doctest: +SKIP
True

Key mode of OpenSSF model-signing 1.1.1 accepts EC keys on P-256, P-384 and P-521 only (it
rejects Ed25519 and RSA), so those are the curves bastion generates and accepts: a signature
bastion makes must verify with ``model_signing``. Keys are PEM (PKCS#8 private keys,
SubjectPublicKeyInfo public keys), as ``openssl`` and ``cryptography`` write them. A key's
fingerprint is the SHA-256 of its PEM public key, the ``publicKey.hint`` model-signing writes in
its bundles.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.errors import MissingDependencyError
from bastion.integrity.errors import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

#: Curve names accepted by ``bastion keygen --curve`` and their OpenSSL names.
CURVES: dict[str, str] = {"p256": "secp256r1", "p384": "secp384r1", "p521": "secp521r1"}
MAX_KEY_FILE_BYTES = 1024 * 1024


def require_cryptography(purpose: str) -> None:
    """Raise a clear error naming the ``sign`` extra when ``cryptography`` is missing."""
    try:
        import cryptography  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("cryptography", "sign", purpose) from exc


@dataclass(frozen=True)
class KeyPair:
    """Where a generated key pair was written, its curve and fingerprint."""

    private: Path
    public: Path
    curve: str
    fingerprint: str


def _curve(name: str) -> ec.EllipticCurve:
    from cryptography.hazmat.primitives.asymmetric import ec

    curves: dict[str, ec.EllipticCurve] = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
    }
    try:
        return curves[name.lower()]
    except KeyError:
        raise KeyFileError(
            name,
            f"unsupported curve (choose one of {', '.join(CURVES)}; model-signing's key "
            "mode does not accept Ed25519 or RSA)",
        ) from None


def generate_key_pair(
    private_path: Path,
    *,
    curve: str = "p256",
    public_path: Path | None = None,
    password: bytes | None = None,
    force: bool = False,
) -> KeyPair:
    """Write a new private key (mode 0600) and its public key (``<private>.pub`` by default)."""
    require_cryptography("Generating a key pair")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public_path = public_path or private_path.with_name(private_path.name + ".pub")
    if private_path.resolve() == public_path.resolve():
        raise KeyFileError(str(private_path), "private and public key paths are the same file")
    for target in (private_path, public_path):
        if (target.exists() or target.is_symlink()) and not force:
            raise KeyFileError(str(target), "already exists (use --force to overwrite)")
        if not target.parent.is_dir():
            raise KeyFileError(str(target), f"directory {target.parent} does not exist")
    key = ec.generate_private_key(_curve(curve))
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = public_key_pem(key.public_key())
    _write_private(private_path, private_pem)
    _write_atomic(public_path, public_pem, 0o644)
    return KeyPair(private_path, public_path, curve.lower(), _fingerprint_pem(public_pem))


def _write_private(path: Path, data: bytes) -> None:
    """Create the key file 0600 from the start (never world-readable, even briefly)."""
    _write_atomic(path, data, 0o600)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot write: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise KeyFileError(str(path), f"cannot write: {exc.strerror or exc}") from exc


def _read_pem(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise KeyFileError(str(path), "too large to be a PEM key")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(str(path), "key file not found") from None
    except IsADirectoryError:
        raise KeyFileError(str(path), "is a directory, not a key file") from None
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot read key: {exc.strerror or exc}") from exc


def _check_ec(key: object, path: Path, what: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVES.values():
            raise KeyFileError(
                str(path), f"EC curve {key.curve.name} is not supported (P-256, P-384, P-521)"
            )
        return
    kind = type(key).__name__.lstrip("_").replace("PrivateKey", "").replace("PublicKey", "")
    raise KeyFileError(
        str(path),
        f"{what} is a {kind or 'non-EC'} key; model-signing key mode needs an elliptic-curve "
        "key on P-256, P-384 or P-521 (bastion keygen makes one)",
    )


def load_private_key(path: Path, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Load a PEM private key, checking that it is an EC key model-signing accepts."""
    require_cryptography("Signing")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    data = _read_pem(path)
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise KeyFileError(str(path), "is a public key; signing needs the private key")
    try:
        key = serialization.load_pem_private_key(data, password)
    except TypeError as exc:
        problem = "is encrypted: give its password" if password is None else str(exc)
        raise KeyFileError(str(path), problem) from None
    except ValueError as exc:
        text = str(exc)
        problem = "wrong password" if password else f"not a PEM private key ({text})"
        if "password" in text.lower() or "decrypt" in text.lower():
            problem = "cannot decrypt the key: wrong password"
        raise KeyFileError(str(path), problem) from None
    except Exception as exc:
        raise KeyFileError(str(path), f"not a usable PEM private key ({exc})") from None
    _check_ec(key, path, "the private key")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(str(path), "is not an elliptic-curve private key")
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """Load a PEM public key (SubjectPublicKeyInfo), checking it is a supported EC key."""
    require_cryptography("Verifying")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    data = _read_pem(path)
    if b"PRIVATE KEY-----" in data:
        raise KeyFileError(
            str(path),
            "is a private key; verification takes the public key (never share the private one)",
        )
    if b"-----BEGIN CERTIFICATE-----" in data:
        raise KeyFileError(str(path), "is a certificate; use --mode certificate with a chain")
    try:
        key = serialization.load_pem_public_key(data)
    except Exception as exc:
        raise KeyFileError(str(path), f"not a PEM public key ({exc})") from None
    _check_ec(key, path, "the public key")
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyFileError(str(path), "is a private key; verification takes the public key")
    return key


def public_key_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    """The canonical PEM (SubjectPublicKeyInfo) encoding of a public key."""
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _fingerprint_pem(pem: bytes) -> str:
    return hashlib.sha256(pem).hexdigest()


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the PEM public key: model-signing's ``publicKey.hint``."""
    return _fingerprint_pem(public_key_pem(key))


def signature_hash(key: ec.EllipticCurvePublicKey) -> HashAlgorithm:
    """The ECDSA hash model-signing pairs with a curve (SHA-256/384/512 for P-256/384/521)."""
    from cryptography.hazmat.primitives import hashes

    size = key.curve.key_size
    if size == 256:
        return hashes.SHA256()
    if size == 384:
        return hashes.SHA384()
    return hashes.SHA512()
