"""Checking an attestation's chain: this model came from this data and code, was scanned, passed.

>>> from pathlib import Path
>>> from bastion.integrity.chain import verify_attestation
>>> from bastion.integrity.verify import Trust
>>> result = verify_attestation(Path("models/bert"), Path("models/bert/model.att.json"),
...                             Trust(keys=(Path("release.pem.pub"),)),
...                             datasets=(("train", Path("data/train")),))   # doctest: +SKIP
>>> [p.rule.id for p in result.problems]                                       # doctest: +SKIP
['BST-INT-010']

Links, each a separate :class:`~bastion.integrity.verify.Problem` when broken: the attestation's
signature by a trusted key (``BST-INT-008``); its subject digest against the model as it is now
(``BST-INT-009``); each dataset folder given against the digest recorded for it
(``BST-INT-010``); the lockfile and source commit when given (``BST-INT-013``); the recorded scan
verdict (``BST-INT-011``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.integrity import rules
from bastion.integrity.attestation import PREDICATE_TYPE, digest_file
from bastion.integrity.errors import IntegrityError, SignatureFormatError
from bastion.integrity.hashing import HashOptions, LocalManifest, hash_model
from bastion.integrity.manifest import STATEMENT_TYPE, Serialization
from bastion.integrity.signing import relative_inside
from bastion.integrity.verify import Problem, Trust, read_signed_statement
from bastion.rules import Rule


@dataclass(frozen=True)
class ChainResult:
    """The outcome of checking one attestation against the model and the inputs given."""

    attestation: Path
    problems: tuple[Problem, ...]
    checked: tuple[str, ...]
    signer: str | None = None
    predicate: dict[str, Any] | None = None
    model_digest: str | None = None

    @property
    def verified(self) -> bool:
        """Every link checked held."""
        return not self.problems and self.predicate is not None


def _problem(rule: Rule, where: str, message: str) -> Problem:
    return Problem(rule, where, message)


def read_predicate(statement: dict[str, Any], source: str) -> tuple[str, dict[str, Any]]:
    """Validate a bastion attestation statement: ``(subject sha256, predicate)``."""
    if statement.get("_type") != STATEMENT_TYPE:
        raise SignatureFormatError(source, "not an in-toto Statement v1")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise SignatureFormatError(
            source, f"predicate type {statement.get('predicateType')!r} is not {PREDICATE_TYPE}"
        )
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects or not isinstance(subjects[0], dict):
        raise SignatureFormatError(source, "the statement has no subject")
    digest = subjects[0].get("digest")
    sha = digest.get("sha256") if isinstance(digest, dict) else None
    predicate = statement.get("predicate")
    if not isinstance(sha, str) or not isinstance(predicate, dict):
        raise SignatureFormatError(source, "the subject has no sha256 digest, or no predicate")
    model = predicate.get("model")
    if not isinstance(model, dict):
        raise SignatureFormatError(source, "the predicate has no model record")
    return sha.lower(), predicate


def record_serialization(
    record: dict[str, Any], source: str
) -> tuple[Serialization, tuple[str, ...]]:
    """The serialization and ignore patterns a model or dataset record was hashed with."""
    serialization = Serialization.from_json(record.get("serialization"), source=source)
    patterns = record.get("ignorePatterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise SignatureFormatError(source, "ignorePatterns is not a list of strings")
    return serialization, tuple(patterns)


def current_digest(
    path: Path,
    record: dict[str, Any],
    source: str,
    options: HashOptions | None,
    *,
    side: Path | None = None,
) -> LocalManifest:
    """Hash ``path`` the way ``record`` says it was hashed when attested."""
    serialization, patterns = record_serialization(record, source)
    inside = relative_inside(side, path) if side is not None and path.is_dir() else None
    return hash_model(
        path,
        serialization,
        ignore_patterns=patterns,
        extra_ignore_paths=(inside,) if inside else (),
        options=options,
    )


def verify_attestation(
    model: Path,
    attestation: Path,
    trust: Trust,
    *,
    datasets: tuple[tuple[str, Path], ...] = (),
    lockfiles: tuple[Path, ...] = (),
    source_commit: str | None = None,
    require_scan: bool = True,
    options: HashOptions | None = None,
    reuse: LocalManifest | None = None,
) -> ChainResult:
    """Check every link of the chain; ``reuse`` is a manifest of the model already computed."""
    where = str(attestation)
    outcome = read_signed_statement(attestation, trust)
    if isinstance(outcome, Problem):
        problem = dataclasses.replace(outcome, rule=rules.ATTESTATION_INVALID)
        return ChainResult(attestation, (problem,), ())
    try:
        subject, predicate = read_predicate(outcome.statement, where)
    except SignatureFormatError as exc:
        problem = _problem(rules.ATTESTATION_INVALID, where, exc.problem)
        return ChainResult(attestation, (problem,), (), outcome.signer)
    problems: list[Problem] = []
    checked = [f"attestation signed by {outcome.signer}"]
    digest = _check_model(model, attestation, predicate, subject, options, reuse, problems, checked)
    for name, path in datasets:
        _check_dataset(name, path, predicate, where, options, problems, checked)
    for lockfile in lockfiles:
        _check_lockfile(lockfile, predicate, problems, checked)
    if source_commit:
        _check_commit(source_commit, predicate, where, problems, checked)
    if require_scan:
        _check_scan(predicate, where, problems, checked)
    return ChainResult(
        attestation, tuple(problems), tuple(checked), outcome.signer, predicate, digest
    )


def _check_model(
    model: Path,
    attestation: Path,
    predicate: dict[str, Any],
    subject: str,
    options: HashOptions | None,
    reuse: LocalManifest | None,
    problems: list[Problem],
    checked: list[str],
) -> str | None:
    where = str(attestation)
    try:
        serialization, patterns = record_serialization(predicate["model"], where)
    except (SignatureFormatError, IntegrityError) as exc:
        problems.append(_problem(rules.ATTESTATION_INVALID, where, str(exc)))
        return None
    if (
        reuse is not None
        and reuse.manifest.serialization == serialization
        and reuse.manifest.ignore_patterns == patterns
    ):
        local = reuse
    else:
        local = current_digest(model, predicate["model"], where, options, side=attestation)
    now = local.manifest.root_digest
    if local.problems:
        listed = "; ".join(f"{p.path}: {p.detail}" for p in local.problems[:5])
        problems.append(
            _problem(rules.SUBJECT_MISMATCH, str(model), f"the model cannot be hashed: {listed}")
        )
    elif now != subject:
        problems.append(
            _problem(
                rules.SUBJECT_MISMATCH,
                str(model),
                f"model digest is sha256:{now}, the attestation is for sha256:{subject}",
            )
        )
    else:
        checked.append(f"model digest sha256:{now} is the attested subject")
    return f"sha256:{now}"


def _check_dataset(
    name: str,
    path: Path,
    predicate: dict[str, Any],
    where: str,
    options: HashOptions | None,
    problems: list[Problem],
    checked: list[str],
) -> None:
    records = [d for d in predicate.get("datasets") or [] if isinstance(d, dict)]
    record = next((d for d in records if d.get("name") == name), None)
    if record is None:
        known = ", ".join(str(d.get("name")) for d in records) or "none"
        problems.append(
            _problem(
                rules.DATASET_MISMATCH,
                str(path),
                f"dataset {name!r} is not recorded in the attestation (recorded: {known})",
            )
        )
        return
    digest = record.get("digest")
    expected = digest.get("sha256") if isinstance(digest, dict) else None
    try:
        local = current_digest(path, record, where, options)
    except SignatureFormatError as exc:
        problems.append(_problem(rules.ATTESTATION_INVALID, where, exc.problem))
        return
    now = local.manifest.root_digest
    if local.problems or now != expected:
        detail = "; ".join(f"{p.path}: {p.detail}" for p in local.problems[:5])
        message = f"dataset {name!r} has digest sha256:{now}, attested sha256:{expected}"
        problems.append(
            _problem(
                rules.DATASET_MISMATCH, str(path), message + (f" ({detail})" if detail else "")
            )
        )
    else:
        checked.append(f"dataset {name!r} matches sha256:{now}")


def _check_lockfile(
    lockfile: Path, predicate: dict[str, Any], problems: list[Problem], checked: list[str]
) -> None:
    records = [r for r in predicate.get("lockfiles") or [] if isinstance(r, dict)]
    record = next((r for r in records if r.get("name") == lockfile.name), None)
    digest, _ = digest_file(lockfile, what="lockfile")
    raw = record.get("digest") if record else None
    expected = raw.get("sha256") if isinstance(raw, dict) else None
    if expected != digest:
        state = "not recorded" if record is None else f"recorded sha256:{expected}"
        problems.append(
            _problem(
                rules.PROVENANCE_MISMATCH,
                str(lockfile),
                f"lockfile {lockfile.name} has sha256:{digest}; the attestation: {state}",
            )
        )
    else:
        checked.append(f"lockfile {lockfile.name} matches")


def _check_commit(
    commit: str, predicate: dict[str, Any], where: str, problems: list[Problem], checked: list[str]
) -> None:
    source = predicate.get("source")
    recorded = None
    if isinstance(source, dict) and isinstance(source.get("digest"), dict):
        recorded = source["digest"].get("gitCommit")
    if recorded != commit.strip().lower():
        problems.append(
            _problem(
                rules.PROVENANCE_MISMATCH,
                where,
                f"source commit {commit} differs from the attested {recorded or 'none'}",
            )
        )
    else:
        checked.append(f"source commit {commit[:12]} matches")


def _check_scan(
    predicate: dict[str, Any], where: str, problems: list[Problem], checked: list[str]
) -> None:
    scan = predicate.get("scan")
    if not isinstance(scan, dict):
        problems.append(_problem(rules.SCAN_NOT_PASSED, where, "the attestation records no scan"))
        return
    if scan.get("passed") is not True:
        raw = scan.get("reasons")
        reasons = raw if isinstance(raw, list) else []
        why = "; ".join(str(r) for r in reasons) or "the recorded verdict is not 'passed'"
        problems.append(_problem(rules.SCAN_NOT_PASSED, where, f"the recorded scan failed: {why}"))
        return
    report = scan.get("report")
    digest = report.get("digest") if isinstance(report, dict) else None
    sha = digest.get("sha256", "?") if isinstance(digest, dict) else "?"
    checked.append(f"recorded scan passed (report sha256:{str(sha)[:16]}…)")


def digest_bytes(data: bytes) -> str:
    """``sha256:<hex>`` of bytes (used for report digests in messages and tests)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
