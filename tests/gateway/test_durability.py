"""SIGKILL the gateway during a stream of requests: every request that got a response has its
audit record, and the chain still verifies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from bastion.gateway.apikeys import new_key
from bastion.gateway.audit.verify import verify_log
from bastion.gateway.store import GatewayStore
from bastion.store import open_store
from tests.gateway.helpers import infer_body, model_entry, write_config
from tests.gateway.server import GatewayProcess


@pytest.mark.slow
def test_sigkill_loses_no_answered_request(tmp_path: Path, signed_model: tuple[Path, Path]) -> None:
    model, pub = signed_model
    db = tmp_path / "gw.db"
    config = write_config(
        tmp_path / "gateway.toml",
        {"instance": "durable", "store": f"sqlite:///{db}"},
        [model_entry(model, pub)],
        tables={"limits": {"per_identity": ["1000000/minute"], "per_address": ["1000000/minute"]}},
    )
    store = GatewayStore(open_store(f"sqlite:///{db}"))
    store.create()
    created = new_key("svc", ("predictor",))
    store.add_key(created.record)
    headers = {"authorization": f"Bearer {created.token}"}
    answered: list[str] = []
    gw = GatewayProcess(config).start()

    async def stream(stop_at: float) -> None:
        async with httpx.AsyncClient(timeout=5) as client:

            async def worker(n: int) -> None:
                while time.monotonic() < stop_at:
                    try:
                        if n % 4 == 0:
                            r = await client.get(
                                gw.url + "/v2/models", headers={"authorization": "Bearer bst_x"}
                            )
                        else:
                            r = await client.post(
                                gw.url + "/v2/models/iris/infer",
                                headers=headers,
                                json=infer_body([[5, 5, 5, 5]]),
                            )
                    except httpx.HTTPError:
                        return
                    answered.append(r.headers["x-request-id"])

            await asyncio.gather(*(worker(n) for n in range(8)))

    async def run() -> None:
        task = asyncio.create_task(stream(time.monotonic() + 10))
        await asyncio.sleep(2.0)
        gw.kill()
        await task

    try:
        asyncio.run(run())
    finally:
        gw.kill()
    assert len(answered) > 20
    found = store.audit_by_request(answered)
    missing = set(answered) - found
    assert not missing, f"{len(missing)} answered requests without an audit record"
    report = verify_log(store, "durable")
    assert report.ok, report.problems
    # The gateway restarts on the same chain and keeps it valid.
    with GatewayProcess(config) as again:
        r = httpx.post(
            again.url + "/v2/models/iris/infer",
            headers=headers,
            json=infer_body([[5, 5, 5, 5]]),
            timeout=10,
        )
        assert r.status_code == 200
    assert verify_log(store, "durable").ok
