"""Detections drive playbooks: suspend, throttle, quarantine, webhook; each audited and
reversible through the admin API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pytest

from tests.gateway.helpers import Capture, harness, infer_body

pytestmark = pytest.mark.anyio


def _probe_rows(n: int) -> list[list[float]]:
    rng = np.random.default_rng(5)
    base = np.array([5.0, 5.0, 5.0, 5.0])
    return [list(base + rng.normal(scale=0.001, size=4)) for _ in range(n)]


async def test_probing_suspends_then_admin_reverts(settings_factory: Any) -> None:
    hook = Capture()
    try:
        settings = settings_factory(
            tables={"anomaly": {"probe_min_pairs": 5, "probe_epsilon": 0.05}},
            arrays={
                "playbooks": [
                    {
                        "name": "stop-probing",
                        "detection": "probing",
                        "min_severity": "high",
                        "actions": [
                            {"type": "suspend_key", "minutes": 30},
                            {"type": "webhook", "url": hook.url},
                        ],
                    }
                ]
            },
        )
        async with harness(settings) as h:
            prober = h.key("predictor", name="prober")
            admin = h.key("admin")
            codes = []
            for row in _probe_rows(8):
                r = await h.client.post(
                    "/v2/models/iris/infer", json=infer_body([row]), headers=h.auth(prober)
                )
                codes.append(r.status_code)
                await h.gateway.responder.drain()
            assert codes[:6] == [200] * 6 and codes[-1] == 403
            actions = (await h.client.get("/admin/actions", headers=h.auth(admin))).json()
            kinds = [a["type"] for a in actions["actions"]]
            assert kinds == ["suspend_key", "webhook"]
            suspend = actions["actions"][0]
            assert suspend["target"].startswith("key:")
            assert json.loads(hook.bodies[0])["rule_id"] == "BST-GW-010"
            r = await h.client.post(
                f"/admin/actions/{suspend['action_id']}/revert", headers=h.auth(admin), json={}
            )
            assert r.status_code == 200 and r.json()["reverted_by"].startswith("key:")
            r = await h.client.post(
                "/v2/models/iris/infer", json=infer_body([[1, 2, 3, 4]]), headers=h.auth(prober)
            )
            assert r.status_code == 200
            again = await h.client.post(
                f"/admin/actions/{suspend['action_id']}/revert", headers=h.auth(admin), json={}
            )
            assert again.status_code == 409
        records = [r.data() for r in h.gateway.store.audit_rows("test", limit=10000)]
        actions_audited = [r["action"] for r in records if r["kind"] == "action"]
        assert actions_audited == ["response.suspend_key", "response.webhook", "response.revert"]
        detections = [r for r in records if r["kind"] == "detection"]
        assert detections[0]["detection"]["type"] == "probing"
        assert detections[0]["atlas"][0] == "AML.T0043.001"
    finally:
        hook.close()


async def test_quarantine_and_release(settings_factory: Any) -> None:
    settings = settings_factory(
        tables={"anomaly": {"probe_min_pairs": 5, "probe_epsilon": 0.05}},
        arrays={
            "playbooks": [
                {
                    "name": "isolate",
                    "detection": "probing",
                    "actions": [
                        {"type": "quarantine_model"},
                        {"type": "throttle", "limit": "1/minute"},
                    ],
                }
            ]
        },
    )
    async with harness(settings) as h:
        prober = h.key("predictor")
        bystander = h.key("predictor")
        admin = h.key("admin")
        for row in _probe_rows(7):
            await h.client.post(
                "/v2/models/iris/infer", json=infer_body([row]), headers=h.auth(prober)
            )
            await h.gateway.responder.drain()
        r = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[1, 2, 3, 4]]), headers=h.auth(bystander)
        )
        assert r.status_code == 503 and r.json()["title"] == "Model quarantined"
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503
        assert "quarantined" in ready.json()["models"]["iris"]["reasons"][0]
        listed = (await h.client.get("/admin/actions", headers=h.auth(admin))).json()
        by_type = {a["type"]: a for a in listed["actions"]}
        throttled = await h.client.get("/v2/models", headers=h.auth(prober))
        assert throttled.status_code == 429
        assert "throttled identity" in throttled.json()["detail"]
        assert (await h.client.get("/v2/models", headers=h.auth(bystander))).status_code == 200
        await h.client.post(
            f"/admin/actions/{by_type['quarantine_model']['action_id']}/revert",
            headers=h.auth(admin),
            json={},
        )
        r = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[1, 2, 3, 4]]), headers=h.auth(bystander)
        )
        assert r.status_code == 200
        assert (await h.client.get("/readyz")).status_code == 200


async def test_admin_quarantine_endpoint(settings_factory: Any) -> None:
    async with harness(settings_factory()) as h:
        admin = h.key("admin")
        user = h.key("predictor")
        r = await h.client.post(
            "/admin/models/iris/quarantine",
            headers=h.auth(admin),
            json={"reason": "suspected poisoning"},
        )
        assert r.status_code == 201
        assert (
            await h.client.post(
                "/v2/models/iris/infer", json=infer_body([[1, 1, 1, 1]]), headers=h.auth(user)
            )
        ).status_code == 503
        await asyncio.sleep(0)
        revert = await h.client.post(
            f"/admin/actions/{r.json()['action_id']}/revert", headers=h.auth(admin), json={}
        )
        assert revert.status_code == 200
        assert (
            await h.client.post(
                "/v2/models/iris/infer", json=infer_body([[1, 1, 1, 1]]), headers=h.auth(user)
            )
        ).status_code == 200


async def test_revoke_key_and_reinstate(settings_factory: Any) -> None:
    settings = settings_factory(
        tables={"anomaly": {"max_addresses": 1}},
        arrays={
            "playbooks": [
                {
                    "name": "shared-key",
                    "detection": "credential-sharing",
                    "identity": "key:*",
                    "actions": [{"type": "revoke_key"}],
                }
            ]
        },
    )
    async with harness(settings) as h:
        token = h.key("predictor")
        admin = h.key("admin")
        assert (await h.client.get("/v2/models", headers=h.auth(token))).status_code == 200
        transport = httpx.ASGITransport(app=h.app, client=("192.0.2.44", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as elsewhere:
            await elsewhere.get("/v2/models", headers=h.auth(token))
        await h.gateway.responder.drain()
        denied = await h.client.get("/v2/models", headers=h.auth(token))
        assert denied.status_code == 401
        action = (await h.client.get("/admin/actions", headers=h.auth(admin))).json()["actions"]
        assert [a["type"] for a in action] == ["revoke_key"]
        await h.client.post(
            f"/admin/actions/{action[0]['action_id']}/revert", headers=h.auth(admin), json={}
        )
        assert (await h.client.get("/v2/models", headers=h.auth(token))).status_code == 200
