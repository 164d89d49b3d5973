"""End-to-end basics: a signed model is served, a key infers, everything is audited."""

from __future__ import annotations

from typing import Any

import pytest

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
