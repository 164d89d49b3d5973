"""The container image definition: bastion's own Dockerfile checks pass it, and its structure
holds (multi-stage, base pinned by digest, non-root, health check, no build tools or package
installs in the final stage, hash-pinned dependencies covering what the image installs).

No container engine runs here: these tests read the files; the image is not built."""

from __future__ import annotations

import json
import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.gateway.routes.catalog import ROUTES
from bastion.gateway.settings import GatewaySettings
from bastion.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
IMAGE_EXTRAS = ("gateway", "gateway-postgres", "gateway-redis", "sign", "mlflow", "assess", "data")
runner = CliRunner()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _scan(path: Path) -> dict[str, object]:
    result = runner.invoke(app, ["scan", str(path), "-f", "json", "--fail-on", "medium"])
    report: dict[str, object] = json.loads(result.stdout)
    report["exit_code"] = result.exit_code
    return report


def test_bastion_finds_nothing_at_or_above_medium() -> None:
    assert any(r.id.startswith("BST-DKR-") for r in default_registry().rules())
    report = _scan(DOCKERFILE)
    assert [a["format"] for a in report["artifacts"]] == ["dockerfile"]
    assert report["findings"] == [] and report["exit_code"] == 0
    folder = _scan(DOCKER)  # the lock and its inputs too
    serious = [f for f in folder["findings"] if f["severity"] not in ("info", "low")]
    assert serious == [] and folder["exit_code"] == 0


def test_the_same_check_fails_a_weakened_image(tmp_path: Path) -> None:
    weak = DOCKERFILE.read_text().replace("USER 10001:10001\n", "")
    weak = re.sub(r"@sha256:[0-9a-f]{64}", "", weak)
    weak += "ENV HF_TOKEN=hf_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3" + "\n"
    (tmp_path / "Dockerfile").write_text(weak)
    rules = {f["rule_id"] for f in _scan(tmp_path / "Dockerfile")["findings"]}
    assert {"BST-DKR-001", "BST-DKR-003", "BST-DKR-006"} <= rules


def test_multi_stage_on_a_base_pinned_by_digest() -> None:
    instructions = _instructions()
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    stages = _stages()
    assert len(stages) == 2
    assert [s[0][1] for s in stages] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_final_stage_is_unprivileged_and_has_no_build_tools() -> None:
    final = _stages()[-1]
    users = [arg for kind, arg in final if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert int(users[-1].split(":")[0]) >= 10000
    runs = " ".join(arg for kind, arg in final if kind == "RUN")
    for tool in ("apt-get install", "apk add", "pip install", "gcc", "build-essential", "make "):
        assert tool not in runs
    copies = [arg for kind, arg in final if kind == "COPY"]
    assert copies == ["--from=build /opt/bastion /opt/bastion"]
    assert not any(kind in ("ADD", "ARG") for kind, _ in final)


def test_health_check_probes_the_gateway_liveness_route() -> None:
    final = _stages()[-1]
    checks = [arg for kind, arg in final if kind == "HEALTHCHECK"]
    assert len(checks) == 1
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", checks[0])
    assert match is not None
    port, path = int(match.group(1)), match.group(2)
    assert any(r.template == path and r.permission is None for r in ROUTES)
    command = dict(_instructions())["CMD"]
    assert json.loads(command)[-2:] == ["--port", str(port)]
    assert GatewaySettings().port == port


def test_build_installs_only_hash_pinned_wheels() -> None:
    build = " ".join(arg for kind, arg in _stages()[0] if kind == "RUN")
    assert "--require-hashes --no-deps --only-binary=:all:" in build
    assert "--no-deps --no-index --no-build-isolation ." in build


def test_lock_covers_what_the_image_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in IMAGE_EXTRAS:
        wanted.extend(project["optional-dependencies"][extra])
    wanted.extend(
        line for line in (DOCKER / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )  # fmt: skip
    lock = (DOCKER / "requirements.lock").read_text()
    pinned: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", lock):
        head = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if head:
            pinned.setdefault(str(canonicalize_name(head.group(1))), []).append(block)
    for spec in wanted:
        requirement = Requirement(spec)
        if requirement.marker is not None and not requirement.marker.evaluate(
            {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
        ):
            continue
        name = str(canonicalize_name(requirement.name))
        assert name in pinned, f"{name} is installed by the image but not in the lock"
    for name, blocks in pinned.items():
        assert all("--hash=sha256:" in b for b in blocks), name


def test_build_context_is_an_allowlist() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything is excluded unless listed
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = []
    for kind, arg in _stages()[0]:
        if kind == "COPY":
            sources.extend(arg.split()[:-1])
    assert sources and set(sources) <= allowed
