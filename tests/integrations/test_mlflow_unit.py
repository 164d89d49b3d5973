"""The MLflow integration without a store: webhook payload shapes and signatures, the
command's answers to bad input, URI validation, a missing extra, telemetry off."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.errors import MissingDependencyError
from bastion.integrations import mlflow as store_mod
from bastion.integrations.errors import IntegrationError, WebhookError
from bastion.integrations.mlflow_webhook import parse_event, verify_signature

runner = CliRunner()


def _event(name: str, version: str, action: str = "created") -> bytes:
    data = {"name": name, "version": version, "source": "models:/m-1", "run_id": "r"}
    body = {"entity": "model_version", "action": action, "timestamp": "t", "data": data}
    return json.dumps(body).encode()


def _check(body: bytes, *args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["mlflow", "check", *args], input=body)
    return result.exit_code, json.loads(result.stdout)


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError, match=r"bastion-ml\[mlflow\]"):
        with store_mod.open_model("models:/x/1") as _:
            pass


def test_signature_age_and_format() -> None:
    body = b"{}"
    sent = "1700000000"
    mac = hmac.new(b"k", b"d." + sent.encode() + b"." + body, hashlib.sha256).digest()
    good = "v1," + base64.b64encode(mac).decode()
    kwargs = {"secret": "k", "signature": good, "delivery_id": "d", "timestamp": sent}
    verify_signature(body, **kwargs, now=1700000100)  # type: ignore[arg-type]
    with pytest.raises(WebhookError, match="replayed"):
        verify_signature(body, **kwargs, now=1700000000 + 301)  # type: ignore[arg-type]
    with pytest.raises(WebhookError, match="v1,"):
        verify_signature(body, **{**kwargs, "signature": "v2,abc"}, now=1700000000)  # type: ignore[arg-type]
    with pytest.raises(WebhookError, match="not an integer"):
        verify_signature(body, **{**kwargs, "timestamp": "soon"})  # type: ignore[arg-type]


def test_parse_event_shapes() -> None:
    assert parse_event(_event("fraud", "3")).model_uri == "models:/fraud/3"
    numeric = {"event": "MODEL_VERSION_CREATED", "model_name": "m", "version": 4}
    assert parse_event(json.dumps(numeric).encode()).model_uri == "models:/m/4"
    assert parse_event(b'{"entity": "prompt", "action": "created", "data": {}}').model_uri is None


def test_webhook_bad_payloads_are_errors() -> None:
    for body, message in (
        (b"not json", "not JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"hello": 1}', "neither MLflow"),
        (_event("../../etc", "1"), "invalid 'name'"),
        (b" " * (1 << 20) + b"{}", "larger than"),
    ):
        code, doc = _check(body)
        assert code == 2 and doc["decision"] == "error" and message in str(doc["reason"])


def test_uris_are_checked_before_mlflow_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    store = f"file:{tmp_path}/mlruns"
    for uri, message in (
        ("s3://bucket/model", "not an MLflow model URI"),
        ("models:/", "not an MLflow model URI"),
        ("runs:/abc/../../etc", "must not contain '..'"),
    ):
        with pytest.raises(IntegrationError, match=message):
            with store_mod.open_model(uri, tracking_uri=store) as _:
                pass
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"  # never phones home


def test_scheme_is_optional_in_the_api() -> None:
    assert store_mod.strip_scheme("mlflow://models:/a/1") == "models:/a/1"
    assert store_mod.strip_scheme("models:/a@b") == "models:/a@b"
