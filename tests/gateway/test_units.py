"""Unit checks: input validation, output hardening, profiles, API keys, limits headers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.gateway.apikeys import hash_secret, new_key, parse
from bastion.gateway.errors import GatewayError
from bastion.gateway.hardening import harden
from bastion.gateway.limiter import LimitResult
from bastion.gateway.profile import build_profile, load_profile
from bastion.gateway.settings import Hardening, InputSchema, OutputSchema
from bastion.gateway.validation import InputError, parse_json, validate

SCHEMA = InputSchema(dtype="float32", shape=(-1, 2, 2), min=-1.0, max=1.0, max_batch=4)


def test_validation_accepts_v1_and_v2() -> None:
    v2 = validate(
        {"inputs": [{"shape": [1, 2, 2], "datatype": "FP32", "data": [0.1, 0.2, 0.3, 0.4]}]}, SCHEMA
    )
    v1 = validate({"instances": [[[0.1, 0.2], [0.3, 0.4]]]}, SCHEMA)
    assert v1.digest == v2.digest and v1.array.dtype == np.float32
    assert v1.summary() == {"sha256": v1.digest, "shape": [1, 2, 2], "dtype": "float32"}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": [[1, 2]]}, "shape"),
        ({"instances": [[[0, 0], [0, 2]]]}, "maximum"),
        ({"instances": [[[0, 0], [0, 0]]] * 5}, "batch"),
        ({"inputs": [{"shape": [1, 4], "datatype": "INT64", "data": [0, 0, 0, 0]}]}, "datatype"),
        ({"inputs": [{"shape": [2, 2, 2], "data": [0, 0, 0, 0]}]}, "declared shape"),
        ({"inputs": [{"shape": [1, 2, 2], "data": [True, 0, 0, 0]}, {}]}, "exactly one"),
        ({"instances": [[[0, 0], [0, "x"]]]}, "rectangular"),
        ({"other": 1}, "expected"),
        ([1, 2], "object"),
    ],
)
def test_validation_rejects(body: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        validate(body, SCHEMA)


def test_json_parsing_limits() -> None:
    with pytest.raises(InputError, match="NaN"):
        parse_json(b'{"a": NaN}', 8)
    with pytest.raises(InputError, match="deeper"):
        parse_json(b'{"a": ' * 10 + b"1" + b"}" * 10, 8)
    with pytest.raises(InputError, match="malformed"):
        parse_json(b"\xff\xfe", 8)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_validation_never_crashes(value: object) -> None:
    try:
        validate({"instances": value}, SCHEMA)
    except InputError:
        pass
    try:
        validate(value, SCHEMA)
    except InputError:
        pass


def test_hardening() -> None:
    out = np.array([[0.123456, 0.7, 0.176544]])
    labels = OutputSchema(kind="probabilities", labels=("a", "b", "c"))
    assert harden(out, labels, Hardening(top_k=2, decimals=2)) == [
        [{"label": "b", "score": 0.7}, {"label": "c", "score": 0.18}]
    ]
    assert harden(out, labels, Hardening(top_k=1, labels_only=True)) == [["b"]]
    logits = harden(
        np.array([[0.0, 10.0]]), OutputSchema(kind="logits"), Hardening(top_k=1, decimals=3)
    )
    assert logits == [[{"label": "1", "score": 1.0}]]
    assert harden(
        np.array([[1.23456]]), OutputSchema(kind="regression"), Hardening(decimals=1)
    ) == [[1.2]]


def test_profile_round_trip(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(400, 3))
    path = tmp_path / "p.json"
    path.write_text(json.dumps(build_profile(data)))
    profile = load_profile(path, 3)
    scores = profile.score(np.array([[3.0, 3.0, 3.0], [3.0, 3.0, 40.0]]))
    assert scores[0] < 1 and scores[1] > 10
    with pytest.raises(GatewayError, match="features"):
        load_profile(path, 4)
    path.write_text(json.dumps({"median": [0], "scale": [0]}))
    with pytest.raises(GatewayError, match="positive"):
        load_profile(path, 1)


def test_api_keys() -> None:
    created = new_key("svc", ("predictor",), expires_in=10, now=100.0)
    key_id, secret = parse(created.token) or ("", "")
    assert key_id == created.record.key_id and len(secret) == 43
    assert created.record.secret_hash == hash_secret(secret) != secret
    assert created.record.state(105.0) == "active" and created.record.state(111.0) == "expired"
    assert parse("bst_short_x") is None


def test_ratelimit_headers() -> None:
    refused = LimitResult(False, "identity-0", 20, 60, 0, 12.3)
    headers = dict(refused.headers())
    assert headers[b"ratelimit-policy"] == b'"identity-0";q=20;w=60'
    assert headers[b"ratelimit"] == b'"identity-0";r=0;t=13'
    assert headers[b"retry-after"] == b"13"
    assert b"retry-after" not in dict(LimitResult(True, "x", 5, 1, 4, 0.5).headers())
