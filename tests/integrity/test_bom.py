"""The CycloneDX 1.6 AI-BOM: content, relationships, and validation against the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bastion.integrity.attestation import AttestInputs, attest_model
from bastion.integrity.bom import BomOptions, build_bom, validate_bom
from bastion.integrity.errors import IntegrityError
from bastion.integrity.keys import KeyPair
from bastion.integrity.signing import KeySigner
from bastion.integrity.verify import Trust
from bastion.scan.deps.lockfiles import LockfileError
from tests.integrity.conftest import safetensors_bytes, write_model

pytest.importorskip("cyclonedx")


@pytest.fixture
def project(tmp_path: Path, key: KeyPair) -> Path:
    """An ML project: an attested HF-style model, a standalone ONNX file, data, a lockfile."""
    root = tmp_path / "proj"
    model = write_model(root / "models" / "bert")
    (root / "models" / "clf.onnx").write_bytes(b"\x08\x07\x12\x04test" + bytes(64))
    (root / "data" / "train").mkdir(parents=True)
    (root / "data" / "train" / "a.csv").write_text("x,y\n1,2\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "sentiment"\nversion = "2.1.0"\n'
        'dependencies = ["torch==2.3.1", "transformers>=4.40"]\n'
    )
    (root / "uv.lock").write_text(UV_LOCK)
    attest_model(
        AttestInputs(
            model=model,
            datasets=(("train", root / "data" / "train"),),
            project=root,
            lockfiles=(root / "uv.lock",),
            source_commit="e" * 40,
        ),
        KeySigner(key.private),
    )
    return root


UV_LOCK = """version = 1
requires-python = ">=3.10"

[[package]]
name = "sentiment"
version = "2.1.0"
source = { editable = "." }
dependencies = [{ name = "torch" }, { name = "transformers" }]

[[package]]
name = "torch"
version = "2.3.1"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.example/torch.whl", hash = "sha256:aa11", size = 1 }]

[[package]]
name = "transformers"
version = "4.41.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "safetensors" }]
sdist = { url = "https://files.example/t.tar.gz", hash = "sha256:bb22", size = 2 }

[[package]]
name = "safetensors"
version = "0.4.3"
source = { registry = "https://pypi.org/simple" }
"""


def _component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(c for c in document["components"] if c["bom-ref"] == ref)


def _depends(document: dict[str, Any], ref: str) -> list[str]:
    entry = next(d for d in document["dependencies"] if d["ref"] == ref)
    return sorted(entry.get("dependsOn", []))


def test_bom_content_and_relationships(project: Path, key: KeyPair) -> None:
    result = build_bom(project, BomOptions(trust=Trust(keys=(key.public,))))
    doc = result.document
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"]["name"] == "sentiment"
    assert (result.models, result.datasets, result.packages) == (2, 1, 3)

    bert = _component(doc, "model:models/bert")
    assert bert["type"] == "machine-learning-model"
    assert len(bert["hashes"][0]["content"]) == 64
    assert {c["name"] for c in bert["components"]} >= {"config.json", "tokenizer/vocab.txt"}
    card = bert["modelCard"]
    assert card["modelParameters"]["architectureFamily"] == "bert"
    assert card["modelParameters"]["modelArchitecture"] == "BertModel"
    dataset_ref = card["modelParameters"]["datasets"][0]["ref"]
    props = {p["name"]: p["value"] for p in card["properties"]}
    assert props["bastion:format"] == "safetensors"
    assert props["bastion:scan:passed"] == "true"
    assert props["bastion:attestation:verified"] == "true"
    assert props["bastion:source:commit"] == "e" * 40

    data = _component(doc, dataset_ref)
    assert data["type"] == "data" and data["name"] == "train"
    assert data["data"][0]["type"] == "dataset"
    torch = _component(doc, "pkg:pypi/torch@2.3.1")
    assert torch["purl"] == "pkg:pypi/torch@2.3.1"
    assert _depends(doc, "model:models/bert") == sorted([dataset_ref, "pkg:pypi/safetensors@0.4.3"])
    onnx = _component(doc, "model:models/clf.onnx")
    assert onnx["modelCard"]["properties"][0]["value"] == "onnx"
    assert _depends(doc, "project") == sorted(
        ["model:models/bert", "model:models/clf.onnx", "pkg:pypi/torch@2.3.1",
         "pkg:pypi/transformers@4.41.0"]
    )  # fmt: skip
    validate_bom(result.text)  # already validated inside; explicit here


def test_framework_packages_are_linked(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_model(root / "m", {"weights.pt": _torch_zip(), "config.json": b"{}"})
    (root / "requirements.txt").write_text("torch==2.3.1\n")
    doc = build_bom(root).document
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert "pkg:pypi/torch@2.3.1" in _depends(doc, model["bom-ref"])


def _torch_zip() -> bytes:
    import io
    import pickle
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def test_unverified_attestation_is_marked(project: Path) -> None:
    doc = build_bom(project).document
    props = {
        p["name"]: p["value"]
        for p in _component(doc, "model:models/bert")["modelCard"]["properties"]
    }
    assert props["bastion:attestation:verified"] == "false"


def test_datasets_given_on_the_command_line(project: Path) -> None:
    extra = project / "data" / "eval"
    extra.mkdir()
    (extra / "b.csv").write_text("x\n1\n")
    result = build_bom(project, BomOptions(datasets=(("eval", extra),)))
    data = _component(result.document, "data:eval")
    assert data["hashes"][0]["alg"] == "SHA-256"
    assert "data:eval" in _depends(result.document, "project")


def test_schema_validation_rejects_a_broken_bom(project: Path) -> None:
    document = json.loads(build_bom(project).text)
    document["components"][0]["type"] = "not-a-type"
    with pytest.raises(IntegrityError, match=r"not valid CycloneDX 1\.6"):
        validate_bom(json.dumps(document))
    document = json.loads(build_bom(project).text)
    model = next(c for c in document["components"] if "modelCard" in c)
    model["modelCard"]["modelParameters"] = {"approach": {"type": "guessing"}}
    with pytest.raises(IntegrityError):
        validate_bom(json.dumps(document))


def test_explicit_bad_lockfile_is_an_error(project: Path) -> None:
    bad = project / "requirements.txt"
    bad.write_text("torch=>2\n")
    with pytest.raises(LockfileError, match=r"requirements.txt:1: invalid requirement"):
        build_bom(project, BomOptions(lockfiles=(bad,)))


def test_unhashable_files_become_warnings(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    (project / "models" / "bert" / "link.bin").symlink_to(outside)
    result = build_bom(project)
    assert any("link.bin not hashed" in w for w in result.warnings)


def test_single_model_file(tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    model.write_bytes(safetensors_bytes(10))
    result = build_bom(model)
    assert result.models == 1
    import hashlib

    component = next(c for c in result.document["components"])
    assert component["hashes"][0]["content"] == hashlib.sha256(model.read_bytes()).hexdigest()
