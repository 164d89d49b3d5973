"""Signing a model or dataset: hash every file, then sign the manifest in model-signing format.

>>> from pathlib import Path
>>> from bastion.integrity.signing import KeySigner, sign_model
>>> result = sign_model(Path("models/bert"), KeySigner(Path("release.pem")))  # doctest: +SKIP
>>> result.signature                                                         # doctest: +SKIP
PosixPath('models/bert/model.sig')

The signature is a Sigstore bundle holding a DSSE envelope whose payload is an in-toto Statement
v1 with predicate ``https://model_signing/signature/v1.0``: ``model_signing verify key`` accepts
it, and ``bastion verify`` accepts what ``model_signing sign key`` writes.

What is left out is decided here and recorded in the signed payload: git metadata (``.git``,
``.gitattributes``, ``.github``, ``.gitignore``, as model_signing does), bastion's own side files
(``model.sig``, ``model.att.json`` and the output file when inside the folder), caches
(``__pycache__/`` and friends, unless ``default_ignores=False``) and the ``ignore`` globs. The
concrete paths left out go into ``serialization.ignore_paths`` (so model_signing honours them);
the globs go into bastion's predicate extension.
"""

from __future__ import annotations

import dataclasses
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.integrity._bundle import sign_statement
from bastion.integrity.errors import IntegrityError, KeyFileError, ModelPathError
from bastion.integrity.hashing import (
    DEFAULT_SHARD_SIZE,
    HashOptions,
    LocalManifest,
    hash_model,
)
from bastion.integrity.keys import fingerprint, load_private_key
from bastion.integrity.manifest import GIT_PATHS, Manifest, Serialization

SIGNATURE_NAME = "model.sig"
ATTESTATION_NAME = "model.att.json"
#: Caches left out by default: nothing a loader reads, rewritten by tools at will.
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (
    "__pycache__/",
    ".ipynb_checkpoints/",
    ".pytest_cache/",
    ".mypy_cache/",
    ".ruff_cache/",
    ".DS_Store",
    "Thumbs.db",
)


def default_signature_path(model: Path) -> Path:
    """``<dir>/model.sig`` for a folder, ``<file>.sig`` for a file."""
    return model / SIGNATURE_NAME if model.is_dir() else model.with_name(model.name + ".sig")


def default_attestation_path(model: Path) -> Path:
    """``<dir>/model.att.json`` for a folder, ``<file>.att.json`` for a file."""
    if model.is_dir():
        return model / ATTESTATION_NAME
    return model.with_name(model.name + ".att.json")


def relative_inside(path: Path, folder: Path) -> str | None:
    """``path`` relative to ``folder`` (POSIX) when it lies inside it, else ``None``."""
    try:
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    except ValueError:
        return None
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


class Signer(ABC):
    """Turns a statement into a signature bundle (JSON text)."""

    #: ``key``, ``certificate`` or ``sigstore``.
    mode: str

    @abstractmethod
    def sign(self, statement: dict[str, Any]) -> str:
        """Sign the in-toto statement; return the bundle as JSON text."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Who signs: a key fingerprint, a certificate subject or a Sigstore identity."""


class KeySigner(Signer):
    """Key mode: an EC private key (PEM), offline."""

    mode = "key"

    def __init__(self, private_key: Path, password: bytes | None = None) -> None:
        self._key = load_private_key(private_key, password)

    def sign(self, statement: dict[str, Any]) -> str:
        """Sign with the private key; the bundle carries the public key's fingerprint."""
        return sign_statement(statement, self._key)

    @property
    def identity(self) -> str:
        """The public key's fingerprint."""
        return fingerprint(self._key.public_key())


class CertificateSigner(Signer):
    """Certificate mode: a private key plus its signing certificate and chain (offline)."""

    mode = "certificate"

    def __init__(
        self,
        private_key: Path,
        certificate: Path,
        chain: tuple[Path, ...] = (),
        password: bytes | None = None,
    ) -> None:
        from cryptography import x509

        self._key = load_private_key(private_key, password)
        certs: list[Any] = []
        for path in (certificate, *chain):
            certs.extend(_load_certificates(path, x509.load_pem_x509_certificates))
        if not certs or certs[0].public_key() != self._key.public_key():
            raise KeyFileError(str(certificate), "certificate does not match the private key")
        from cryptography.hazmat.primitives.serialization import Encoding

        self._chain = tuple(c.public_bytes(Encoding.DER) for c in certs)
        self._subject = certs[0].subject.rfc4514_string()

    def sign(self, statement: dict[str, Any]) -> str:
        """Sign; the bundle carries the certificate chain."""
        return sign_statement(statement, self._key, certificates=self._chain)

    @property
    def identity(self) -> str:
        """The signing certificate's subject."""
        return f"certificate {self._subject}"


def _load_certificates(path: Path, load: Any) -> list[Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        return list(load(data))
    except ValueError as exc:
        raise KeyFileError(str(path), f"not a PEM certificate ({exc})") from None


@dataclass
class SigstoreSigner(Signer):
    """Sigstore keyless mode (OIDC → Fulcio → Rekor). **Needs a network**; not used offline."""

    use_staging: bool = False
    identity_token: str | None = None
    use_ambient_credentials: bool = True
    oidc_issuer: str | None = None
    trust_config: Path | None = None
    mode: str = field(default="sigstore", init=False)

    def sign(self, statement: dict[str, Any]) -> str:
        """Sign through model_signing's Sigstore signer."""
        from bastion.errors import BastionError
        from bastion.integrity import _oms

        try:
            return _oms.sigstore_sign(
                statement,
                use_staging=self.use_staging,
                identity_token=self.identity_token,
                use_ambient_credentials=self.use_ambient_credentials,
                oidc_issuer=self.oidc_issuer,
                trust_config=self.trust_config,
            )
        except BastionError:
            raise
        except Exception as exc:
            raise IntegrityError(
                "sigstore",
                "keyless signing failed; it needs network access to the OIDC provider, Fulcio "
                f"and Rekor ({type(exc).__name__}: {exc})",
            ) from exc

    @property
    def identity(self) -> str:
        """The identity is only known once the OIDC flow ran."""
        return "sigstore (identity from the OIDC token)"


@dataclass(frozen=True)
class SignOptions:
    """What to include and how to hash."""

    ignore: tuple[str, ...] = ()
    default_ignores: bool = True
    allow_symlinks: bool = False
    granularity: str = "files"
    shard_size: int = DEFAULT_SHARD_SIZE
    hashing: HashOptions = field(default_factory=HashOptions)


@dataclass(frozen=True)
class SignResult:
    """What was signed, where the signature went, and how long hashing took."""

    model: Path
    signature: Path
    manifest: Manifest
    files: int
    bytes_total: int
    identity: str
    mode: str
    seconds: float


def signing_plan(
    model: Path, options: SignOptions, side_files: tuple[str, ...] = ()
) -> tuple[Serialization, tuple[str, ...]]:
    """The serialization and ignore patterns a signature of ``model`` records."""
    base = tuple(dict.fromkeys((*GIT_PATHS, SIGNATURE_NAME, ATTESTATION_NAME, *side_files)))
    if options.granularity not in ("files", "shards"):
        raise ValueError(f"unknown granularity {options.granularity!r}")
    serialization = Serialization(
        method=options.granularity,
        hash_type="sha256",
        shard_size=options.shard_size if options.granularity == "shards" else None,
        allow_symlinks=options.allow_symlinks,
        ignore_paths=base if model.is_dir() else GIT_PATHS,
    )
    patterns = (DEFAULT_IGNORE_PATTERNS if options.default_ignores else ()) + options.ignore
    return serialization, patterns


def manifest_for_signing(
    model: Path, options: SignOptions, side_files: tuple[str, ...] = ()
) -> LocalManifest:
    """Hash ``model`` for signing; any link, unreadable or special file stops signing."""
    if not (model.exists() or model.is_symlink()):
        raise ModelPathError(str(model), "no such file or directory")
    serialization, patterns = signing_plan(model, options, side_files)
    local = hash_model(model, serialization, ignore_patterns=patterns, options=options.hashing)
    if local.problems:
        listed = "; ".join(f"{p.path}: {p.detail}" for p in local.problems[:20])
        more = f" (and {len(local.problems) - 20} more)" if len(local.problems) > 20 else ""
        raise ModelPathError(str(model), f"cannot sign: {listed}{more}")
    recorded = tuple(sorted(set(serialization.ignore_paths) | set(local.ignored)))
    final = dataclasses.replace(serialization, ignore_paths=recorded)
    manifest = dataclasses.replace(local.manifest, serialization=final)
    return dataclasses.replace(local, manifest=manifest)


def sign_model(
    model: Path,
    signer: Signer,
    output: Path | None = None,
    options: SignOptions | None = None,
) -> SignResult:
    """Hash ``model``, sign its manifest with ``signer`` and write the bundle to ``output``."""
    options = options or SignOptions()
    output = output or default_signature_path(model)
    inside = relative_inside(output, model) if model.is_dir() else None
    started = time.perf_counter()
    local = manifest_for_signing(model, options, (inside,) if inside else ())
    bundle = signer.sign(local.manifest.statement())
    write_text_atomic(output, bundle)
    return SignResult(
        model=model,
        signature=output,
        manifest=local.manifest,
        files=local.files,
        bytes_total=local.bytes_total,
        identity=signer.identity,
        mode=signer.mode,
        seconds=time.perf_counter() - started,
    )


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file atomically (temp file + rename) so a failure leaves no half signature."""
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelPathError(str(path), f"directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ModelPathError(str(path), f"cannot write: {exc.strerror or exc}") from exc
