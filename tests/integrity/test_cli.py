"""``bastion keygen/sign/verify/attest/bom`` end to end: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app

runner = CliRunner()


def _run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.fixture
def cli_key(tmp_path: Path) -> Path:
    """A key pair made by ``bastion keygen``; returns the private key path."""
    private = tmp_path / "release.pem"
    code, output = _run("keygen", private)
    assert code == 0, output
    return private


def test_keygen(tmp_path: Path, cli_key: Path) -> None:
    assert stat.S_IMODE(cli_key.stat().st_mode) == 0o600
    assert (tmp_path / "release.pem.pub").is_file()
    code, output = _run("keygen", cli_key)
    assert code == 2 and "already exists" in output
    code, output = _run("keygen", tmp_path / "x.pem", "--curve", "ed25519")
    assert code == 2 and "unsupported curve" in output


def test_sign_verify_tamper_exit_codes(model_dir: Path, cli_key: Path) -> None:
    public = Path(f"{cli_key}.pub")
    code, output = _run("sign", model_dir, "--key", cli_key, "--ignore", "*.log")
    assert code == 0 and "signature written" in output, output
    code, output = _run("verify", model_dir, "--key", public)
    assert code == 0 and "verified" in output, output
    (model_dir / "config.json").write_text("{}")
    (model_dir / "extra.bin").write_bytes(b"x")
    code, output = _run("verify", model_dir, "--key", public)
    assert code == 1
    assert "BST-INT-002 config.json" in output and "BST-INT-003 extra.bin" in output


def test_verify_reports_json_and_sarif(model_dir: Path, cli_key: Path, tmp_path: Path) -> None:
    _run("sign", model_dir, "--key", cli_key, "-q")
    (model_dir / "config.json").write_text("{}")
    out = tmp_path / "report.sarif"
    code, _ = _run("verify", model_dir, "--key", f"{cli_key}.pub", "-f", "sarif", "-o", out)
    assert code == 1
    sarif = json.loads(out.read_text())
    results = [r for run in sarif["runs"] for r in run["results"]]
    assert [r["ruleId"] for r in results] == ["BST-INT-002"]
    code, output = _run("verify", model_dir, "--key", f"{cli_key}.pub", "-f", "json")
    assert code == 1 and json.loads(output)["summary"]["passed"] is False


def test_bad_inputs_give_clear_errors(model_dir: Path, cli_key: Path, tmp_path: Path) -> None:
    public = f"{cli_key}.pub"
    code, output = _run("verify", model_dir, "--key", public)
    assert code == 2 and "signature file not found" in output
    code, output = _run("verify", tmp_path / "absent", "--key", public)
    assert code == 2 and "no such file" in output
    code, output = _run("sign", model_dir, "--key", public)
    assert code == 2 and "is a public key" in output
    code, output = _run("sign", model_dir, "--key", tmp_path / "absent.pem")
    assert code == 2 and "key file not found" in output
    _run("sign", model_dir, "--key", cli_key, "-q")
    code, output = _run("verify", model_dir, "--key", cli_key)
    assert code == 2 and "is a private key" in output
    (model_dir / "model.sig").write_text('{"mediaType": "nope"')
    code, output = _run("verify", model_dir, "--key", public)
    assert (
        code == 1
        and "BST-INT-001" in output
        and "verified" not in output.replace("not verified", "")
    )
    code, output = _run("verify", model_dir)
    assert code == 2 and "--key" in output


def test_manifest_cache_flag(model_dir: Path, cli_key: Path, tmp_path: Path) -> None:
    _run("sign", model_dir, "--key", cli_key, "-q")
    args = ("verify", model_dir, "--key", f"{cli_key}.pub", "--manifest-cache",
            "--cache-dir", tmp_path / "cache")  # fmt: skip
    assert _run(*args)[0] == 0
    code, output = _run(*args)
    assert code == 0 and "4 digest(s) reused" in output
    code, output = _run(*args, "--full")
    assert code == 0 and "reused" not in output


def test_attest_and_verify_chain(model_dir: Path, cli_key: Path, tmp_path: Path) -> None:
    data = tmp_path / "train"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    code, output = _run(
        "attest", model_dir, "--key", cli_key, "--data", f"train={data}",
        "--project", tmp_path, "--source-commit", "f" * 40,
    )  # fmt: skip
    assert code == 0 and "scan: passed" in output, output
    attestation = model_dir / "model.att.json"
    public = f"{cli_key}.pub"
    code, output = _run(
        "verify", model_dir, "--key", public, "--attestation", attestation,
        "--data", f"train={data}", "--source-commit", "f" * 40,
    )  # fmt: skip
    assert code == 0, output
    (data / "b.csv").write_text("poison\n")
    code, output = _run(
        "verify", model_dir, "--key", public, "--attestation", attestation,
        "--data", f"train={data}",
    )  # fmt: skip
    assert code == 1 and "BST-INT-010" in output


def test_verify_with_policy(model_dir: Path, cli_key: Path, tmp_path: Path) -> None:
    _run("sign", model_dir, "--key", cli_key, "-q")
    _run("attest", model_dir, "--key", cli_key, "--project", tmp_path, "-q")
    policy = tmp_path / "bastion.toml"
    policy.write_text(f'[deploy]\ntrusted_keys = ["{cli_key.name}.pub"]\n')
    code, output = _run("verify", model_dir, "--policy", policy)
    assert code == 0 and "deployment allowed" in output, output
    (model_dir / "config.json").write_text("{}")
    code, output = _run("verify", model_dir, "--policy", policy)
    assert code == 1 and "deployment refused" in output and "BST-INT-009" in output
    code, output = _run("verify", model_dir, "--policy", policy, "--key", f"{cli_key}.pub")
    assert code == 2 and "[deploy]" in output


def test_bom_command(model_dir: Path, tmp_path: Path) -> None:
    (model_dir.parent / "requirements.txt").write_text("torch==2.3.1\n")
    out = tmp_path / "bom.json"
    code, output = _run("bom", model_dir.parent, "-o", out, "--exclude", "*.sig")
    assert code == 0, output
    assert "schema-valid" in output
    document = json.loads(out.read_text())
    assert document["specVersion"] == "1.6"
    assert any(c["type"] == "machine-learning-model" for c in document["components"])


def test_rules_explain_integrity() -> None:
    code, output = _run("rules", "explain", "BST-INT-005")
    assert code == 0 and "symbolic link" in output.lower()
