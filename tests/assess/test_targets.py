"""Targets: safe loading (weights_only, skops audit), shape errors, ONNX, HTTP endpoints."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bastion.assess.config import RobustnessSpec
from bastion.assess.data import Dataset
from bastion.assess.errors import EndpointError, ShapeMismatchError, TargetError
from bastion.assess.robustness.evaluate import evaluate_robustness
from bastion.assess.targets.http_target import HttpTarget, TokenBucket
from bastion.assess.targets.sklearn_target import SklearnTarget, load_skops
from bastion.assess.targets.torch_target import TorchTarget, build_torch_target
from tests.assess.conftest import Digits, build_cnn
from tests.conftest import inert_command

torch = pytest.importorskip("torch")


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


def test_state_dict_loading_refuses_pickled_code(tmp_path: Path, marker_dir: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"weight": _Payload(inert_command(marker_dir))}, path)
    with pytest.raises(TargetError, match="refused to unpickle"):
        build_torch_target(
            "m",
            build_cnn,
            path,
            10,
            device=torch.device("cpu"),
            output="logits",
            feature_layer=None,
            train_fn=None,
        )


def test_state_dict_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(TargetError, match="do not fit the module"):
        build_torch_target(
            "m",
            build_cnn,
            path,
            10,
            device=torch.device("cpu"),
            output="logits",
            feature_layer=None,
            train_fn=None,
        )


def test_skops_audit_refuses_foreign_callables(tmp_path: Path, marker_dir: Path) -> None:
    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=os.system, kw_args=None), path)
    with pytest.raises(TargetError) as err:
        load_skops(path, (), "evil")
    assert "system" in str(err.value) and "trusted" in str(err.value)


def test_skops_roundtrip(tmp_path: Path, forest: Any, digits: Digits) -> None:
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "f.skops"
    sio.dump(forest, path)
    target = SklearnTarget("f", load_skops(path, (), "f"), 10)
    x = digits.x[digits.test[:20]]
    assert np.allclose(target.predict_proba(x), forest.predict_proba(x))
    assert target.queries == 20


def test_model_that_rejects_the_data_shape(cnn: Any, digits: Digits) -> None:
    target = TorchTarget("cnn", cnn, 10, device=torch.device("cpu"))
    with pytest.raises(ShapeMismatchError, match=r"does not accept inputs of shape \[64\]"):
        target.check_input(digits.x[:2])
    target.check_input(digits.x[:2].reshape(-1, 1, 8, 8))
    with pytest.raises(ShapeMismatchError, match="scores 10 classes but the data has 3"):
        TorchTarget("cnn", cnn, 3, device=torch.device("cpu")).check_input(
            digits.x[:2].reshape(-1, 1, 8, 8)
        )


def test_torch_features_are_penultimate(cnn: Any, digits: Digits) -> None:
    target = TorchTarget("cnn", cnn, 10, device=torch.device("cpu"))
    feats = target.features(digits.x[:5].reshape(-1, 1, 8, 8))
    assert feats is not None and feats.shape == (5, 64)


def _onnx_mlp(tmp_path: Path, digits: Digits) -> tuple[Path, Any]:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import warnings

    from onnx import TensorProto, helper, numpy_helper
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(
            digits.x[digits.train], digits.y[digits.train]
        )
    inits = [
        numpy_helper.from_array(a.astype(np.float32), name)
        for a, name in (
            (mlp.coefs_[0], "W1"),
            (mlp.intercepts_[0], "b1"),
            (mlp.coefs_[1], "W2"),
            (mlp.intercepts_[1], "b2"),
        )
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["X", "W1", "b1"], ["h"]),
            helper.make_node("Relu", ["h"], ["a"]),
            helper.make_node("Gemm", ["a", "W2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "mlp.onnx"
    onnx.save(model, path)
    return path, mlp


def test_onnx_scores_and_intermediate_features(tmp_path: Path, digits: Digits) -> None:
    from bastion.assess.targets.onnx_target import OnnxTarget

    path, mlp = _onnx_mlp(tmp_path, digits)
    target = OnnxTarget("mlp", path, 10)
    x = digits.x[digits.test[:30]]
    assert np.allclose(target.predict_proba(x), mlp.predict_proba(x), atol=1e-4)
    feats = target.features(x)
    assert feats is not None
    hidden = np.maximum(x @ mlp.coefs_[0] + mlp.intercepts_[0], 0)
    assert np.allclose(feats, hidden, atol=1e-4)
    assert not target.differentiable


# -- HTTP endpoints ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    model: Any = None
    mode = "ok"
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "limited":
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if self.mode == "slow":
            time.sleep(1.0)
        if self.headers.get("Authorization") != "Bearer secret-token":
            self.send_response(401)
            self.end_headers()
            return
        proba = self.model.predict_proba(np.asarray(body["inputs"]))
        payload = json.dumps({"probabilities": proba.tolist()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except BrokenPipeError:  # the client gave up (the timeout test)
            return

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def endpoint(forest: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type]]:
    handler = type("Handler", (_Handler,), {"model": forest, "mode": "ok", "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ASSESS_TOKEN", "Bearer secret-token")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict", handler
    finally:
        server.shutdown()
        server.server_close()


def _http(url: str, **kw: Any) -> HttpTarget:
    return HttpTarget(
        "api", url, 10, headers_from_env=(("Authorization", "ASSESS_TOKEN"),), rate=1000.0, **kw
    )


def test_http_target_matches_local_model(
    endpoint: tuple[str, type], forest: Any, digits: Digits
) -> None:
    url, _ = endpoint
    target = _http(url, batch_size=16)
    x = digits.x[digits.test[:40]]
    assert np.allclose(target.predict_proba(x), forest.predict_proba(x))
    assert target.queries == 40 and target.requests == 3


def test_http_budget_gives_a_partial_stated_result(
    endpoint: tuple[str, type], digits: Digits
) -> None:
    url, _ = endpoint
    target = _http(url, query_budget=600, batch_size=256)
    data = Dataset.of(digits.x[digits.test[:150]], digits.y[digits.test[:150]], source="t")
    spec = RobustnessSpec(attacks=("square",), epsilons=(0.3,), samples=150, max_queries=100)
    report = evaluate_robustness(target, data, spec, bounds=(0.0, 1.0), image=False)
    metric = report.attacks[0]
    assert report.partial is not None and "query budget of 600" in report.partial
    assert 0 < metric.attacked < metric.samples
    assert metric.partial is not None


def test_http_rate_limited(endpoint: tuple[str, type], digits: Digits) -> None:
    url, handler = endpoint
    handler.mode = "limited"
    target = _http(url, max_retries=2)
    with pytest.raises(EndpointError, match=r"rate-limited \(HTTP 429\) after 2 retries"):
        target.predict_proba(digits.x[:3])
    assert handler.hits == 3


def test_http_timeout(endpoint: tuple[str, type], digits: Digits) -> None:
    url, handler = endpoint
    handler.mode = "slow"
    target = _http(url, max_retries=0, timeout_s=0.2)
    with pytest.raises(EndpointError, match=r"timed out after 0\.2s"):
        target.predict_proba(digits.x[:3])


def test_http_missing_credentials_variable() -> None:
    with pytest.raises(EndpointError, match="NO_SUCH_VARIABLE"):
        HttpTarget(
            "api",
            "http://127.0.0.1:9/x",
            10,
            headers_from_env=(("Authorization", "NO_SUCH_VARIABLE"),),
        )


def test_token_bucket_paces_calls() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(rate=10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        bucket.take()
    assert slept and abs(sum(slept) - 0.4) < 1e-9
