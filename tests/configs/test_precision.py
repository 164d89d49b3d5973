"""Precision on Dockerfiles a real tool writes: MLflow's own `generate_dockerfile` templates.

Every finding must be defensible, and none of them high or critical: these are the images MLflow
builds for `mlflow models build-docker`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.configs.conftest import scan_files

pytestmark = pytest.mark.slow  # importing MLflow takes seconds

docker_utils = pytest.importorskip("mlflow.models.docker_utils")

INSTALL = "COPY model_dir/ /opt/ml/model\nRUN python -c \"print('deps')\"\n"


@pytest.mark.parametrize(
    ("base", "env_manager"),
    [("ubuntu:24.04", "conda"), ("ubuntu:24.04", "virtualenv"), ("python:3.11-slim", "local")],
)
def test_mlflow_generated_dockerfiles(tmp_path: Path, base: str, env_manager: str) -> None:
    out = tmp_path / "gen"
    out.mkdir()
    docker_utils.generate_dockerfile(str(out), base, INSTALL, "print('serve')", env_manager)
    text = (out / "Dockerfile").read_text()
    result = scan_files(tmp_path / "scan", {"Dockerfile": text})
    found = {f.rule_id for f in result.findings}
    assert not [f for f in result.findings if f.severity.label in {"high", "critical"}]
    # root user, tag without digest, no health check, apt lists removed only in a later layer,
    # and `chmod o+rwX /opt/mlflow/` (world-writable on purpose, for SageMaker serverless)
    assert {"BST-DKR-001", "BST-DKR-003", "BST-DKR-007", "BST-DKR-008", "BST-DKR-013"} <= found
    assert found <= {"BST-DKR-001", "BST-DKR-003", "BST-DKR-007", "BST-DKR-008", "BST-DKR-013"}
    assert result.skipped == ()
