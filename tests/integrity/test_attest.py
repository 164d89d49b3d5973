"""Attestations: building them, and the chain check failing on each broken link."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from bastion.integrity._bundle import read_bundle, sign_statement
from bastion.integrity._git import read_source, strip_credentials
from bastion.integrity.attestation import PREDICATE_TYPE, AttestInputs, attest_model
from bastion.integrity.chain import ChainResult, verify_attestation
from bastion.integrity.errors import ReportFormatError
from bastion.integrity.keys import KeyPair, load_private_key
from bastion.integrity.signing import KeySigner, sign_model
from bastion.integrity.verify import Trust
from tests.conftest import inert_command
from tests.integrity.conftest import write_model


@pytest.fixture
def project(tmp_path: Path, model_dir: Path) -> Path:
    """A project: the model, a training set, a lockfile and a git checkout."""
    root = tmp_path
    (root / "data" / "train").mkdir(parents=True)
    (root / "data" / "train" / "part-0.csv").write_text("x,y\n1,0\n2,1\n")
    (root / "requirements.txt").write_text("torch==2.3.1\nsafetensors==0.4.3\n")
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    (git / "config").write_text(
        '[remote "origin"]\n\turl = https://user:s3cret@example.com/org/repo.git\n'
    )
    return root


def _attest(project: Path, model: Path, key: KeyPair, **extra: Any) -> Path:
    inputs = AttestInputs(
        model=model,
        datasets=(("train", project / "data" / "train"),),
        project=project,
        lockfiles=(project / "requirements.txt",),
        **extra,
    )
    return attest_model(inputs, KeySigner(key.private)).attestation


def _check(
    model: Path, attestation: Path, key: KeyPair, project: Path, **extra: Any
) -> ChainResult:
    return verify_attestation(
        model,
        attestation,
        Trust(keys=(key.public,)),
        datasets=(("train", project / "data" / "train"),),
        lockfiles=(project / "requirements.txt",),
        **extra,
    )


def test_attestation_records_every_link(project: Path, model_dir: Path, key: KeyPair) -> None:
    attestation = _attest(project, model_dir, key)
    assert attestation == model_dir / "model.att.json"
    statement = read_bundle(attestation).statement()
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    predicate = statement["predicate"]
    assert predicate["datasets"][0]["name"] == "train"
    assert predicate["source"]["digest"]["gitCommit"] == "a" * 40
    assert predicate["source"]["uri"] == "https://example.com/org/repo.git"  # no credentials
    assert predicate["lockfiles"][0]["packages"] == 2
    assert predicate["scan"]["passed"] is True
    # the signature made before and the attestation agree on the model digest
    signed = sign_model(model_dir, KeySigner(key.private)).manifest.root_digest
    assert statement["subject"][0]["digest"]["sha256"] == signed
    result = _check(model_dir, attestation, key, project, source_commit="a" * 40)
    assert result.verified, result.problems
    assert len(result.checked) == 6


def test_each_broken_link_is_named(
    project: Path, model_dir: Path, key: KeyPair, other_key: KeyPair
) -> None:
    attestation = _attest(project, model_dir, key)
    untrusted = verify_attestation(model_dir, attestation, Trust(keys=(other_key.public,)))
    assert [p.rule.id for p in untrusted.problems] == ["BST-INT-008"]

    (model_dir / "config.json").write_text('{"model_type": "evil"}')
    (project / "data" / "train" / "poison.csv").write_text("x,y\n9,9\n")
    (project / "requirements.txt").write_text("torch==2.3.0\n")
    result = _check(model_dir, attestation, key, project, source_commit="b" * 40)
    assert [p.rule.id for p in result.problems] == [
        "BST-INT-009",
        "BST-INT-010",
        "BST-INT-013",
        "BST-INT-013",
    ]
    assert "train" in result.problems[1].message
    assert not result.verified


def test_dataset_not_recorded(project: Path, model_dir: Path, key: KeyPair) -> None:
    attestation = _attest(project, model_dir, key)
    result = verify_attestation(
        model_dir, attestation, Trust(keys=(key.public,)), datasets=(("eval", project / "data"),)
    )
    assert [p.rule.id for p in result.problems] == ["BST-INT-010"]
    assert "not recorded" in result.problems[0].message


def test_failed_scan_is_recorded_and_breaks_the_chain(
    project: Path, make_model: Any, key: KeyPair, marker_dir: Path
) -> None:
    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            import os

            return (os.system, (inert_command(marker_dir),))

    model = make_model("evil", {"model.pkl": pickle.dumps(Payload(), protocol=2)})
    attestation = _attest(project, model, key)
    predicate = read_bundle(attestation).statement()["predicate"]
    assert predicate["scan"]["passed"] is False
    assert predicate["scan"]["bySeverity"]["critical"] >= 1
    result = _check(model, attestation, key, project)
    assert [p.rule.id for p in result.problems] == ["BST-INT-011"]


def test_scan_report_file_is_recorded_by_digest(
    project: Path, model_dir: Path, key: KeyPair
) -> None:
    report = project / "scan.json"
    report.write_text(
        json.dumps(
            {
                "schema": "bastion/scan-report",
                "tool": {"name": "bastion", "version": "0.1.0"},
                "summary": {"passed": True, "by_severity": {"high": 0}, "reasons": []},
            }
        )
    )
    assessment = project / "robustness.json"
    assessment.write_text(json.dumps({"metric": "pgd_accuracy", "value": 0.71}))
    attestation = _attest(project, model_dir, key, scan_report=report, assessments=(assessment,))
    predicate = read_bundle(attestation).statement()["predicate"]
    import hashlib

    assert (
        predicate["scan"]["report"]["digest"]["sha256"]
        == hashlib.sha256(report.read_bytes()).hexdigest()
    )
    assert predicate["assessments"][0]["document"] == {"metric": "pgd_accuracy", "value": 0.71}
    report.write_text("{not json")
    with pytest.raises(ReportFormatError, match="not JSON"):
        _attest(project, model_dir, key, scan_report=report)
    report.write_text('{"schema": "other"}')
    with pytest.raises(ReportFormatError, match="not a bastion JSON scan report"):
        _attest(project, model_dir, key, scan_report=report)


def _signed(statement: dict[str, Any], key: KeyPair, path: Path) -> Path:
    path.write_text(sign_statement(statement, load_private_key(key.private)))
    return path


def test_attestation_without_scan_or_wrong_type(
    project: Path, model_dir: Path, key: KeyPair
) -> None:
    attestation = _attest(project, model_dir, key)
    statement = read_bundle(attestation).statement()
    del statement["predicate"]["scan"]
    no_scan = _signed(statement, key, project / "no-scan.att.json")
    result = verify_attestation(model_dir, no_scan, Trust(keys=(key.public,)))
    assert [p.rule.id for p in result.problems] == ["BST-INT-011"]
    assert "records no scan" in result.problems[0].message
    relaxed = verify_attestation(model_dir, no_scan, Trust(keys=(key.public,)), require_scan=False)
    assert relaxed.verified
    signature = sign_model(model_dir, KeySigner(key.private)).signature
    wrong = verify_attestation(model_dir, signature, Trust(keys=(key.public,)))
    assert [p.rule.id for p in wrong.problems] == ["BST-INT-008"]
    assert "is not" in wrong.problems[0].message


def test_corrupted_attestation_is_a_finding_not_a_crash(
    project: Path, model_dir: Path, key: KeyPair
) -> None:
    attestation = _attest(project, model_dir, key)
    for junk in ("", "{}", "[1, 2]", attestation.read_text()[:-40], "\xff\xfe"):
        attestation.write_text(junk)
        result = verify_attestation(model_dir, attestation, Trust(keys=(key.public,)))
        assert [p.rule.id for p in result.problems] == ["BST-INT-008"], junk


def test_single_file_model_attestation(project: Path, key: KeyPair) -> None:
    model = project / "clf.onnx"
    model.write_bytes(b"\x08\x07" + bytes(100))
    attestation = _attest(project, model, key)
    assert attestation == project / "clf.onnx.att.json"
    assert _check(model, attestation, key, project).verified


def test_git_reading_and_credentials(tmp_path: Path) -> None:
    assert read_source(tmp_path) is None
    git = tmp_path / ".git"
    git.mkdir()
    (git / "HEAD").write_text("ref: refs/heads/dev\n")
    (git / "packed-refs").write_text("# pack-refs\n" + "c" * 40 + " refs/heads/dev\n")
    found = read_source(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else tmp_path)
    assert found is not None and found.commit == "c" * 40 and found.ref == "refs/heads/dev"
    (git / "HEAD").write_text("ref: ../../../etc/passwd\n")
    assert read_source(tmp_path) is None
    assert strip_credentials("https://tok:x@github.com/a/b") == "https://github.com/a/b"
    assert strip_credentials("git@github.com:a/b.git") == "git@github.com:a/b.git"


def test_attest_dataset_given_as_folder_only(tmp_path: Path, key: KeyPair) -> None:
    model = write_model(tmp_path / "m")
    inputs = AttestInputs(model=model, project=tmp_path, source_commit="d" * 40)
    result = attest_model(inputs, KeySigner(key.private))
    assert result.statement["predicate"]["source"]["origin"] == "flag"
    with pytest.raises(ReportFormatError, match="full git commit"):
        attest_model(
            AttestInputs(model=model, project=tmp_path, source_commit="abc"),
            KeySigner(key.private),
        )
