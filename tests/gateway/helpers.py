"""Test helpers: tiny ONNX models, signed models, gateway configs, in-process harness."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

FEATURES = 4
LABELS = ("setosa", "versicolor", "virginica")


def build_onnx(path: Path, seed: int = 0) -> Path:
    """A 4 → 3 softmax classifier built with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(FEATURES, 3)).astype(np.float32)
    bias = np.zeros(3, np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["input", "W"], ["mm"]),
            helper.make_node("Add", ["mm", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "iris",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def sign(model: Path, keydir: Path) -> Path:
    """Sign and attest a model with a fresh EC key; returns the public key path."""
    from bastion.integrity.attestation import AttestInputs, attest_model
    from bastion.integrity.keys import generate_key_pair
    from bastion.integrity.signing import KeySigner, sign_model

    keydir.mkdir(parents=True, exist_ok=True)
    pair = generate_key_pair(keydir / "release.pem")
    signer = KeySigner(keydir / "release.pem")
    sign_model(model, signer)
    attest_model(AttestInputs(model=model), signer)
    return pair.public


def write_profile(path: Path, seed: int = 1) -> Path:
    """A training profile of N(5, 1) data."""
    from bastion.gateway.profile import build_profile

    data = np.random.default_rng(seed).normal(5.0, 1.0, size=(500, FEATURES))
    path.write_text(json.dumps(build_profile(data)))
    return path


def toml_value(value: Any) -> str:
    """A TOML literal (enough for the configs these tests write)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(type(value))


def write_config(
    path: Path,
    gateway: dict[str, Any],
    models: list[dict[str, Any]],
    tables: dict[str, dict[str, Any]] | None = None,
    arrays: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """A gateway.toml with a [gateway] table, [[gateway.models]] and extra sub-tables."""
    lines = ["[gateway]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in gateway.items()]
    for name, table in (tables or {}).items():
        lines.append(f"\n[gateway.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    for model in models:
        lines.append("\n[[gateway.models]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in model.items()]
    for name, items in (arrays or {}).items():
        for item in items:
            lines.append(f"\n[[gateway.{name}]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def model_entry(model: Path, pub: Path | None, **extra: Any) -> dict[str, Any]:
    """A [[gateway.models]] entry for the test ONNX model."""
    entry: dict[str, Any] = {
        "name": "iris",
        "backend": "onnx",
        "path": str(model),
        "input": {
            "dtype": "float32",
            "shape": [-1, FEATURES],
            "min": -100.0,
            "max": 100.0,
            "max_batch": 64,
        },
        "output": {"kind": "probabilities", "labels": list(LABELS)},
    }
    if pub is None:
        entry["verify"] = {"require_signature": False, "require_scan_attestation": False}
    else:
        entry["verify"] = {"trusted_keys": [str(pub)]}
    entry.update(extra)
    return entry


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def infer_body(rows: list[list[float]]) -> dict[str, Any]:
    """An Open Inference Protocol v2 request."""
    return {
        "inputs": [
            {
                "name": "input",
                "shape": [len(rows), FEATURES],
                "datatype": "FP32",
                "data": [v for row in rows for v in row],
            }
        ]
    }


class Harness:
    """A started gateway served in process through httpx's ASGI transport."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.gateway = app.gateway
        self.client = client

    def key(
        self,
        *roles: str,
        name: str = "test",
        models: tuple[str, ...] = ("*",),
        expires_in: float | None = None,
    ) -> str:
        """Create an API key directly in the store."""
        from bastion.gateway.apikeys import new_key

        created = new_key(name, tuple(roles), models=models, expires_in=expires_in)
        self.gateway.store.add_key(created.record)
        return created.token

    def auth(self, token: str) -> dict[str, str]:
        """Bearer header."""
        return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def harness(settings: Any, client_ip: str = "10.9.8.7") -> AsyncIterator[Harness]:
    """Start a gateway for these settings and give an HTTP client to it."""
    from bastion.gateway.app import create_app

    app = create_app(settings)
    await app.gateway.start()
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield Harness(app, client)
    finally:
        await app.gateway.stop()


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Wait until a URL answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)


class Capture:
    """A loopback HTTP server that records POST bodies (a webhook or SIEM endpoint)."""

    def __init__(self, fail_first: int = 0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[bytes] = []
        self.fail_first = fail_first
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if capture.fail_first > 0:
                    capture.fail_first -= 1
                    self.send_response(503)
                else:
                    capture.bodies.append(body)
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()
