"""Gateway fixtures: a signed ONNX model and settings around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gateway.helpers import build_onnx, model_entry, sign, write_config, write_profile


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def signed_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A signed and attested ONNX model folder: (model file, public key)."""
    root = tmp_path_factory.mktemp("signed")
    model = build_onnx(root / "iris.onnx")
    pub = sign(model, root / "keys")
    return model, pub


@pytest.fixture
def settings_factory(tmp_path: Path, signed_model: tuple[Path, Path]) -> Any:
    """Build GatewaySettings from overrides (a fresh SQLite store per test)."""
    from bastion.gateway.settings import load_settings

    model, pub = signed_model
    profile = write_profile(tmp_path / "iris.profile.json")

    def make(
        gateway: dict[str, Any] | None = None,
        *,
        model_extra: dict[str, Any] | None = None,
        tables: dict[str, dict[str, Any]] | None = None,
        arrays: dict[str, list[dict[str, Any]]] | None = None,
        models: list[dict[str, Any]] | None = None,
    ) -> Any:
        base = {"instance": "test", "store": f"sqlite:///{tmp_path / 'gw.db'}"}
        base.update(gateway or {})
        entry = model_entry(model, pub, profile=str(profile), **(model_extra or {}))
        path = write_config(
            tmp_path / "gateway.toml",
            base,
            models if models is not None else [entry],
            tables,
            arrays,
        )
        return load_settings(path)

    return make
