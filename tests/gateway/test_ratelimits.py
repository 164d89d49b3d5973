"""Rate limits are exact under concurrent requests: in memory, and across two gateway
processes sharing the real Redis on this machine."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.gateway.apikeys import new_key
from bastion.gateway.store import GatewayStore
from bastion.store import open_store
from tests.gateway.helpers import harness, infer_body, model_entry, write_config
from tests.gateway.server import GatewayProcess


@pytest.mark.anyio
async def test_memory_limit_exact_under_concurrency(settings_factory: Any) -> None:
    settings = settings_factory(
        tables={
            "limits": {
                "per_identity": ["20/minute"],
                "per_address": ["100000/minute"],
                "daily_query_budget": 10,
            }
        }
    )
    async with harness(settings) as h:
        token = h.key("predictor")
        responses = await asyncio.gather(
            *(h.client.get("/v2/models", headers=h.auth(token)) for _ in range(60))
        )
        codes = [r.status_code for r in responses]
        assert codes.count(200) == 20 and codes.count(429) == 40
        refused = next(r for r in responses if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit"].startswith('"identity-0";r=0;')
        assert refused.headers["ratelimit-policy"] == '"identity-0";q=20;w=60'
        ok = next(r for r in responses if r.status_code == 200)
        assert "ratelimit" in ok.headers
        # A second identity has its own budget of rows: 10 rows a day.
        other = h.key("predictor")
        batch = infer_body([[5, 5, 5, 5]] * 4)
        results = [
            await h.client.post("/v2/models/iris/infer", json=batch, headers=h.auth(other))
            for _ in range(3)
        ]
        assert [r.status_code for r in results] == [200, 200, 429]
        assert results[2].json()["rule_id"] == "BST-GW-006"
    records = [r.data() for r in h.gateway.store.audit_rows("test", limit=1000)]
    limited = [r for r in records if r.get("action") == "ratelimit.exceeded"]
    assert len(limited) == 40 and all(r["rule_id"] == "BST-GW-005" for r in limited)


@pytest.mark.anyio
async def test_failed_authentication_is_throttled_per_address(settings_factory: Any) -> None:
    settings = settings_factory(tables={"limits": {"auth_failures_per_address": ["5/minute"]}})
    async with harness(settings) as h:
        codes = [
            (await h.client.get("/v2/models", headers=h.auth("bst_bad"))).status_code
            for _ in range(8)
        ]
        assert codes == [401] * 5 + [429] * 3
        token = h.key("predictor")
        assert (await h.client.get("/v2/models", headers=h.auth(token))).status_code == 429
    kinds = [
        r.data().get("detection", {}).get("type")
        for r in h.gateway.store.audit_rows("test", limit=1000)
    ]
    assert kinds.count("auth-flood") == 1


@pytest.mark.redis
@pytest.mark.slow
def test_redis_limit_exact_across_two_processes(
    tmp_path: Path, signed_model: tuple[Path, Path]
) -> None:
    redis_lib = pytest.importorskip("redis")
    model, pub = signed_model
    namespace = "bsttest" + secrets.token_hex(4)
    db = tmp_path / "gw.db"
    limits = {
        "per_identity": ["30/minute"],
        "per_address": ["100000/minute"],
        "namespace": namespace,
    }
    configs = [
        write_config(
            tmp_path / f"gw{i}.toml",
            {"instance": f"replica{i}", "store": f"sqlite:///{db}"},
            [model_entry(model, pub)],
            tables={"limits": limits},
        )
        for i in (1, 2)
    ]
    store = GatewayStore(open_store(f"sqlite:///{db}"))
    store.create()
    created = new_key("svc", ("predictor",))
    store.add_key(created.record)
    headers = {"authorization": f"Bearer {created.token}"}
    client = redis_lib.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        with (
            GatewayProcess(configs[0], "--redis", "redis://127.0.0.1:6379/0") as a,
            GatewayProcess(configs[1], "--redis", "redis://127.0.0.1:6379/0") as b,
        ):

            async def burst() -> list[int]:
                async with httpx.AsyncClient(timeout=20) as http:
                    urls = [a.url, b.url] * 45
                    responses = await asyncio.gather(
                        *(http.get(u + "/v2/models", headers=headers) for u in urls)
                    )
                return [r.status_code for r in responses]

            codes = asyncio.run(burst())
        assert codes.count(200) == 30, codes
        assert codes.count(429) == 60
    finally:
        for key in client.scan_iter(match=f"*{namespace}*"):
            client.delete(key)
        client.close()


@pytest.mark.anyio
async def test_role_limits_override_defaults(settings_factory: Any) -> None:
    settings = settings_factory(
        tables={
            "limits": {"per_identity": ["100/minute"], "per_address": ["100000/minute"]},
            "limits.roles.predictor": {"per_identity": ["2/minute"], "daily_query_budget": 1},
        }
    )
    async with harness(settings) as h:
        predictor = h.key("predictor")
        deployer = h.key("deployer")
        codes = [
            (await h.client.get("/v2/models", headers=h.auth(predictor))).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        others = [
            (await h.client.get("/v2/models", headers=h.auth(deployer))).status_code
            for _ in range(3)
        ]
        assert others == [200, 200, 200]
        fresh = h.key("predictor")
        batch = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[5, 5, 5, 5]] * 2), headers=h.auth(fresh)
        )
        assert batch.status_code == 429 and batch.json()["rule_id"] == "BST-GW-006"


@pytest.mark.redis
@pytest.mark.slow
def test_workers_share_limits_and_keep_one_chain_each(
    tmp_path: Path, signed_model: tuple[Path, Path]
) -> None:
    redis_lib = pytest.importorskip("redis")
    from bastion.gateway.audit.verify import verify_all

    model, pub = signed_model
    namespace = "bsttest" + secrets.token_hex(4)
    db = tmp_path / "gw.db"
    config = write_config(
        tmp_path / "gw.toml",
        {"instance": "multi", "store": f"sqlite:///{db}"},
        [model_entry(model, pub)],
        tables={
            "limits": {
                "per_identity": ["25/minute"],
                "per_address": ["100000/minute"],
                "namespace": namespace,
            }
        },
    )
    store = GatewayStore(open_store(f"sqlite:///{db}"))
    store.create()
    created = new_key("svc", ("predictor",))
    store.add_key(created.record)
    headers = {"authorization": f"Bearer {created.token}"}
    client = redis_lib.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        with GatewayProcess(config, "--workers", "2", "--redis", "redis://127.0.0.1:6379/0") as gw:

            async def burst() -> list[int]:
                codes: list[int] = []
                for _ in range(10):  # fresh connections, so both workers accept some
                    async with httpx.AsyncClient(timeout=20) as http:
                        responses = await asyncio.gather(
                            *(http.get(gw.url + "/v2/models", headers=headers) for _ in range(6))
                        )
                    codes += [r.status_code for r in responses]
                return codes

            codes = asyncio.run(burst())
        assert codes.count(200) == 25 and codes.count(429) == 35
        logs = set(store.audit_logs())
        assert logs == {"multi.w0", "multi.w1"}  # each worker claimed its own slot
        assert all(report.ok for report in verify_all(store))
    finally:
        for key in client.scan_iter(match=f"*{namespace}*"):
            client.delete(key)
        client.close()
        store.store.dispose()
