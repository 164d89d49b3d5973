"""SIEM export: ECS, OCSF and CEF fields; file, syslog (UDP, TCP) and webhook sinks; retries
with backoff lose nothing while the SIEM is down."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bastion.gateway.audit.writer import AuditWriter
from bastion.gateway.settings import SinkSettings
from bastion.gateway.siem.exporter import SinkExporter
from bastion.gateway.siem.formats import to_cef, to_ecs, to_ocsf
from bastion.gateway.siem.sinks import make_sink
from bastion.gateway.store import GatewayStore
from bastion.store import open_store
from tests.gateway.helpers import Capture, harness, infer_body

REQUEST = {
    "kind": "request",
    "action": "inference.request",
    "log_id": "gw",
    "seq": 7,
    "time": "2026-01-02T03:04:05.000006Z",
    "request_id": "abc",
    "outcome": "success",
    "decision": "allowed",
    "status": 200,
    "method": "POST",
    "path": "/v2/models/iris/infer",
    "client": {"ip": "10.1.2.3", "port": 5555},
    "user_agent": "evil|agent=x\nnext",
    "identity": {"id": "key:1", "name": "svc", "kind": "api_key", "roles": ["predictor"]},
    "model": "iris",
    "input": {"sha256": "ab" * 32, "shape": [1, 4], "dtype": "float32"},
    "duration_ms": 1.5,
}
AUTH_FAILED = {
    **REQUEST,
    "action": "auth.failed",
    "outcome": "failure",
    "decision": "denied",
    "status": 401,
    "identity": None,
    "rule_id": "BST-GW-002",
    "rule_name": "Invalid credential",
    "reason": "bad-secret",
    "atlas": ["AML.T0012"],
}
DETECTION = {
    "kind": "detection",
    "action": "detection.probing",
    "log_id": "gw",
    "seq": 8,
    "time": "2026-01-02T03:04:06Z",
    "rule_id": "BST-GW-010",
    "rule_name": "Near-duplicate probing",
    "atlas": ["AML.T0043.001"],
    "detection": {
        "id": "d1",
        "type": "probing",
        "severity": "high",
        "message": "key:1 probing",
        "identity": "key:1",
        "model": "iris",
        "evidence": {"probes": 30},
    },
}


def test_ecs_fields() -> None:
    doc = to_ecs(REQUEST, "f" * 64)
    assert doc["ecs"]["version"].startswith("8.")
    assert doc["event"]["id"] == "gw:7" and doc["event"]["dataset"] == "bastion.gateway"
    assert doc["event"]["category"] == ["api", "web"] and doc["event"]["outcome"] == "success"
    assert doc["event"]["duration"] == 1_500_000 and doc["event"]["hash"] == "f" * 64
    assert doc["user"]["roles"] == ["predictor"] and doc["source"]["ip"] == "10.1.2.3"
    assert doc["http"]["response"]["status_code"] == 200 and doc["labels"]["model"] == "iris"
    auth = to_ecs(AUTH_FAILED)
    assert auth["event"]["category"] == ["authentication"]
    assert auth["event"]["outcome"] == "failure" and auth["rule"]["id"] == "BST-GW-002"
    alert = to_ecs(DETECTION)
    assert alert["event"]["kind"] == "alert" and alert["event"]["severity"] == 3
    assert alert["threat"] == {"framework": "MITRE ATLAS", "technique": {"id": ["AML.T0043.001"]}}


def test_ocsf_classes() -> None:
    api = to_ocsf(REQUEST)
    assert (api["class_uid"], api["category_uid"], api["activity_id"]) == (6003, 6, 99)
    assert api["type_uid"] == 600399 and api["api"]["operation"] == "inference.request"
    assert api["metadata"]["version"] == "1.8.0" and api["metadata"]["product"]["name"]
    assert api["time"] == 1767323045000 and api["status_id"] == 1
    auth = to_ocsf(AUTH_FAILED)
    assert (auth["class_uid"], auth["activity_id"], auth["type_uid"]) == (3002, 1, 300201)
    assert auth["status_id"] == 2 and auth["user"]["uid"] == "anonymous"
    finding = to_ocsf(DETECTION)
    assert (finding["class_uid"], finding["type_uid"]) == (2004, 200401)
    assert finding["finding_info"]["uid"] == "d1" and finding["severity_id"] == 4
    assert finding["finding_info"]["attacks"] == [{"technique": {"uid": "AML.T0043.001"}}]


def test_cef_escaping() -> None:
    line = to_cef(REQUEST)
    assert line.startswith("CEF:0|bastion|gateway|")
    assert "\n" not in line
    assert "requestClientApplication=evil|agent\\=x\\nnext" in line
    header = to_cef({**DETECTION, "rule_name": "a|b\\c"}).split("|")
    assert header[5] == "a\\" and "BST-GW-010" in header[4]
    assert "cs2=AML.T0043.001" in to_cef(DETECTION)


def _writer(tmp_path: Path, n: int) -> GatewayStore:
    store = GatewayStore(open_store(f"sqlite:///{tmp_path / 'a.db'}"))
    store.create()
    writer = AuditWriter(store, "gw")
    writer.start()
    for i in range(n):
        writer.append_sync({**REQUEST, "request_id": f"r{i}"})
    writer.stop()
    return store


def _drain(exporter: SinkExporter, limit: int = 50) -> None:
    for _ in range(limit):
        if not exporter.step():
            break
    exporter.stop()


def test_file_sink_and_cursor(tmp_path: Path) -> None:
    store = _writer(tmp_path, 25)
    sink = SinkSettings(
        name="f", type="file", format="ecs", path=tmp_path / "siem.jsonl", batch_size=10
    )
    exporter = SinkExporter(store, "gw", sink, make_sink(sink, tmp_path), tmp_path / "spool")
    _drain(exporter)
    lines = (tmp_path / "siem.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"]["id"] for line in lines] == [f"gw:{i}" for i in range(1, 26)]
    assert exporter.cursor == 25
    again = SinkExporter(store, "gw", sink, make_sink(sink, tmp_path), tmp_path / "spool")
    assert again.step() is False


def test_webhook_retries_lose_nothing(tmp_path: Path) -> None:
    store = _writer(tmp_path, 30)
    hook = Capture(fail_first=3)
    try:
        sink = SinkSettings(
            name="w",
            type="webhook",
            format="ocsf",
            url=hook.url,
            batch_size=8,
            max_backoff_seconds=0.2,
        )
        exporter = SinkExporter(store, "gw", sink, make_sink(sink, tmp_path), tmp_path / "spool")
        exporter.start()
        deadline = time.monotonic() + 20
        while exporter.cursor < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        exporter.stop()
    finally:
        hook.close()
    events = [json.loads(line) for body in hook.bodies for line in body.splitlines()]
    assert [e["metadata"]["uid"] for e in events] == [f"gw:{i}" for i in range(1, 31)]
    assert exporter.failures == 3


def test_syslog_udp_and_tcp(tmp_path: Path) -> None:
    store = _writer(tmp_path, 3)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    sink = SinkSettings(
        name="u",
        type="syslog",
        format="cef",
        host="127.0.0.1",
        port=udp.getsockname()[1],
        protocol="udp",
    )
    _drain(SinkExporter(store, "gw", sink, make_sink(sink, tmp_path), tmp_path / "s1"))
    frames = [udp.recv(65535) for _ in range(3)]
    udp.close()
    assert all(f.startswith(b"<110>1 ") for f in frames)  # facility 13 (audit), info
    assert b" bastion " in frames[0] and b"CEF:0|bastion|gateway|" in frames[0]

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        conn.settimeout(5)
        data = b""
        while data.count(b"CEF:0") < 3:
            chunk = conn.recv(65535)
            if not chunk:
                break
            data += chunk
        received.append(data)
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    sink = SinkSettings(
        name="t",
        type="syslog",
        format="cef",
        host="127.0.0.1",
        port=server.getsockname()[1],
        protocol="tcp",
    )
    _drain(SinkExporter(store, "gw", sink, make_sink(sink, tmp_path), tmp_path / "s2"))
    thread.join(10)
    server.close()
    data = received[0]
    for _ in range(3):  # RFC 6587 octet counting: "LEN SP MSG"
        length, _, data = data.partition(b" ")
        frame, data = data[: int(length)], data[int(length) :]
        assert frame.startswith(b"<110>1 ") and b"CEF:0|bastion|gateway|" in frame
    assert data == b""


@pytest.mark.anyio
async def test_gateway_exports_while_serving(settings_factory: Any, tmp_path: Path) -> None:
    out = tmp_path / "ecs.jsonl"
    settings = settings_factory(
        tables={"siem": {"spool_dir": str(tmp_path / "spool")}},
        arrays={
            "siem.sinks": [
                {
                    "name": "file",
                    "type": "file",
                    "format": "ecs",
                    "path": str(out),
                    "flush_seconds": 0.1,
                }
            ]
        },
    )
    async with harness(settings) as h:
        token = h.key("predictor")
        for _ in range(3):
            await h.client.post(
                "/v2/models/iris/infer", json=infer_body([[5, 5, 5, 5]]), headers=h.auth(token)
            )
        await h.client.get("/v2/models")
    events = [json.loads(line) for line in out.read_text().splitlines()]
    actions = [e["event"]["action"] for e in events]
    assert actions.count("inference.request") == 3 and "auth.failed" in actions
    assert actions[-1] == "gateway.stop"
