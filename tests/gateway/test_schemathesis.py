"""Schemathesis against the gateway's own OpenAPI document over real HTTP: no server errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.gateway.apikeys import new_key
from bastion.gateway.store import GatewayStore
from bastion.store import open_store
from tests.gateway.helpers import model_entry, write_config
from tests.gateway.server import GatewayProcess

EXAMPLES = 25


@pytest.mark.slow
def test_no_server_errors(tmp_path: Path, signed_model: tuple[Path, Path]) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    model, pub = signed_model
    db = tmp_path / "gw.db"
    config = write_config(
        tmp_path / "gateway.toml",
        {"instance": "fuzz", "store": f"sqlite:///{db}"},
        [model_entry(model, pub)],
        tables={
            "limits": {
                "per_identity": ["1000000/minute"],
                "per_address": ["1000000/minute"],
                "daily_query_budget": 10_000_000,
            }
        },
    )
    store = GatewayStore(open_store(f"sqlite:///{db}"))
    store.create()
    created = new_key("fuzzer", ("admin", "auditor", "predictor", "deployer"))
    store.add_key(created.record)
    headers = {"authorization": f"Bearer {created.token}"}
    failures: list[str] = []
    with GatewayProcess(config) as gw:
        schema = schemathesis.openapi.from_url(gw.url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 18
        for operation in operations:
            if operation.path.endswith("/reload"):
                continue  # re-verifies the model on every call: covered by its own test

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: object) -> None:
                response = case.call(base_url=gw.url, headers=headers)  # type: ignore[attr-defined]
                if response.status_code >= 500 and response.status_code != 503:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> "  # type: ignore[attr-defined]
                        f"{response.status_code}: {response.text[:200]}"
                    )

            check()
        health = gw.url + "/healthz"
        import httpx

        assert httpx.get(health).status_code == 200
    assert not failures, "\n".join(failures[:20])
