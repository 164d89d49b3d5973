"""``bastion keys`` and ``bastion audit`` end to end, and the gateway's config errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.gateway.apikeys import parse
from tests.gateway.helpers import write_config


def test_keys_lifecycle_is_audited(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "gateway.toml", {"instance": "gw", "store": "sqlite:///gw.db"}, []
    )
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--config",
            str(config),
            "--role",
            "predictor",
            "--name",
            "svc-a",
            "--expires",
            "30d",
        ],
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    parts = parse(token)
    assert parts is not None
    key_id = parts[0]
    listed = runner.invoke(app, ["keys", "list", "--config", str(config), "--json"])
    keys = json.loads(listed.stdout)
    assert keys[0]["key_id"] == key_id and keys[0]["state"] == "active"
    assert token not in listed.stdout and "secret_hash" not in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", "--config", str(config), f"bst_{key_id}"])
    assert revoked.exit_code == 0
    again = json.loads(
        runner.invoke(app, ["keys", "list", "--config", str(config), "--json"]).stdout
    )
    assert again[0]["state"] == "revoked"
    bad_role = runner.invoke(
        app, ["keys", "create", "--config", str(config), "--role", "root", "--name", "x"]
    )
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output
    verified = runner.invoke(app, ["audit", "verify", "--config", str(config), "--json"])
    assert verified.exit_code == 0
    report = json.loads(verified.stdout)
    assert report[0]["log_id"] == "gw.cli" and report[0]["records"] == 2
    tail = runner.invoke(
        app, ["audit", "tail", "--config", str(config), "--log-id", "gw.cli", "--format", "ecs"]
    )
    actions = [json.loads(line)["event"]["action"] for line in tail.stdout.splitlines()]
    assert actions == ["keys.create", "keys.revoke"]


def test_invalid_config_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[gateway]\nstore = "sqlite:///x.db"\n[gateway.limits]\nper_identity = ["lots"]\n'
    )
    result = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "gateway.toml" in result.output and "per_identity" in result.output
