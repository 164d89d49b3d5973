"""Helpers for the Keras tests: inert payloads, config editing, scanning.

Malicious samples are made by editing a real saved file's config. The only payload any sample
carries is ``touch <marker>`` (see ``tests/conftest.py``); nothing here ever loads a model.
"""

from __future__ import annotations

import base64
import json
import marshal
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

from bastion.core import Finding, ScanResult
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings

Config = dict[str, Any]


def lambda_code(source: str) -> CodeType:
    """The code object of ``source`` (a ``lambda`` expression), compiled and never run."""
    module = compile(source, "<payload>", "eval")
    code = next(c for c in module.co_consts if isinstance(c, CodeType))
    return code


def marker_payload_b64(marker: Path) -> str:
    """Base64 marshal of a Lambda function that would only ``touch`` the marker file."""
    source = f"lambda x: __import__('os').system('touch {marker}') or x"
    return base64.b64encode(marshal.dumps(lambda_code(source))).decode("ascii")


def edit_keras(src: Path, dst: Path, edit: Callable[[Config], None]) -> Path:
    """Copy a ``.keras`` archive with its ``config.json`` changed by ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode("utf-8")
            zout.writestr(info, data)
    return dst


def edit_h5(src: Path, dst: Path, edit: Callable[[Config], None]) -> Path:
    """Copy a legacy ``.h5`` model with its ``model_config`` attribute changed by ``edit``."""
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config)
        handle.attrs["model_config"] = json.dumps(config)
    return dst


def layers_of(config: Config) -> list[Config]:
    """The ``layers`` list of a Sequential/Functional model config."""
    layers = config["config"]["layers"]
    assert isinstance(layers, list)
    return layers


def find_layer(config: object, name: str) -> Config:
    """The first object whose ``config.name`` is ``name`` (depth first)."""
    stack = [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            inner = value.get("config")
            if isinstance(inner, dict) and inner.get("name") == name and "class_name" in value:
                return value
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    raise KeyError(name)


def scan_path(path: Path, **settings: tuple[str, ...]) -> ScanResult:
    """Scan a file or directory through the real engine."""
    return scan(path, ScanOptions(settings=ScanSettings(**settings)))  # type: ignore[arg-type]


def by_rule(result: ScanResult, rule_id: str) -> list[Finding]:
    """Findings of one rule."""
    return [f for f in result.findings if f.rule_id == rule_id]


def rule_ids(result: ScanResult) -> set[str]:
    """Every rule id found."""
    return {f.rule_id for f in result.findings}
