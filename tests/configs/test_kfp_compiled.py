"""Precision on real compiler output: pipelines compiled by the installed KFP SDK."""

# NOTE: no `from __future__ import annotations`: KFP reads the component signatures at run time.
import time
from pathlib import Path

import pytest

from tests.configs.conftest import DIGEST, hits, scan_files

kfp = pytest.importorskip("kfp")
pytestmark = pytest.mark.slow  # the KFP SDK takes seconds to import and compile
from kfp import compiler, dsl  # noqa: E402


@dsl.component(base_image=f"python:3.11-slim@{DIGEST}", packages_to_install=["pandas==2.2.2"])
def prepare(rows: int) -> str:
    return str(rows)


@dsl.component(base_image="python:3.11", packages_to_install=["transformers", "torch>=2"])
def train(data: str, hf_token: str, epochs: int = 3) -> None:
    from transformers import AutoModel

    AutoModel.from_pretrained(data, trust_remote_code=True, token=hf_token)


@dsl.pipeline(name="churn")
def insecure(rows: int = 100, hf_token: str = "") -> None:
    data = prepare(rows=rows).set_cpu_limit("2").set_memory_limit("4G")
    train(data=data.output, hf_token=hf_token)


@dsl.pipeline(name="prepare-only")
def secure(rows: int = 100) -> None:
    prepare(rows=rows).set_cpu_limit("2").set_memory_limit("4G")


def compiled(tmp_path: Path, pipeline: object, name: str) -> str:
    target = tmp_path / "build" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(target))
    return target.read_text()


def test_compiled_pipelines(tmp_path: Path) -> None:
    start = time.monotonic()
    result = scan_files(
        tmp_path / "repo",
        {
            "pipelines/insecure.yaml": compiled(tmp_path, insecure, "insecure.yaml"),
            "pipelines/secure.yaml": compiled(tmp_path, secure, "secure.yaml"),
        },
    )
    by_file: dict[str, set[str]] = {}
    for finding in result.findings:
        by_file.setdefault(finding.location.path, set()).add(finding.rule_id)
    assert "pipelines/secure.yaml" not in by_file  # KFP's own bootstrap install is not reported
    assert by_file["pipelines/insecure.yaml"] == {
        "BST-KFP-002",  # python:3.11 without a digest
        "BST-KFP-003",  # hf_token parameter
        "BST-KFP-004",  # transformers, torch>=2 at run time
        "BST-KFP-005",  # trust_remote_code=True in the component source
        "BST-KFP-006",  # train has no limits
    }
    assert result.skipped == ()
    assert time.monotonic() - start < 30


def test_compiled_line_numbers_point_at_the_spec(tmp_path: Path) -> None:
    from tests.configs.conftest import manifest

    text = compiled(tmp_path, insecure, "insecure.yaml")
    lines = text.split("\n")
    for rule, line in hits(manifest(text)):
        assert line is not None and 1 <= line <= len(lines), rule
        if rule == "BST-KFP-004":
            assert "pip" in lines[line - 1]
        if rule == "BST-KFP-002":
            assert "image:" in lines[line - 1]
