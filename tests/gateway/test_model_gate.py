"""Models are served only after signature, attestation and scan pass; a refused model is
never loaded, and the gateway says why (readyz, audit record, detection, log)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import inert_command
from tests.gateway.helpers import build_onnx, harness, infer_body, model_entry

pytestmark = pytest.mark.anyio


def _copy_signed(signed: tuple[Path, Path], folder: Path) -> Path:
    model, _pub = signed
    folder.mkdir()
    for item in model.parent.iterdir():
        if item.is_file() and item.name.startswith(model.name):
            shutil.copy2(item, folder / item.name)
    return folder / model.name


async def _refused(settings: Any) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    async with harness(settings) as h:
        ready = await h.client.get("/readyz")
        token = h.key("predictor")
        infer = await h.client.post(
            "/v2/models/iris/infer", json=infer_body([[1, 1, 1, 1]]), headers=h.auth(token)
        )
        assert infer.status_code == 503
        admin = await h.client.get("/admin/models", headers=h.auth(h.key("deployer")))
        assert admin.status_code == 200 and admin.json()["models"][0]["reasons"]
    records = [r.data() for r in h.gateway.store.audit_rows("test", limit=1000)]
    return ready, ready.json(), records


async def test_tampered_model_is_refused(
    settings_factory: Any, tmp_path: Path, signed_model: tuple[Path, Path]
) -> None:
    copy = _copy_signed(signed_model, tmp_path / "tampered")
    data = bytearray(copy.read_bytes())
    data[-5] ^= 0xFF
    copy.write_bytes(bytes(data))
    entry = model_entry(copy, signed_model[1])
    ready, body, records = await _refused(settings_factory(models=[entry]))
    assert ready.status_code == 503 and body["ready"] is False
    reasons = body["models"]["iris"]["reasons"]
    assert reasons and all(r.startswith("integrity:") for r in reasons)
    load = next(r for r in records if r.get("action") == "model.load")
    assert load["outcome"] == "failure" and load["reasons"] == reasons
    detection = next(r for r in records if r.get("kind") == "detection")
    assert detection["rule_id"] == "BST-GW-017"


async def test_unsigned_model_is_refused(
    settings_factory: Any, tmp_path: Path, signed_model: tuple[Path, Path]
) -> None:
    model = build_onnx(tmp_path / "unsigned.onnx")
    ready, body, _records = await _refused(
        settings_factory(models=[model_entry(model, signed_model[1])])
    )
    assert ready.status_code == 503
    assert any("signature" in r.lower() or "sig" in r for r in body["models"]["iris"]["reasons"])


async def test_untrusted_signer_is_refused(
    settings_factory: Any, tmp_path: Path, signed_model: tuple[Path, Path]
) -> None:
    from bastion.integrity.keys import generate_key_pair

    other = generate_key_pair(tmp_path / "other.pem")
    ready, _body, _records = await _refused(
        settings_factory(models=[model_entry(signed_model[0], other.public)])
    )
    assert ready.status_code == 503


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (self.command,))


async def test_malicious_weights_fail_the_scan(
    settings_factory: Any, tmp_path: Path, marker_dir: Path
) -> None:
    weights = tmp_path / "weights.pt"
    weights.write_bytes(pickle.dumps({"w": _Payload(inert_command(marker_dir))}))
    entry = {
        "name": "iris",
        "backend": "torch",
        "path": str(weights),
        "architecture": "tests.gateway.arch:build",
        "input": {"dtype": "float32", "shape": [-1, 4]},
        "verify": {"require_signature": False, "require_scan_attestation": False},
    }
    _ready, body, _records = await _refused(settings_factory(models=[entry]))
    reasons = body["models"]["iris"]["reasons"]
    assert any(r.startswith("scan: BST-PKL-") for r in reasons), reasons
