"""Local backends (skops, PyTorch state_dict) and the upstream reverse proxy, with output
hardening per role."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.gateway.helpers import LABELS, harness, infer_body

pytestmark = pytest.mark.anyio
UNSIGNED = {"require_signature": False, "require_scan_attestation": False}


def _entry(**extra: Any) -> dict[str, Any]:
    return {
        "name": "iris",
        "input": {"dtype": "float32", "shape": [-1, 4], "max_batch": 8},
        "output": {"kind": "probabilities", "labels": list(LABELS)},
        "verify": UNSIGNED,
        **extra,
    }


@pytest.mark.slow
async def test_skops_model(settings_factory: Any, tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4))
    y = np.repeat([0, 1, 2], 30)
    x += y[:, None] * 2
    path = tmp_path / "model.skops"
    sio.dump(LogisticRegression(max_iter=500).fit(x, y), path)
    settings = settings_factory(
        models=[_entry(backend="sklearn", path=str(path))],
        tables={"hardening.predictor": {"top_k": 1, "decimals": 1}},
    )
    async with harness(settings) as h:
        r = await h.client.post(
            "/v2/models/iris/infer",
            json=infer_body([[4, 4, 4, 4], [0, 0, 0, 0]]),
            headers=h.auth(h.key("predictor")),
        )
        assert r.status_code == 200, r.text
        predictions = r.json()["predictions"]
        assert [p[0]["label"] for p in predictions] == ["virginica", "setosa"]
        assert all(len(p) == 1 and p[0]["score"] == round(p[0]["score"], 1) for p in predictions)


@pytest.mark.slow
async def test_skops_untrusted_type_is_refused(settings_factory: Any, tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "model.skops"
    from tests.gateway.arch import double

    sio.dump(FunctionTransformer(func=double), path)
    settings = settings_factory(models=[_entry(backend="sklearn", path=str(path))])
    async with harness(settings) as h:
        state = h.gateway.models["iris"]
        assert not state.ready and "not trusted" in state.reasons[0]


@pytest.mark.torch
@pytest.mark.slow
async def test_torch_state_dict(settings_factory: Any, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from tests.gateway.arch import build

    path = tmp_path / "weights.pt"
    torch.save(build().state_dict(), path)
    settings = settings_factory(
        models=[_entry(backend="torch", path=str(path), architecture="tests.gateway.arch:build")],
        tables={"hardening.predictor": {"labels_only": True, "top_k": 2}},
    )
    async with harness(settings) as h:
        assert h.gateway.models["iris"].ready, h.gateway.models["iris"].reasons
        r = await h.client.post(
            "/v2/models/iris/infer",
            json=infer_body([[1, 2, 3, 4]]),
            headers=h.auth(h.key("predictor")),
        )
        assert r.status_code == 200
        labels = r.json()["predictions"][0]
        assert len(labels) == 2 and set(labels) <= set(LABELS)


@pytest.fixture
def upstream() -> Iterator[tuple[str, list[Any]]]:
    seen: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(body)
            rows = body["inputs"][0]["shape"][0]
            out = json.dumps(
                {
                    "model_name": "iris",
                    "outputs": [
                        {
                            "name": "probabilities",
                            "shape": [rows, 3],
                            "datatype": "FP32",
                            "data": [0.1234567, 0.7654321, 0.1111112] * rows,
                        }
                    ],
                }
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/models/iris/infer", seen
    server.shutdown()
    server.server_close()


async def test_upstream_proxy_validates_and_hardens(
    settings_factory: Any, upstream: tuple[str, list[Any]]
) -> None:
    url, seen = upstream
    settings = settings_factory(
        models=[_entry(backend="upstream", upstream_url=url)],
        tables={"hardening.predictor": {"top_k": 2, "decimals": 2}},
    )
    async with harness(settings) as h:
        token = h.key("predictor")
        r = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[1, 2, 3, 4]]), headers=h.auth(token)
        )
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0] == [
            {"label": "versicolor", "score": 0.77},
            {"label": "setosa", "score": 0.12},
        ]
        bad = await h.client.post(
            "/v2/models/iris/infer", json={"instances": [[1, 2, 3]]}, headers=h.auth(token)
        )
        assert bad.status_code == 422 and len(seen) == 1


async def test_upstream_down_is_502(settings_factory: Any) -> None:
    from tests.gateway.helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/infer"
    settings = settings_factory(
        models=[_entry(backend="upstream", upstream_url=url, timeout_seconds=2.0)]
    )
    async with harness(settings) as h:
        r = await h.client.post(
            "/v2/models/iris/infer",
            json=infer_body([[1, 2, 3, 4]]),
            headers=h.auth(h.key("predictor")),
        )
        assert r.status_code == 502
        assert (await h.client.get("/healthz")).status_code == 200
