"""Pieces of the AI-BOM: what bastion knows about each model, dataset and package, as plain
values the builder turns into CycloneDX components (and, for what the library cannot express,
``modelCard`` and ``data`` blocks injected into the JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.integrity._bundle import read_bundle
from bastion.integrity._discover import ModelUnit
from bastion.integrity.chain import read_predicate
from bastion.integrity.errors import IntegrityError
from bastion.integrity.hashing import LocalManifest
from bastion.integrity.verify import Trust, authenticate

#: Python packages that provide each framework (a model depends on those the project pins).
FRAMEWORK_PACKAGES: dict[str, tuple[str, ...]] = {
    "PyTorch": ("torch",),
    "ONNX": ("onnxruntime", "onnxruntime-gpu", "onnx"),
    "Keras": ("keras", "tensorflow"),
    "Keras (HDF5)": ("keras", "tensorflow", "h5py"),
    "TensorFlow": ("tensorflow", "tensorflow-cpu"),
    "TensorFlow Lite": ("tflite-runtime", "tensorflow"),
    "safetensors": ("safetensors",),
    "transformers": ("transformers",),
    "GGUF (llama.cpp)": ("llama-cpp-python", "gguf"),
    "joblib": ("joblib", "scikit-learn"),
    "pickle": ("scikit-learn", "joblib"),
}


@dataclass(frozen=True)
class AttestedFacts:
    """What an attestation says about a model, and whether its signature was checked."""

    path: Path
    verified: bool
    signer: str | None
    subject: str
    predicate: dict[str, Any]

    @property
    def datasets(self) -> list[dict[str, Any]]:
        """Dataset records (name, digest, files, bytes)."""
        return [d for d in self.predicate.get("datasets") or [] if isinstance(d, dict)]


@dataclass
class ModelFacts:
    """A model unit with its manifest and, when found, its attestation."""

    unit: ModelUnit
    local: LocalManifest
    attestation: AttestedFacts | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """SHA-256 of the file (file model) or the model-signing manifest root (folder)."""
        if self.unit.is_folder:
            return self.local.manifest.root_digest
        return self.local.manifest.resources[0].digest


def read_attestation(path: Path, trust: Trust | None) -> AttestedFacts | str:
    """Read an attestation; authenticated when ``trust`` is given. A string says why not."""
    try:
        bundle = read_bundle(path)
        verified, signer = False, None
        if trust is not None:
            outcome = authenticate(bundle, trust)
            if isinstance(outcome, str):
                return f"{path}: {outcome}"
            verified, signer = True, outcome.signer
        subject, predicate = read_predicate(bundle.statement(), str(path))
    except IntegrityError as exc:
        return str(exc)
    return AttestedFacts(path, verified, signer, subject, predicate)


def model_card(facts: ModelFacts, dataset_refs: list[str]) -> dict[str, Any]:
    """A CycloneDX 1.6 ``modelCard`` with what bastion knows (config, formats, evidence)."""
    config = facts.unit.config
    parameters: dict[str, Any] = {}
    if isinstance(config.get("model_type"), str):
        parameters["architectureFamily"] = config["model_type"]
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        parameters["modelArchitecture"] = architectures[0]
    if dataset_refs:
        parameters["datasets"] = [{"ref": ref} for ref in dataset_refs]
    properties = [
        {"name": "bastion:format", "value": ",".join(facts.unit.formats)},
        {"name": "bastion:framework", "value": ",".join(facts.unit.frameworks)},
    ]
    properties.extend(
        {"name": f"bastion:config:{key}", "value": str(config[key])}
        for key in ("torch_dtype", "transformers_version", "vocab_size", "num_hidden_layers")
        if isinstance(config.get(key), str | int) and not isinstance(config.get(key), bool)
    )
    properties.extend(_attestation_properties(facts.attestation))
    card: dict[str, Any] = {"properties": properties}
    if parameters:
        card = {"modelParameters": parameters, **card}
    return card


def _attestation_properties(facts: AttestedFacts | None) -> list[dict[str, str]]:
    if facts is None:
        return []
    props = [
        {"name": "bastion:attestation", "value": facts.path.name},
        {"name": "bastion:attestation:verified", "value": str(facts.verified).lower()},
    ]
    if facts.signer:
        props.append({"name": "bastion:attestation:signer", "value": facts.signer})
    scan = facts.predicate.get("scan")
    if isinstance(scan, dict):
        props.append({"name": "bastion:scan:passed", "value": str(scan.get("passed")).lower()})
        report = scan.get("report")
        digest = report.get("digest") if isinstance(report, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            props.append({"name": "bastion:scan:report-sha256", "value": digest["sha256"]})
        counts = scan.get("bySeverity")
        if isinstance(counts, dict):
            summary = ",".join(f"{k}={v}" for k, v in counts.items())
            props.append({"name": "bastion:scan:findings", "value": summary})
    source = facts.predicate.get("source")
    if isinstance(source, dict) and isinstance(source.get("digest"), dict):
        commit = source["digest"].get("gitCommit")
        if isinstance(commit, str):
            props.append({"name": "bastion:source:commit", "value": commit})
        if isinstance(source.get("uri"), str):
            props.append({"name": "bastion:source:uri", "value": source["uri"]})
    for lock in facts.predicate.get("lockfiles") or []:
        digest = lock.get("digest") if isinstance(lock, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            props.append(
                {"name": f"bastion:lockfile:{lock.get('name')}", "value": digest["sha256"]}
            )
    for assessment in facts.predicate.get("assessments") or []:
        digest = assessment.get("digest") if isinstance(assessment, dict) else None
        if isinstance(digest, dict) and isinstance(digest.get("sha256"), str):
            name = f"bastion:assessment:{assessment.get('name')}"
            props.append({"name": name, "value": digest["sha256"]})
    return props


def dataset_data(name: str, files: object, size: object, origin: str) -> list[dict[str, Any]]:
    """The ``data`` block of a dataset component (CycloneDX componentData)."""
    properties = [{"name": "bastion:origin", "value": origin}]
    if isinstance(files, int):
        properties.append({"name": "bastion:files", "value": str(files)})
    if isinstance(size, int):
        properties.append({"name": "bastion:bytes", "value": str(size)})
    return [{"type": "dataset", "name": name, "contents": {"properties": properties}}]


def project_identity(project: Path) -> tuple[str, str | None]:
    """Name and version from ``pyproject.toml`` [project], else the folder name."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    folder = project if project.is_dir() else project.parent
    name = folder.resolve().name or "project"
    pyproject = folder / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8")) if pyproject.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    meta = data.get("project")
    if not isinstance(meta, dict):
        return name, None
    version = meta.get("version")
    declared = meta.get("name")
    return (declared if isinstance(declared, str) else name), (
        version if isinstance(version, str) else None
    )


def to_json(value: Any) -> str:
    """Compact JSON for property values."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
