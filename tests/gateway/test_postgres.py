"""The whole gateway on the real PostgreSQL: keys, audit chain (driver-level inserts into a
schema), verification, and the one-writer lock per log."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from bastion.gateway.audit.verify import verify_log
from bastion.gateway.audit.writer import AuditWriter
from bastion.gateway.errors import AuditLockedError
from tests.gateway.helpers import harness, infer_body

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]


async def test_gateway_on_postgres(settings_factory: Any) -> None:
    schema = "bsttest_" + secrets.token_hex(6)
    settings = settings_factory({"store": PG_URL, "store_schema": schema})
    try:
        async with harness(settings) as h:
            token = h.key("predictor")
            for _ in range(5):
                r = await h.client.post(
                    "/v2/models/iris/infer", json=infer_body([[5, 5, 5, 5]]), headers=h.auth(token)
                )
                assert r.status_code == 200, r.text
            with pytest.raises(AuditLockedError):
                AuditWriter(h.gateway.store, "test").start()
            auditor = h.key("auditor")
            verified = await h.client.get("/audit/verify", headers=h.auth(auditor))
            assert verified.json()["ok"] is True and verified.json()["records"] >= 7
        try:
            report = verify_log(h.gateway.store, "test")
        finally:
            h.gateway.store.store.dispose()
        assert report.ok and report.records >= 8
    finally:
        from bastion.store import open_store

        store = open_store(PG_URL, schema=schema)
        store.drop_schema()
        store.dispose()
