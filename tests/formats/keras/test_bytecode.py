"""The static marshal reader: evidence from Lambda bytecode without ``marshal.loads``."""

from __future__ import annotations

import ast
import base64
import marshal

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.scan.formats import keras_bytecode
from bastion.scan.formats.keras_bytecode import decode_payload, inspect_code

from .helpers import lambda_code


def test_scanner_modules_never_unmarshal() -> None:
    from pathlib import Path

    import bastion.scan.formats.hdf5 as hdf5_module
    import bastion.scan.formats.keras as keras_module
    import bastion.scan.formats.keras_config as config_module

    for module in (keras_bytecode, keras_module, config_module, hdf5_module):
        tree = ast.parse(Path(str(module.__file__)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert "marshal" not in names, module.__name__
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"loads", "load"} or not (
                    isinstance(node.value, ast.Name) and node.value.id == "marshal"
                ), module.__name__


def test_names_and_command_string_are_extracted() -> None:
    code = lambda_code("lambda x: __import__('subprocess').run(['sh', '-c', 'touch m']) and x")
    evidence = inspect_code(marshal.dumps(code))
    assert evidence.layout == "3.11+"
    assert {"__import__", "subprocess", "run"} <= set(evidence.names)
    assert "touch m" in evidence.strings
    assert evidence.dangerous[:2] == ("subprocess", "__import__")
    assert "subprocess" in evidence.summary()


def test_nested_code_objects_are_walked() -> None:
    source = "lambda x: [__import__('os').popen(str(i)) for i in x]"
    evidence = inspect_code(marshal.dumps(lambda_code(source)))
    assert evidence.code_objects >= 1
    assert {"os", "popen"} <= set(evidence.names)


def test_benign_lambda_has_no_dangerous_names() -> None:
    evidence = inspect_code(marshal.dumps(lambda_code("lambda x: x * 2 + 1.5")))
    assert evidence.dangerous == ()
    assert evidence.names == ("x",)


def test_unknown_layout_falls_back_to_printable_strings() -> None:
    raw = b"\xe3garbage\x00os.system('touch m')\x00"
    evidence = inspect_code(raw)
    assert evidence.layout is None
    assert any("touch m" in s for s in evidence.strings)


def test_payload_decoding_variants() -> None:
    raw = marshal.dumps(lambda_code("lambda x: x"))
    encoded = base64.b64encode(raw).decode()
    assert decode_payload(encoded) == raw
    assert decode_payload([encoded, None, None]) == raw
    assert decode_payload(None) is None
    assert decode_payload(12) is None
    assert decode_payload("not base64 \u00e9") is not None


def test_recursion_bound() -> None:
    deep = b"\xe3" + b"\x00" * 20 + b")\x01" * 5000
    evidence = inspect_code(deep)
    assert evidence.layout is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    evidence = inspect_code(data)
    assert evidence.size == len(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_mutated_real_code_never_raises(position: int, value: int) -> None:
    raw = bytearray(marshal.dumps(lambda_code("lambda x: __import__('os').system('id') or x")))
    raw[position % len(raw)] = value
    keras_bytecode.inspect_code(bytes(raw))
