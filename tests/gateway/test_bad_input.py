"""Hostile input over real HTTP: a clean 4xx, audited, and the process stays healthy."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.gateway.apikeys import new_key
from bastion.gateway.store import GatewayStore
from bastion.store import open_store
from tests.gateway.helpers import infer_body, model_entry, write_config
from tests.gateway.server import GatewayProcess


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) >= length:
                    break
        return b"".join(chunks)


@pytest.mark.slow
def test_hostile_requests(tmp_path: Path, signed_model: tuple[Path, Path]) -> None:
    model, pub = signed_model
    db = tmp_path / "gw.db"
    config = write_config(
        tmp_path / "gateway.toml",
        {"instance": "bad", "store": f"sqlite:///{db}"},
        [model_entry(model, pub)],
        tables={
            "http": {"max_body_bytes": 4096, "max_header_bytes": 4096, "body_timeout_seconds": 1.0}
        },
    )
    store = GatewayStore(open_store(f"sqlite:///{db}"))
    store.create()
    created = new_key("svc", ("predictor",))
    store.add_key(created.record)
    auth = {"authorization": f"Bearer {created.token}"}
    with GatewayProcess(config) as gw:
        url = gw.url + "/v2/models/iris/infer"
        cases: dict[str, tuple[Any, int]] = {}
        with httpx.Client(timeout=10) as client:

            def post(name: str, expected: int, **kw: Any) -> None:
                r = client.post(url, **kw)
                cases[name] = (r, expected)
                assert r.status_code == expected, (name, r.status_code, r.text)

            post(
                "oversized",
                413,
                headers={**auth, "content-type": "application/json"},
                content=b"[" + b"1," * 5000 + b"1]",
            )
            post("wrong-type", 415, headers={**auth, "content-type": "text/plain"}, content=b"x")
            post(
                "malformed",
                400,
                headers={**auth, "content-type": "application/json"},
                content=b'{"inputs": [',
            )
            post(
                "nan-literal",
                400,
                headers={**auth, "content-type": "application/json"},
                content=b'{"inputs":[{"shape":[1,4],"data":[NaN,1,1,1]}]}',
            )
            post(
                "inf-value",
                422,
                headers={**auth, "content-type": "application/json"},
                content=b'{"instances":[[1e999,1,1,1]]}',
            )
            post(
                "deep",
                400,
                headers={**auth, "content-type": "application/json"},
                content=b"[" * 1000 + b"]" * 1000,
            )
            post(
                "wrong-shape",
                422,
                headers=auth,
                json=infer_body([[1, 2, 3]]) | {"inputs": [{"shape": [1, 3], "data": [1, 2, 3]}]},
            )
            post("strings", 422, headers=auth, json={"instances": [["a", "b", "c", "d"]]})
            post("ragged", 422, headers=auth, json={"instances": [[1, 2, 3, 4], [1]]})
            post("batch", 422, headers=auth, json={"instances": [[1, 1, 1, 1]] * 65})
            post("range", 422, headers=auth, json={"instances": [[1, 1, 1, 1000]]})
            post(
                "huge-headers",
                431,
                headers={**auth, "x-filler": "a" * 8000},
                json=infer_body([[1, 1, 1, 1]]),
            )
            post(
                "two-credentials",
                400,
                headers={**auth, "x-api-key": created.token},
                json=infer_body([[1, 1, 1, 1]]),
            )
        # Control characters in a header value, sent raw (clients refuse to send them).
        body = json.dumps(infer_body([[1, 1, 1, 1]])).encode()
        raw = _raw(
            gw.port,
            b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + created.token.encode() + b"\r\n"
            b"X-Trace: a\x01b\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        )
        assert raw.startswith(b"HTTP/1.1 400"), raw[:200]
        # A client that never finishes its body is cut off with 408.
        slow = _raw(
            gw.port,
            b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + created.token.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        assert slow.startswith(b"HTTP/1.1 408"), slow[:200]
        ok = httpx.post(url, headers=auth, json=infer_body([[1, 1, 1, 1]]), timeout=10)
        assert ok.status_code == 200, ok.text
        assert httpx.get(gw.url + "/healthz").status_code == 200
        ids = {name: r.headers["x-request-id"] for name, (r, _e) in cases.items()}
    records = {r.request_id: r.data() for r in store.audit_rows("bad", limit=10000) if r.request_id}
    for name, request_id in ids.items():
        assert request_id in records, f"{name} not audited"
        record = records[request_id]
        assert record["status"] == cases[name][1]
        assert record["decision"] in ("rejected", "denied"), (name, record)
        assert record.get("rule_id") in ("BST-GW-007", "BST-GW-008"), (name, record)
    statuses = [r.get("status") for r in records.values()]
    assert statuses.count(400) >= 4 and 408 in statuses
    # Structured logs: every line the server wrote is a JSON object.
    lines = [line for line in gw.log.read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert any(json.loads(line)["message"] == "model loaded" for line in lines)
