"""Release attestations: a signed in-toto statement binding a model to its data, code and scan.

>>> from pathlib import Path
>>> from bastion.integrity.attestation import AttestInputs, attest_model
>>> from bastion.integrity.signing import KeySigner
>>> inputs = AttestInputs(model=Path("models/bert"), datasets=(("train", Path("data/train")),))
>>> result = attest_model(inputs, KeySigner(Path("release.pem")))   # doctest: +SKIP
>>> result.statement["predicate"]["scan"]["passed"]                  # doctest: +SKIP
True

The statement (``https://in-toto.io/Statement/v1``) has one subject: the model's name and its
manifest digest (the same SHA-256 a model-signing signature of the model carries). Its predicate
type is bastion's own, :data:`PREDICATE_TYPE`, rather than SLSA Provenance v1: SLSA provenance
is the *builder's* account of a build (``builder.id`` vouches for how the subject was produced,
which is what SLSA levels grade), while bastion sees the inputs after the fact and records
verification results (a scan verdict, assessment reports) that SLSA has no field for. Borrowing
SLSA's shape with bastion as the builder would claim a guarantee it does not give. The predicate
reuses in-toto ResourceDescriptor conventions (``name``/``digest``) so tooling can read it:

``model``        name, serialization used for the subject digest, file count, bytes
``datasets``     one record per dataset folder: name, ``digest.sha256`` (its manifest digest),
                 serialization, file count, bytes
``source``       ``digest.gitCommit``, ``uri`` (credentials stripped), ``ref``, how it was found
``lockfiles``    name, ``digest.sha256`` of the file, number of packages it pins
``scan``         the report's ``digest.sha256`` and name, ``passed``, counts by severity, reasons
``assessments``  name, ``digest.sha256`` and the JSON document itself (opaque to bastion)
``attestedAt``, ``attester``

It is signed exactly like a model signature (Sigstore bundle, DSSE envelope).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.integrity._git import read_source
from bastion.integrity.errors import ReportFormatError
from bastion.integrity.hashing import HashOptions, LocalManifest
from bastion.integrity.manifest import STATEMENT_TYPE
from bastion.integrity.signing import (
    Signer,
    SignOptions,
    default_attestation_path,
    manifest_for_signing,
    relative_inside,
    write_text_atomic,
)
from bastion.policy.model import Policy

PREDICATE_TYPE = "https://github.com/bastion-ml/bastion/attestation/model-release/v1"
#: Largest report or assessment document read; larger assessments are recorded by digest only.
MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_INLINE_DOCUMENT = 4 * 1024 * 1024


@dataclass(frozen=True)
class AttestInputs:
    """Everything an attestation records; missing parts are simply absent from it."""

    model: Path
    datasets: tuple[tuple[str, Path], ...] = ()
    project: Path | None = None
    source_commit: str | None = None
    source_uri: str | None = None
    lockfiles: tuple[Path, ...] = ()
    scan_report: Path | None = None
    scan_output: Path | None = None
    policy: Policy = field(default_factory=Policy)
    assessments: tuple[Path, ...] = ()
    sign_options: SignOptions = field(default_factory=SignOptions)


@dataclass(frozen=True)
class AttestResult:
    """The signed statement, where it was written and the model digest it attests."""

    attestation: Path
    statement: dict[str, Any]
    model_digest: str
    scan_passed: bool
    seconds: float


def digest_file(path: Path, *, what: str) -> tuple[str, bytes]:
    """SHA-256 and content of a bounded file (a report or a lockfile)."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportFormatError(str(path), f"{what} is larger than {MAX_REPORT_BYTES} bytes")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportFormatError(str(path), f"{what} not found") from None
    except OSError as exc:
        raise ReportFormatError(str(path), f"cannot read {what}: {exc.strerror or exc}") from exc
    return hashlib.sha256(data).hexdigest(), data


def _load_json(data: bytes, path: Path, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ReportFormatError(str(path), f"{what} is not JSON: {exc}") from None


def folder_record(name: str, local: LocalManifest) -> dict[str, Any]:
    """A dataset or model record: name, manifest digest, serialization, size."""
    return {
        "name": name,
        "digest": {"sha256": local.manifest.root_digest},
        "serialization": local.manifest.serialization.to_json(),
        "ignorePatterns": list(local.manifest.ignore_patterns),
        "files": local.files,
        "bytes": local.bytes_total,
    }


def scan_record_from_report(path: Path) -> dict[str, Any]:
    """Read a ``bastion scan --format json`` report: its digest and verdict."""
    digest, data = digest_file(path, what="scan report")
    report = _load_json(data, path, "scan report")
    summary = report.get("summary") if isinstance(report, dict) else None
    if not isinstance(summary, dict) or report.get("schema") != "bastion/scan-report":
        raise ReportFormatError(str(path), "not a bastion JSON scan report (schema, summary)")
    passed = summary.get("passed")
    if not isinstance(passed, bool):
        raise ReportFormatError(str(path), "scan report summary has no boolean 'passed'")
    tool = report.get("tool") if isinstance(report.get("tool"), dict) else {}
    return {
        "report": {"name": path.name, "digest": {"sha256": digest}},
        "tool": tool,
        "passed": passed,
        "bySeverity": summary.get("by_severity", {}),
        "reasons": summary.get("reasons", []),
        "skipped": summary.get("skipped", 0),
    }


def scan_record_by_running(model: Path, policy: Policy, output: Path | None) -> dict[str, Any]:
    """Scan the model now (statically), evaluate the policy, digest the JSON report."""
    from bastion.policy.evaluate import evaluate
    from bastion.registry import default_registry
    from bastion.report import OutputFormat, ReportInput, reporter_for
    from bastion.scan.engine import ScanOptions, scan
    from bastion.scan.interface import ScanSettings

    settings = ScanSettings(
        limits=policy.limits,
        allow_globals=policy.allow_globals,
        deny_globals=policy.deny_globals,
    )
    registry = default_registry()
    result = scan(model, ScanOptions(settings=settings, exclude=policy.exclude), registry=registry)
    verdict = evaluate(result, policy)
    text = reporter_for(OutputFormat.JSON).render(ReportInput(result, verdict, registry))
    if output is not None:
        write_text_atomic(output, text)
    counts = dict.fromkeys(("info", "low", "medium", "high", "critical"), 0)
    for finding in verdict.findings:
        counts[finding.severity.label] += 1
    return {
        "report": {
            "name": output.name if output else "scan-report.json",
            "digest": {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()},
        },
        "tool": {"name": "bastion", "version": __version__},
        "passed": verdict.passed,
        "bySeverity": counts,
        "reasons": list(verdict.reasons),
        "skipped": len(result.skipped),
        "policy": {"failOn": policy.fail_on.label, "source": policy.source},
    }


def lockfile_record(path: Path) -> dict[str, Any]:
    """A lockfile's digest and, when it parses, how many packages it pins."""
    from bastion.scan.deps.lockfiles import LockfileError, read_lockfile

    digest, _ = digest_file(path, what="lockfile")
    record: dict[str, Any] = {"name": path.name, "digest": {"sha256": digest}}
    try:
        record["packages"] = len(read_lockfile(path))
    except LockfileError:
        record["packages"] = None
    return record


def assessment_record(path: Path) -> dict[str, Any]:
    """An assessment report: digest, and the document itself when it is small JSON."""
    digest, data = digest_file(path, what="assessment report")
    record: dict[str, Any] = {"name": path.name, "digest": {"sha256": digest}}
    if len(data) <= MAX_INLINE_DOCUMENT:
        record["document"] = _load_json(data, path, "assessment report")
    return record


def build_statement(
    inputs: AttestInputs, side_files: tuple[str, ...] = ()
) -> tuple[dict[str, Any], LocalManifest]:
    """Hash everything and assemble the (unsigned) statement."""
    model_local = manifest_for_signing(inputs.model, inputs.sign_options, side_files)
    dataset_options = SignOptions(hashing=inputs.sign_options.hashing)
    datasets = [
        folder_record(name, manifest_for_signing(path, dataset_options))
        for name, path in inputs.datasets
    ]
    predicate: dict[str, Any] = {
        "model": folder_record(model_local.manifest.name, model_local),
        "datasets": datasets,
        "attestedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "attester": {"name": "bastion", "version": __version__},
    }
    source = _source(inputs)
    if source:
        predicate["source"] = source
    predicate["lockfiles"] = [lockfile_record(p) for p in inputs.lockfiles]
    if inputs.scan_report is not None:
        predicate["scan"] = scan_record_from_report(inputs.scan_report)
    else:
        predicate["scan"] = scan_record_by_running(inputs.model, inputs.policy, inputs.scan_output)
    predicate["assessments"] = [assessment_record(p) for p in inputs.assessments]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": model_local.manifest.name,
                "digest": {"sha256": model_local.manifest.root_digest},
            }
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return statement, model_local


def _source(inputs: AttestInputs) -> dict[str, Any] | None:
    if inputs.source_commit:
        commit = inputs.source_commit.strip().lower()
        if not all(c in "0123456789abcdef" for c in commit) or len(commit) not in (40, 64):
            raise ReportFormatError("--source-commit", f"{commit!r} is not a full git commit id")
        record: dict[str, Any] = {"digest": {"gitCommit": commit}, "origin": "flag"}
        if inputs.source_uri:
            record["uri"] = inputs.source_uri
        return record
    found = read_source(inputs.project or Path.cwd())
    if found is None:
        return None
    record = {"digest": {"gitCommit": found.commit}, "origin": "git"}
    if inputs.source_uri or found.uri:
        record["uri"] = inputs.source_uri or found.uri
    if found.ref:
        record["ref"] = found.ref
    return record


def attest_model(
    inputs: AttestInputs,
    signer: Signer,
    output: Path | None = None,
    *,
    hashing: HashOptions | None = None,
) -> AttestResult:
    """Build, sign and write the attestation (default ``model.att.json`` beside the model)."""
    started = time.perf_counter()
    output = output or default_attestation_path(inputs.model)
    if hashing is not None:
        options = dataclasses.replace(inputs.sign_options, hashing=hashing)
        inputs = dataclasses.replace(inputs, sign_options=options)
    inside = relative_inside(output, inputs.model) if inputs.model.is_dir() else None
    statement, model_local = build_statement(inputs, (inside,) if inside else ())
    write_text_atomic(output, signer.sign(statement))
    return AttestResult(
        attestation=output,
        statement=statement,
        model_digest=f"sha256:{model_local.manifest.root_digest}",
        scan_passed=bool(statement["predicate"]["scan"]["passed"]),
        seconds=time.perf_counter() - started,
    )
