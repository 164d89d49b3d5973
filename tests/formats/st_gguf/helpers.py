"""Builders for safetensors and GGUF bytes (valid and corrupt) and helpers to scan them."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from bastion.core import ScanResult, SkipReason
from bastion.registry import default_registry
from bastion.scan.blob import BytesBlob
from bastion.scan.detect import detect
from bastion.scan.engine import scan
from bastion.scan.interface import AnalysisContext, ScanSettings, _Sink


def scan_bytes(tmp_path: Path, name: str, data: bytes) -> ScanResult:
    """Write ``data`` to ``tmp_path/name`` and scan that file through the engine."""
    path = tmp_path / name
    path.write_bytes(data)
    return scan(path)


def analyze_bytes(data: bytes, name: str, fmt: str) -> _Sink:
    """Run the analyzers of ``fmt`` on in-memory bytes (no files; used by the fuzz tests)."""
    settings = ScanSettings()
    ctx = AnalysisContext(
        name,
        default_registry(),
        settings,
        detector=lambda blob, member: detect(blob, member, settings.limits),
    )
    ctx.run(BytesBlob(data), (fmt,))
    return ctx.sink


def rule_ids(result: ScanResult | _Sink) -> set[str]:
    """The rule ids of every finding."""
    return {f.rule_id for f in result.findings}


def crashes(result: ScanResult | _Sink) -> list[str]:
    """Skips that mean an analyzer raised something it should not have."""
    return [s.detail for s in result.skipped if s.reason is SkipReason.ERROR]


# -- safetensors ---------------------------------------------------------------------------


def safetensors_bytes(header: object, data: bytes = b"", *, raw: bytes | None = None) -> bytes:
    """``u64 length | header | data``; ``raw`` replaces the JSON encoding of ``header``."""
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def tensor(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, object]:
    """One header entry."""
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# -- GGUF ----------------------------------------------------------------------------------

UINT8, INT32, UINT32, FLOAT32, BOOL, STRING, ARRAY, UINT64 = 0, 5, 4, 6, 7, 8, 9, 10


class GgufBuilder:
    """A minimal GGUF writer with full control over every field (for corrupt files)."""

    def __init__(self, *, version: int = 3, endian: str = "<", alignment: int = 32) -> None:
        self.version = version
        self.endian = endian
        self.alignment = alignment
        self.kvs: list[bytes] = []
        self.infos: list[bytes] = []
        self.data = b""
        self.tensor_count: int | None = None
        self.kv_count: int | None = None

    def _n(self, value: int) -> bytes:
        return struct.pack(self.endian + ("Q" if self.version >= 2 else "I"), value)

    def _u32(self, value: int) -> bytes:
        return struct.pack(self.endian + "I", value)

    def string(self, text: str | bytes, length: int | None = None) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return self._n(len(raw) if length is None else length) + raw

    def kv_raw(self, key: str, vtype: int, payload: bytes) -> GgufBuilder:
        self.kvs.append(self.string(key) + self._u32(vtype) + payload)
        return self

    def kv_str(self, key: str, value: str) -> GgufBuilder:
        return self.kv_raw(key, STRING, self.string(value))

    def kv_u32(self, key: str, value: int) -> GgufBuilder:
        return self.kv_raw(key, UINT32, self._u32(value))

    def array(self, etype: int, items: list[bytes]) -> bytes:
        return self._u32(etype) + self._n(len(items)) + b"".join(items)

    def nested_array(self, depth: int) -> bytes:
        inner = self.array(UINT8, [b"\x01"])
        for _ in range(depth - 1):
            inner = self.array(ARRAY, [inner])
        return inner

    def tensor(self, name: str, dims: list[int], ggml_type: int, offset: int) -> GgufBuilder:
        body = self.string(name) + self._u32(len(dims))
        body += b"".join(self._n(d) for d in dims)
        self.infos.append(body + self._u32(ggml_type) + struct.pack(self.endian + "Q", offset))
        return self

    def build(self, *, pad: bool = True) -> bytes:
        tensors = len(self.infos) if self.tensor_count is None else self.tensor_count
        kvs = len(self.kvs) if self.kv_count is None else self.kv_count
        out = b"GGUF" + self._u32(self.version) + self._n(tensors) + self._n(kvs)
        out += b"".join(self.kvs) + b"".join(self.infos)
        if pad:
            out += b"\x00" * (-len(out) % self.alignment)
        return out + self.data
