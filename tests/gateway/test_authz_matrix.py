"""Every route × role × identity state: no route is reachable without its permission."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bastion.gateway.rbac import BUILTIN_ROLES, Permission
from bastion.gateway.routes.catalog import ROUTES
from bastion.gateway.routes.table import RouteSpec
from tests.gateway.helpers import harness, infer_body
from tests.gateway.jwt_helpers import Issuer, alg_none, tampered

pytestmark = pytest.mark.anyio

CUSTOM = {"viewer": frozenset({Permission.MODELS_READ})}
ROLES = {**BUILTIN_ROLES, **CUSTOM}


def _path(spec: RouteSpec) -> str:
    values = {"model": "iris", "key_id": "0123456789abcdef", "action_id": "00000000"}
    path = spec.template
    for name in spec.params:
        path = path.replace("{" + name + "}", values[name])
    return path


def _body(spec: RouteSpec) -> dict[str, Any] | None:
    if spec.method != "POST":
        return None
    if spec.action == "inference.request":
        return infer_body([[5, 5, 5, 5]])
    return {}


@pytest.fixture
def settings(settings_factory: Any, tmp_path: Path) -> Any:
    issuer = Issuer(tmp_path)
    settings = settings_factory(
        tables={
            "limits": {
                "per_identity": ["100000/minute"],
                "per_address": ["100000/minute"],
                "auth_failures_per_address": ["100000/minute"],
            },
            "roles.viewer": {"permissions": ["models:read"]},
        },
        arrays={"auth.jwt": [issuer.settings()]},
    )
    settings.__dict__["_issuer"] = issuer
    return settings


async def _call(h: Any, spec: RouteSpec, headers: dict[str, str]) -> int:
    response = await h.client.request(spec.method, _path(spec), headers=headers, json=_body(spec))
    return int(response.status_code)


@pytest.mark.slow
async def test_matrix(settings: Any) -> None:
    issuer: Issuer = settings.__dict__["_issuer"]
    async with harness(settings) as h:
        revoked = h.key("admin", "auditor", "predictor")
        expired = h.key("admin", "auditor", "predictor", expires_in=0.5)
        await h.client.delete(
            f"/admin/keys/{revoked.split('_')[1]}", headers=h.auth(h.key("admin"))
        )
        time.sleep(0.6)
        good_jwt = issuer.token(["admin", "auditor", "predictor", "deployer"])
        invalid: dict[str, dict[str, str]] = {
            "none": {},
            "expired-key": h.auth(expired),
            "revoked-key": h.auth(revoked),
            "unknown-key": h.auth("bst_0123456789abcdef_" + "A" * 43),
            "wrong-secret": h.auth(revoked[:-4] + "AAAA"),
            "garbage": {"authorization": "Bearer not-a-token"},
            "basic-scheme": {"authorization": "Basic YWRtaW46YWRtaW4="},
            "wrong-issuer": h.auth(issuer.token(["admin"], issuer="https://evil.test/")),
            "tampered-jwt": h.auth(tampered(issuer.token(["predictor"]), roles=["admin"])),
            "alg-none": h.auth(alg_none(good_jwt)),
            "expired-jwt": h.auth(issuer.token(["admin"], expires_in=-3600)),
            "wrong-audience": h.auth(issuer.token(["admin"], audience="other")),
        }
        failures: list[str] = []
        for spec in ROUTES:
            for state, headers in invalid.items():
                status = await _call(h, spec, headers)
                if spec.permission is None:
                    if status in (401, 403):
                        failures.append(f"{spec.method} {spec.template} public but {status}")
                elif status != 401:
                    failures.append(f"{spec.method} {spec.template} [{state}] -> {status}")
            for role, perms in [*ROLES.items(), ("no-role", frozenset())]:
                for kind in ("key", "jwt"):
                    roles = [] if role == "no-role" else [role]
                    token = h.key(*roles) if kind == "key" else issuer.token(roles, sub=role)
                    status = await _call(h, spec, h.auth(token))
                    allowed = spec.permission is None or spec.permission in perms
                    if allowed and status in (401, 403):
                        failures.append(
                            f"{spec.method} {spec.template} [{role}/{kind}] refused {status}"
                        )
                    if not allowed and status != 403:
                        failures.append(
                            f"{spec.method} {spec.template} [{role}/{kind}] reached ({status})"
                        )
        assert not failures, "\n".join(failures)
        records = [r.data() for r in h.gateway.store.audit_rows("test", limit=100000)]
        denied = [r for r in records if r.get("kind") == "request" and r.get("status") == 401]
        assert denied and all(r["rule_id"].startswith("BST-GW-00") for r in denied)
        assert {r.get("auth_failure") for r in denied} >= {
            "missing-credential",
            "expired",
            "revoked",
            "unknown-key",
            "bad-secret",
            "unknown-issuer",
            "bad-signature",
            "disallowed-algorithm",
            "invalid-claims",
        }


async def test_model_scope_limits_keys(settings: Any) -> None:
    async with harness(settings) as h:
        token = h.key("predictor", models=("fraud-*",))
        r = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[5, 5, 5, 5]]), headers=h.auth(token)
        )
        assert r.status_code == 403
        listed = await h.client.get("/v2/models", headers=h.auth(token))
        assert listed.status_code == 200 and listed.json()["models"] == []
