"""Verifying a model against its signature: authenticate the bundle, re-hash, name every change.

>>> from pathlib import Path
>>> from bastion.integrity.verify import Trust, verify_model
>>> result = verify_model(Path("models/bert"), Path("models/bert/model.sig"),
...                       Trust(keys=(Path("release.pem.pub"),)))   # doctest: +SKIP
>>> result.verified, [p.message for p in result.problems]           # doctest: +SKIP
(False, ['config.json: content differs from the signed digest'])

Nothing here raises for what an attacker controls: a corrupted signature, a wrong signer, a
hostile manifest (``..`` paths), a changed, added, removed or linked file are all
:class:`Problem` values of a ``BST-INT`` rule. Errors are raised only for what the operator got
wrong: a missing model, a missing signature file, an unusable key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.core import Finding, Location
from bastion.integrity import rules
from bastion.integrity._bundle import Bundle, read_bundle, verify_with_key
from bastion.integrity.errors import SignatureFormatError, UnsafePathError
from bastion.integrity.hashing import HashOptions, LocalManifest, hash_model
from bastion.integrity.keys import fingerprint, load_public_key
from bastion.integrity.manifest import ChangeKind, FileChange, Manifest, compare
from bastion.integrity.signing import relative_inside
from bastion.rules import Rule


@dataclass(frozen=True)
class Trust:
    """Who may have signed: PEM public keys (key mode), trust anchors (certificate mode), or a
    Sigstore identity and issuer (keyless mode, needs a network)."""

    keys: tuple[Path, ...] = ()
    certificate_chain: tuple[Path, ...] = ()
    sigstore_identity: str | None = None
    sigstore_issuer: str | None = None
    use_staging: bool = False
    trust_config: Path | None = None

    def __post_init__(self) -> None:
        if self.sigstore_identity and not self.sigstore_issuer:
            raise ValueError("a Sigstore identity needs its OIDC issuer")


@dataclass(frozen=True)
class Problem:
    """One broken link: the rule it breaks, where, and what happened."""

    rule: Rule
    path: str
    message: str

    def finding(self) -> Finding:
        """The problem as a finding (for JSON and SARIF reports)."""
        return self.rule.finding(Location(self.path), self.message, evidence=self.message)


@dataclass(frozen=True)
class Authenticated:
    """A bundle whose signature verified: the statement it signs and who signed it."""

    statement: dict[str, Any]
    signer: str
    mode: str


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verifying one model against one signature."""

    model: Path
    signature: Path
    problems: tuple[Problem, ...]
    signer: str | None = None
    mode: str | None = None
    signed: Manifest | None = None
    local: LocalManifest | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        """True only when the signature verified and every file matched."""
        return not self.problems and self.signed is not None and self.local is not None

    @property
    def model_digest(self) -> str | None:
        """``sha256:<root>`` of the model as it is on disk, once it matched the signature."""
        if self.local is None:
            return None
        return f"sha256:{self.local.manifest.root_digest}"


def authenticate(bundle: Bundle, trust: Trust) -> Authenticated | str:
    """Check the bundle's signature against ``trust``: the verified statement or why not."""
    if bundle.mode == "key":
        return _authenticate_key(bundle, trust)
    from bastion.integrity import _oms

    path = Path(bundle.source)
    try:
        if bundle.mode == "certificate":
            if not trust.certificate_chain:
                return "signed in certificate mode, but no --certificate-chain was given to trust"
            payload_type, payload, signer = _oms.verify_certificate_bundle(
                path, trust.certificate_chain
            )
        else:
            if not (trust.sigstore_identity and trust.sigstore_issuer):
                return "signed with Sigstore (keyless): give --identity and --identity-provider"
            payload_type, payload, signer = _oms.verify_sigstore_bundle(
                path,
                identity=trust.sigstore_identity,
                oidc_issuer=trust.sigstore_issuer,
                use_staging=trust.use_staging,
                trust_config=trust.trust_config,
            )
    except ValueError as exc:
        return str(exc)
    if (payload_type, payload) != (bundle.payload_type, bundle.payload):
        return "the verified payload differs from the envelope's payload"
    return Authenticated(bundle.statement(), signer, bundle.mode)


def _authenticate_key(bundle: Bundle, trust: Trust) -> Authenticated | str:
    if not trust.keys:
        return "no trusted public key given"
    keys = [load_public_key(path) for path in trust.keys]
    prints = [fingerprint(k) for k in keys]
    ordered = sorted(range(len(keys)), key=lambda i: prints[i] != bundle.key_hint)
    for index in ordered:
        if verify_with_key(bundle, keys[index]):
            return Authenticated(bundle.statement(), prints[index], "key")
    hint = f" (it names key {bundle.key_hint[:16]}…)" if bundle.key_hint else ""
    return f"the signature does not verify with any trusted key{hint}"


def read_signed_statement(path: Path, trust: Trust) -> Authenticated | Problem:
    """Read and authenticate a bundle; a corrupted or untrusted one is a :class:`Problem`.

    A missing file raises :class:`SignatureFormatError` (the operator named the wrong path).
    """
    if not path.exists():
        raise SignatureFormatError(str(path), "signature file not found")
    try:
        bundle = read_bundle(path)
        outcome = authenticate(bundle, trust)
    except SignatureFormatError as exc:
        return Problem(rules.SIGNATURE_INVALID, str(path), exc.problem)
    if isinstance(outcome, str):
        return Problem(rules.SIGNATURE_INVALID, str(path), outcome)
    return outcome


def verify_model(
    model: Path,
    signature: Path,
    trust: Trust,
    *,
    options: HashOptions | None = None,
) -> VerificationResult:
    """Authenticate ``signature`` and compare ``model`` on disk with the manifest it signs."""
    started = time.perf_counter()
    outcome = read_signed_statement(signature, trust)
    if isinstance(outcome, Problem):
        return VerificationResult(model, signature, (outcome,), seconds=_since(started))
    try:
        signed = Manifest.from_statement(outcome.statement, source=str(signature))
    except UnsafePathError as exc:
        problem = Problem(rules.UNSAFE_PATH, str(signature), exc.problem)
        return VerificationResult(model, signature, (problem,), outcome.signer, outcome.mode)
    except SignatureFormatError as exc:
        problem = Problem(rules.SIGNATURE_INVALID, str(signature), exc.problem)
        return VerificationResult(model, signature, (problem,), outcome.signer, outcome.mode)
    inside = relative_inside(signature, model) if model.is_dir() else None
    local = hash_model(
        model,
        signed.serialization,
        ignore_patterns=signed.ignore_patterns,
        extra_ignore_paths=(inside,) if inside else (),
        options=options,
    )
    problems = problems_between(signed, local)
    return VerificationResult(
        model,
        signature,
        problems,
        outcome.signer,
        outcome.mode,
        signed,
        local,
        _since(started),
    )


_RULE_OF = {
    ChangeKind.CHANGED: rules.FILE_CHANGED,
    ChangeKind.ADDED: rules.FILE_ADDED,
    ChangeKind.REMOVED: rules.FILE_REMOVED,
    ChangeKind.SYMLINK: rules.SYMLINK,
    ChangeKind.UNREADABLE: rules.UNREADABLE,
    ChangeKind.UNSAFE: rules.UNSAFE_PATH,
}


def problems_between(signed: Manifest, local: LocalManifest) -> tuple[Problem, ...]:
    """Every difference between the signed manifest and the folder, one problem per file."""
    display = _display(signed.name, local.single_file)
    problems: list[Problem] = []
    blocked = {p.path for p in local.problems}
    signed_paths = set(signed.by_path()) | set(signed.sizes)
    for issue in local.problems:
        message = issue.detail
        if issue.kind is ChangeKind.SYMLINK and issue.path in signed_paths:
            message = f"a symbolic link was swapped in for the signed file: {issue.detail}"
        problems.append(Problem(_RULE_OF[issue.kind], display(issue.path), message))
    for change in compare(signed, local.manifest):
        if change.path in blocked:
            continue
        problems.append(Problem(_RULE_OF[change.kind], display(change.path), change.detail))
    return tuple(problems)


def _display(name: str, single: bool) -> Any:
    def show(path: str) -> str:
        return name if (single or path == ".") else path

    return show


def _since(started: float) -> float:
    return time.perf_counter() - started


def as_change(problem: Problem) -> FileChange | None:
    """The file-level change a problem describes, if it is one."""
    for kind, rule in _RULE_OF.items():
        if rule is problem.rule:
            return FileChange(problem.path, kind, problem.message)
    return None
