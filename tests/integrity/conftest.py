"""Fixtures for the integrity tests: key pairs (made once) and small model folders."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.integrity.keys import KeyPair, generate_key_pair


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of key pairs for the whole session (EC key generation is cheap but not free)."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def key(keys_dir: Path) -> KeyPair:
    """The release key (P-256)."""
    return generate_key_pair(keys_dir / "release.pem")


@pytest.fixture(scope="session")
def other_key(keys_dir: Path) -> KeyPair:
    """A key nobody trusts (P-384)."""
    return generate_key_pair(keys_dir / "other.pem", curve="p384")


def safetensors_bytes(count: int) -> bytes:
    """A valid safetensors file with one float32 tensor of random values."""
    import json
    import struct

    header = json.dumps(
        {"weight": {"dtype": "F32", "shape": [count], "data_offsets": [0, 4 * count]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + os.urandom(4 * count)


def write_model(root: Path, files: dict[str, bytes] | None = None) -> Path:
    """A small model folder: a config, two weight shards and a tokenizer in a subfolder."""
    root.mkdir(parents=True, exist_ok=True)
    content = files or {
        "config.json": b'{"model_type": "bert", "architectures": ["BertModel"]}',
        "model-00001-of-00002.safetensors": safetensors_bytes(1000),
        "model-00002-of-00002.safetensors": safetensors_bytes(700),
        "tokenizer/vocab.txt": b"[PAD]\n[UNK]\nhello\n",
    }
    for rel, data in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A fresh model folder."""
    return write_model(tmp_path / "bert")


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    """Factory for more model folders under the test's tmp dir."""

    def make(name: str, files: dict[str, bytes] | None = None) -> Path:
        return write_model(tmp_path / name, files)

    return make
