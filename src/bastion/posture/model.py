"""The accepted posture of a project, as a versioned JSON document (``.bastion-posture.json``).

>>> from bastion.posture.model import Posture
>>> doc = Posture(project="demo").to_json()
>>> Posture.from_json(doc, source="(doctest)").project
'demo'

A posture holds what ``bastion posture check`` compares: finding fingerprints, model and dataset
digests (model-signing manifest roots, as ``bastion sign`` computes them), the dependency set,
assessment metrics and the digest of the policy's ``[gateway]`` table. The file is meant to be
committed: a change of accepted posture is then reviewed like code. Reading is strict: a file
that is not a posture document, or has a wrong field, is a :class:`PostureFileError` naming the
file and the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from bastion import __version__
from bastion.core import Severity
from bastion.errors import BastionError

SCHEMA = "bastion/posture"
VERSION = "1"
#: Default file name, in the project folder.
FILE_NAME = ".bastion-posture.json"
#: Largest posture file read.
MAX_BYTES = 64 * 1024 * 1024

T = TypeVar("T")


class PostureFileError(BastionError):
    """A posture document cannot be read or is invalid: names the file and the problem."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class AcceptedFinding:
    """A finding that was present, and so accepted, when the posture was set."""

    fingerprint: str
    rule_id: str
    severity: Severity
    path: str
    member: str | None = None
    title: str = ""


@dataclass(frozen=True)
class DigestEntry:
    """A model or dataset: where it is (relative to the project), its digest, its format."""

    name: str
    path: str
    digest: str
    format: str = ""
    signer: str | None = None


@dataclass(frozen=True)
class DependencyEntry:
    """A package: exact version when pinned, else the constraint, and the file that says so."""

    name: str
    requirement: str
    source: str
    ecosystem: str = "pypi"
    line: int | None = None

    @property
    def key(self) -> str:
        """``ecosystem:name``."""
        return f"{self.ecosystem}:{self.name}"


@dataclass(frozen=True)
class MetricEntry:
    """An accepted assessment metric."""

    name: str
    value: float
    threshold: float | None = None


@dataclass(frozen=True)
class Posture:
    """Everything ``bastion baseline set`` accepts for a project."""

    project: str
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    tool_version: str = __version__
    findings: tuple[AcceptedFinding, ...] = ()
    models: tuple[DigestEntry, ...] = ()
    datasets: tuple[DigestEntry, ...] = ()
    dependencies: tuple[DependencyEntry, ...] = ()
    metrics: tuple[MetricEntry, ...] = ()
    metrics_source: str | None = None
    gateway_digest: str | None = None
    policy_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The document as a JSON-ready dict (sorted for stable diffs in review)."""
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "project": self.project,
            "created": self.created,
            "tool_version": self.tool_version,
            "policy_digest": self.policy_digest,
            "gateway_digest": self.gateway_digest,
            "findings": [
                {
                    "fingerprint": f.fingerprint,
                    "rule_id": f.rule_id,
                    "severity": f.severity.label,
                    "path": f.path,
                    **({"member": f.member} if f.member else {}),
                    "title": f.title,
                }
                for f in sorted(self.findings, key=lambda f: (f.path, f.rule_id, f.fingerprint))
            ],
            "models": [_digest_dict(m) for m in sorted(self.models, key=lambda m: m.path)],
            "datasets": [_digest_dict(d) for d in sorted(self.datasets, key=lambda d: d.name)],
            "dependencies": [
                {
                    "name": d.name,
                    "ecosystem": d.ecosystem,
                    "requirement": d.requirement,
                    "source": d.source,
                    **({"line": d.line} if d.line is not None else {}),
                }
                for d in sorted(self.dependencies, key=lambda d: d.key)
            ],
            "metrics_source": self.metrics_source,
            "metrics": [
                {"name": m.name, "value": m.value, "threshold": m.threshold}
                for m in sorted(self.metrics, key=lambda m: m.name)
            ],
        }

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical document (what the history store indexes)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Posture:
        """Parse and validate a posture document."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PostureFileError(source, f"not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise PostureFileError(source, f"not a posture baseline (expected schema {SCHEMA!r})")
        if data.get("version") != VERSION:
            raise PostureFileError(
                source, f"posture version {data.get('version')!r} is not supported ({VERSION})"
            )
        reader = _Reader(source)
        return cls(
            project=reader.text(data, "project"),
            created=reader.text(data, "created"),
            tool_version=reader.text(data, "tool_version"),
            policy_digest=reader.optional_text(data, "policy_digest"),
            gateway_digest=reader.optional_text(data, "gateway_digest"),
            findings=reader.items(data, "findings", reader.finding),
            models=reader.items(data, "models", reader.digest),
            datasets=reader.items(data, "datasets", reader.digest),
            dependencies=reader.items(data, "dependencies", reader.dependency),
            metrics_source=reader.optional_text(data, "metrics_source"),
            metrics=reader.items(data, "metrics", reader.metric),
        )


def _digest_dict(entry: DigestEntry) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": entry.name,
        "path": entry.path,
        "digest": entry.digest,
        "format": entry.format,
    }
    if entry.signer:
        data["signer"] = entry.signer
    return data


class _Reader:
    """Field-by-field validation with messages that name the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> PostureFileError:
        """An error naming the file and the field."""
        return PostureFileError(self.source, f"{where}: {problem}")

    def text(self, data: dict[str, Any], key: str, where: str = "") -> str:
        """A required string field."""
        value = data.get(key)
        if not isinstance(value, str):
            raise self.fail(f"{where}{key}", "must be a string")
        return value

    def optional_text(self, data: dict[str, Any], key: str, where: str = "") -> str | None:
        """A string field or null."""
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}{key}", "must be a string or null")
        return value

    def number(self, data: dict[str, Any], key: str, where: str, optional: bool = False) -> Any:
        """A number field (floats and integers; booleans refused)."""
        value = data.get(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}{key}", "must be a number")
        return float(value)

    def items(
        self, data: dict[str, Any], key: str, read: Callable[[dict[str, Any], str], T]
    ) -> tuple[T, ...]:
        """A list field whose objects ``read`` validates."""
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        out = []
        for index, item in enumerate(value):
            where = f"{key}[{index}]."
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{index}]", "must be an object")
            out.append(read(item, where))
        return tuple(out)

    def finding(self, item: dict[str, Any], where: str) -> AcceptedFinding:
        """One accepted finding."""
        try:
            severity = Severity.parse(self.text(item, "severity", where))
        except ValueError as exc:
            raise self.fail(f"{where}severity", str(exc)) from None
        return AcceptedFinding(
            fingerprint=self.text(item, "fingerprint", where),
            rule_id=self.text(item, "rule_id", where),
            severity=severity,
            path=self.text(item, "path", where),
            member=self.optional_text(item, "member", where),
            title=self.optional_text(item, "title", where) or "",
        )

    def digest(self, item: dict[str, Any], where: str) -> DigestEntry:
        """One model or dataset digest."""
        return DigestEntry(
            name=self.text(item, "name", where),
            path=self.text(item, "path", where),
            digest=self.text(item, "digest", where),
            format=self.optional_text(item, "format", where) or "",
            signer=self.optional_text(item, "signer", where),
        )

    def dependency(self, item: dict[str, Any], where: str) -> DependencyEntry:
        """One dependency."""
        line = item.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
            raise self.fail(f"{where}line", "must be an integer")
        return DependencyEntry(
            name=self.text(item, "name", where),
            requirement=self.text(item, "requirement", where),
            source=self.text(item, "source", where),
            ecosystem=self.optional_text(item, "ecosystem", where) or "pypi",
            line=line,
        )

    def metric(self, item: dict[str, Any], where: str) -> MetricEntry:
        """One metric."""
        return MetricEntry(
            name=self.text(item, "name", where),
            value=self.number(item, "value", where),
            threshold=self.number(item, "threshold", where, optional=True),
        )
