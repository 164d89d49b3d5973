"""End-to-end basics: a signed model is served, a key infers, everything is audited."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bastion.cli.app import app as cli
from bastion.gateway.audit.verify import verify_log
from tests.gateway.helpers import LABELS, harness, infer_body

pytestmark = pytest.mark.anyio


async def test_signed_model_serves_and_audits(settings_factory: Any) -> None:
    async with harness(settings_factory()) as h:
        assert h.gateway.models["iris"].ready, h.gateway.models["iris"].reasons
        token = h.key("predictor")
        r = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[5, 5, 5, 5]]), headers=h.auth(token)
        )
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["model_name"] == "iris"
        top = data["predictions"][0]
        assert 1 <= len(top) <= 3 and top[0]["label"] in LABELS
        seq = int(r.headers["x-audit-seq"])
        rows = h.gateway.store.audit_rows("test")
        record = next(row for row in rows if row.seq == seq).data()
        assert record["request_id"] == r.headers["x-request-id"]
        assert record["status"] == 200 and record["input"]["shape"] == [1, 4]
        assert "data" not in record["input"]
        ready = await h.client.get("/readyz")
        assert ready.status_code == 200, ready.text
    report = verify_log(h.gateway.store, "test")
    assert report.ok, report.problems


async def test_client_that_disconnects_is_still_audited(settings_factory: Any) -> None:
    async with harness(settings_factory()) as h:
        token = h.key("predictor")
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v2/models/iris/infer",
            "headers": [
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", b"50"),
            ],
            "client": ("10.0.0.9", 1234),
            "query_string": b"",
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        await h.app(scope, receive, send)
        assert sent == []
    records = [r.data() for r in h.gateway.store.audit_rows("test", limit=100)]
    aborted = [r for r in records if r.get("status") == 499]
    assert len(aborted) == 1 and aborted[0]["decision"] == "aborted"


async def test_metrics_and_openapi(settings_factory: Any) -> None:
    async with harness(settings_factory()) as h:
        await h.client.post(
            "/v2/models/iris/infer",
            json=infer_body([[5, 5, 5, 5]]),
            headers=h.auth(h.key("predictor")),
        )
        assert (await h.client.get("/metrics")).status_code == 401
        metrics = await h.client.get("/metrics", headers=h.auth(h.key("auditor")))
        assert metrics.status_code == 200
        text = metrics.text
        assert (
            'bastion_gateway_requests_total{decision="allowed",route="/v2/models/{model}/infer"'
            in text
        )
        assert "bastion_gateway_audit_seconds_bucket" in text
        doc = (await h.client.get("/openapi.json")).json()
        infer = doc["paths"]["/v2/models/{model}/infer"]["post"]
        assert infer["x-bastion-permission"] == "models:infer"
        assert doc["paths"]["/healthz"]["get"]["security"] == []


async def test_denials_and_detections_as_findings(settings_factory: Any) -> None:
    settings = settings_factory(tables={"anomaly": {"max_addresses": 1}})
    async with harness(settings) as h:
        await h.client.get("/v2/models")
        token = h.key("predictor")
        await h.client.get("/admin/keys", headers=h.auth(token))
        for ip in ("10.0.0.2", "10.0.0.3"):
            transport = httpx.ASGITransport(app=h.app, client=(ip, 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                await client.get("/v2/models", headers=h.auth(token))
    result = CliRunner().invoke(
        cli, ["audit", "findings", "--config", str(settings.policy_file), "--format", "sarif"]
    )
    assert result.exit_code == 0, result.output
    sarif = json.loads(result.stdout)
    rules = {r["ruleId"] for run in sarif["runs"] for r in run["results"]}
    assert {"BST-GW-001", "BST-GW-004", "BST-GW-012"} <= rules


async def test_forwarded_for_only_from_trusted_proxies(settings_factory: Any) -> None:
    settings = settings_factory({"trusted_proxies": ["10.9.8.0/24"]})
    async with harness(settings) as h:
        forwarded = {"x-forwarded-for": "203.0.113.9, 10.9.8.5"}
        trusted = await h.client.get("/healthz", headers=forwarded)
        transport = httpx.ASGITransport(app=h.app, client=("198.51.100.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            spoofed = await client.get("/healthz", headers={"x-forwarded-for": "203.0.113.77"})
    records = {r.request_id: r.data() for r in h.gateway.store.audit_rows("test", limit=100)}
    assert records[trusted.headers["x-request-id"]]["client"]["ip"] == "203.0.113.9"
    assert records[spoofed.headers["x-request-id"]]["client"]["ip"] == "198.51.100.1"
