"""Fuzzing the safetensors and GGUF readers and the template inspector.

Whatever the bytes, an analyzer may report findings or record skips for limits and malformed
input; it must never raise (which the engine would record as an ``analyzer-error`` skip).
"""

from __future__ import annotations

import json
import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.scan.formats.template_inspect import inspect_template

from .helpers import (
    ARRAY,
    STRING,
    UINT8,
    GgufBuilder,
    analyze_bytes,
    crashes,
    safetensors_bytes,
    tensor,
)
from .templates import CHATML, hostile

# NOTE: BASTION_FUZZ_EXAMPLES raises the budget for a deeper run (the default keeps CI fast).
_SETTINGS = settings(
    max_examples=int(os.environ.get("BASTION_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _valid_gguf() -> bytes:
    b = GgufBuilder()
    b.kv_str("general.architecture", "llama").kv_u32("general.alignment", 32)
    b.kv_str("tokenizer.chat_template", CHATML)
    b.kv_raw("tokenizer.ggml.tokens", ARRAY, b.array(STRING, [b.string(t) for t in "abc"]))
    b.kv_raw("x.nested", ARRAY, b.nested_array(2))
    b.kv_raw("x.bytes", ARRAY, b.array(UINT8, [b"\x01", b"\x02"]))
    b.tensor("a", [8], 0, 0).tensor("b", [2, 4], 1, 32).tensor("q", [32], 8, 64)
    b.data = bytes(64 + 34)
    return b.build()


def _valid_safetensors() -> bytes:
    header = {
        "__metadata__": {"format": "pt"},
        "a": tensor("F32", [2, 2], 0, 16),
        "b": tensor("BF16", [4], 16, 24),
        "c": tensor("F4", [4], 24, 26),
    }
    return safetensors_bytes(header, bytes(26))


_GGUF = _valid_gguf()
_ST = _valid_safetensors()


def _mutations(base: bytes) -> st.SearchStrategy[bytes]:
    """Byte flips, overwrites with extreme integers, truncations and insertions of ``base``."""
    extremes = st.sampled_from(
        [b"\xff" * 8, b"\x00" * 8, struct.pack("<Q", 1 << 63), struct.pack("<I", 0x7FFFFFFF)]
    )

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 6))):
            kind = draw(st.sampled_from(["flip", "extreme", "cut", "insert"]))
            pos = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "flip" and data:
                data[pos] ^= 1 << draw(st.integers(0, 7))
            elif kind == "extreme":
                blob = draw(extremes)
                data[pos : pos + len(blob)] = blob
            elif kind == "cut":
                del data[pos:]
            else:
                data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        return bytes(data)

    return mutate()


@_SETTINGS
@given(_mutations(_GGUF))
def test_gguf_mutations_never_crash(data: bytes) -> None:
    sink = analyze_bytes(data, "m.gguf", "gguf")
    assert crashes(sink) == []


@_SETTINGS
@given(st.binary(max_size=256))
def test_gguf_random_bodies_never_crash(body: bytes) -> None:
    sink = analyze_bytes(b"GGUF" + struct.pack("<I", 3) + body, "m.gguf", "gguf")
    assert crashes(sink) == []


@_SETTINGS
@given(_mutations(_ST))
def test_safetensors_mutations_never_crash(data: bytes) -> None:
    sink = analyze_bytes(data, "m.safetensors", "safetensors")
    assert crashes(sink) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
_ENTRY = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "BF16", "F4", "U8", "X"]),
        "shape": st.lists(st.integers(-2, 1 << 40), max_size=4),
        "data_offsets": st.lists(st.integers(-1, 1 << 70), min_size=0, max_size=3),
    }
)


@_SETTINGS
@given(
    st.dictionaries(st.text(max_size=6), _ENTRY | _JSON, max_size=6),
    st.binary(max_size=64),
)
def test_safetensors_random_headers_never_crash(header: dict[str, object], data: bytes) -> None:
    raw = json.dumps(header).encode()
    sink = analyze_bytes(safetensors_bytes(None, data, raw=raw), "m.safetensors", "safetensors")
    assert crashes(sink) == []


_TOKENS = st.sampled_from(
    [
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        " for x in ",
        " if ",
        "endfor",
        "endif",
        "set ",
        "=",
        "(",
        ")",
        "[",
        "]",
        ".",
        "|attr(",
        "'__class__'",
        "~",
        "*",
        "**",
        "range(",
        "9999999",
        "cycler",
        "self",
        "x",
        ",",
        "macro",
        "endmacro",
        "include",
        "'a'",
        "\n",
        " ",
        "%",
        "-",
    ]
)


@_SETTINGS
@given(st.lists(_TOKENS | st.text(max_size=3), max_size=60))
def test_template_inspection_never_raises(parts: list[str]) -> None:
    inspect_template("".join(parts))


@_SETTINGS
@given(st.integers(0, 400), st.text(max_size=5))
def test_hostile_template_mutations_never_raise(cut: int, junk: str) -> None:
    template, _ = hostile("true")["llama-drama"]
    inspect_template(template[:cut] + junk + template[cut:])
