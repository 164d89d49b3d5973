"""Kubeflow Pipelines: the example pipeline compiles with the bastion components; the IR names
the pinned image, commands and arguments; those commands, run as the container would run them,
pass a clean model and fail a malicious one; bastion's own scanner passes the compiled spec."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.integrations.errors import IntegrationError
from bastion.registry import default_registry
from tests.conftest import inert_command
from tests.formats.pickle import asm

pytest.importorskip("kfp")
from kfp import compiler

from bastion.integrations.kfp import BastionComponents, as_gate, pinned

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "ghcr.io/bastion-ml/bastion:0.1.0@sha256:" + "5d" * 32
runner = CliRunner()
_PLACEHOLDER = re.compile(
    r"\{\{\$\.(inputs|outputs)\.(artifacts|parameters)\['([a-z_]+)'\](?:\.path)?\}\}"
)


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kubeflow_example", ROOT / "examples" / "kubeflow" / "pipeline.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("kfp") / "release-gate.yaml"
    compiler.Compiler().compile(_example().build_pipeline(IMAGE), str(out))
    return out, yaml.safe_load(out.read_text())


def _executor(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["deploymentSpec"]["executors"][f"exec-bastion-{name}"]["container"]  # type: ignore[no-any-return]


def test_executors_run_the_pinned_image(compiled: tuple[Path, dict[str, Any]]) -> None:
    _, spec = compiled
    for name in ("scan", "verify", "assess"):
        container = _executor(spec, name)
        assert container["image"] == IMAGE
        assert container["command"] == ["bastion", name]
    assert _executor(spec, "scan")["args"] == [
        "{{$.inputs.artifacts['model'].path}}",
        "--format",
        "{{$.inputs.parameters['report_format']}}",
        "--output",
        "{{$.outputs.artifacts['report'].path}}",
        '{"IfPresent": {"InputName": "policy", "Then": ["--config", '
        "\"{{$.inputs.artifacts['policy'].path}}\"]}}",
        '{"IfPresent": {"InputName": "fail_on", "Then": ["--fail-on", '
        "\"{{$.inputs.parameters['fail_on']}}\"]}}",
        "--quiet",
    ]
    verify = _executor(spec, "verify")["args"]
    assert verify[0] == "{{$.inputs.artifacts['model'].path}}"
    assert verify[-4:] == ["--format", "json", "--output", "{{$.outputs.artifacts['report'].path}}"]
    assert _executor(spec, "assess")["args"][:3] == [
        "{{$.inputs.parameters['suite']}}",
        "--config",
        '{"Concat": ["{{$.inputs.artifacts[\'project\'].path}}", "/bastion.toml"]}',
    ]


def test_gates_are_uncached_and_bounded(compiled: tuple[Path, dict[str, Any]]) -> None:
    _, spec = compiled
    tasks = spec["root"]["dag"]["tasks"]
    for name, cpu, memory in (("scan", "2", "4G"), ("verify", "2", "4G"), ("assess", "4", "8G")):
        assert tasks[f"bastion-{name}"]["cachingOptions"].get("enableCache") is not True
        resources = _executor(spec, name)["resources"]
        assert (resources["resourceCpuLimit"], resources["resourceMemoryLimit"]) == (cpu, memory)
    assert set(tasks["bastion-assess"]["dependentTasks"]) >= {"bastion-scan", "bastion-verify"}
    assert tasks["bastion-scan"]["inputs"]["artifacts"]["policy"]["taskOutputArtifact"]


def test_bastion_passes_its_own_compiled_pipeline(compiled: tuple[Path, dict[str, Any]]) -> None:
    path, _ = compiled
    assert any(r.id.startswith("BST-KFP-") for r in default_registry().rules())
    result = runner.invoke(app, ["scan", str(path), "-f", "json", "--fail-on", "high"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0
    assert [f for f in report["findings"] if f["severity"] in ("high", "critical")] == []
    # and the same check does fail a spec whose image is only tagged
    loose = path.with_name("loose.yaml")
    loose.write_text(path.read_text().replace("@sha256:" + "5d" * 32, ""))
    found = json.loads(runner.invoke(app, ["scan", str(loose), "-f", "json"]).stdout)
    assert {f["rule_id"] for f in found["findings"]} == {"BST-KFP-002"}


def test_images_must_be_pinned_by_digest() -> None:
    for image in ("ghcr.io/bastion-ml/bastion", "ghcr.io/bastion-ml/bastion:latest",
                  "bastion@sha256:abc", "", "ghcr.io/x/bastion@sha256:" + "A" * 64):  # fmt: skip
        with pytest.raises(IntegrationError, match="pinned by digest"):
            BastionComponents(image)
    assert pinned("registry.local:5000/b@sha256:" + "0" * 64).endswith("0" * 64)


# --- the steps, run as the container runs them ------------------------------------------------


def _resolve(args: list[str], values: dict[str, str]) -> list[str]:
    """Fill KFP placeholders the way the launcher does (absent optional inputs drop out)."""
    out: list[str] = []
    for arg in args:
        if arg.startswith('{"IfPresent"'):
            clause = json.loads(arg)["IfPresent"]
            if clause["InputName"] in values:
                out.extend(_resolve(clause["Then"], values))
        elif arg.startswith('{"Concat"'):
            out.append("".join(_resolve(json.loads(arg)["Concat"], values)))
        else:
            out.append(_PLACEHOLDER.sub(lambda m: values[m.group(3)], arg))
    return out


def _run_step(spec: dict[str, Any], name: str, values: dict[str, str]) -> int:
    container = _executor(spec, name)
    argv = [*container["command"], *_resolve(container["args"], values)]
    assert argv[0] == "bastion"
    return runner.invoke(app, argv[1:]).exit_code


def test_scan_step_fails_the_run_on_a_malicious_model(
    compiled: tuple[Path, dict[str, Any]], tmp_path: Path, marker_dir: Path
) -> None:
    _, spec = compiled
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.pkl").write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")
    report = tmp_path / "report.sarif"
    values = {"model": str(model), "report": str(report), "report_format": "sarif"}
    assert _run_step(spec, "scan", values) == 0
    assert json.loads(report.read_text())["version"] == "2.1.0"
    (model / "custom.pkl").write_bytes(asm.call("acme_ops.layers", "build", "dense"))  # high
    assert _run_step(spec, "scan", values) == 1
    assert _run_step(spec, "scan", {**values, "fail_on": "critical"}) == 0
    (model / "evil.pkl").write_bytes(asm.call("os", "system", inert_command(marker_dir)))
    assert _run_step(spec, "scan", {**values, "fail_on": "critical"}) == 1
    policy = tmp_path / "bastion.toml"
    policy.write_text('disable = ["BST-PKL"]\n')
    assert _run_step(spec, "scan", {**values, "policy": str(policy)}) == 0


def test_verify_step_checks_the_signature(
    compiled: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, spec = compiled
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 64)
    key = tmp_path / "signer.pem"
    assert runner.invoke(app, ["keygen", str(key)]).exit_code == 0
    signed = runner.invoke(app, ["sign", str(model), "--key", str(key), "--quiet"])
    assert signed.exit_code == 0, signed.output
    values = {
        "model": str(model),
        "public_key": str(key.with_name("signer.pem.pub")),
        "report": str(tmp_path / "verify.json"),
    }
    assert _run_step(spec, "verify", values) == 0
    (model / "weights.bin").write_bytes(b"\x01" * 64)
    assert _run_step(spec, "verify", values) == 1


def test_assess_step_uses_flags_the_cli_has(compiled: tuple[Path, dict[str, Any]]) -> None:
    _, spec = compiled
    suites = runner.invoke(app, ["assess", "all", "--help"], terminal_width=200)
    if suites.exit_code != 0:  # the command not wired into the app yet: its own module
        assess = pytest.importorskip("bastion.cli.assess")
        suites = runner.invoke(assess.app, ["all", "--help"], terminal_width=200)
    assert suites.exit_code == 0, suites.output
    args = _executor(spec, "assess")["args"]
    flags = {a for a in args if a.startswith("--")}
    assert flags == {"--config", "--format", "--output", "--report-dir", "--quiet"}
    assert flags <= set(re.findall(r"--[a-z][a-z-]+", suites.output))


def test_as_gate_configures_the_task() -> None:
    calls: list[tuple[str, object]] = []

    class Task:
        def set_caching_options(self, enable: bool) -> None:
            calls.append(("cache", enable))

        def set_cpu_limit(self, cpu: str) -> None:
            calls.append(("cpu", cpu))

        def set_memory_limit(self, memory: str) -> None:
            calls.append(("memory", memory))

    task = Task()
    assert as_gate(task, cpu="1", memory="2G") is task
    assert calls == [("cache", False), ("cpu", "1"), ("memory", "2G")]
