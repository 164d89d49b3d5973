"""The bounded protobuf text-format parser and the TensorFlow op-set knowledge."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.formats.paths import path_concern
from bastion.scan.formats.pbtext import TextMessage, parse_text, unescape
from bastion.scan.formats.tf_opset import PUBLIC_OPS, is_standard_op


def test_fields_lists_nesting_and_comments() -> None:
    msg = parse_text(
        """
        # a comment
        name: "a" 'b'          # adjacent strings concatenate
        dims: [1, 2, 3]
        inner { x: 1 } inner < x: 2 >
        inner: { x: 3 };
        flag: true
        [type.googleapis.com/pkg.Msg] { y: "z" }
        """
    )
    assert msg.scalar("name") == "ab"
    assert [s.text for s in msg.scalars("dims")] == ["1", "2", "3"]
    assert [m.scalar("x") for m in msg.messages("inner")] == ["1", "2", "3"]
    assert msg.scalar("flag") == "true"
    (ext,) = msg.messages("[type.googleapis.com/pkg.Msg]")
    assert ext.scalar("y") == "z"
    assert msg.values("inner")[0].line == 5


def test_escapes() -> None:
    assert unescape(r"a\n\t\\\"\'") == "a\n\t\\\"'"
    assert unescape(r"\101\x42") == "AB"
    assert unescape(r"\303\251") == "é"
    assert unescape(r"\u00e9") == "é"


@pytest.mark.parametrize(
    "text",
    ['a: "unterminated', "a { b: 1", "a: }", "{", "a: @", 'a: "x\ny"', "a: [1, 2"],
)
def test_malformed_text(text: str) -> None:
    with pytest.raises(MalformedInputError):
        parse_text(text)


def test_depth_and_field_limits() -> None:
    with pytest.raises(AnalysisLimitError):
        parse_text("a { " * 200 + "}" * 200, max_depth=50)
    with pytest.raises(AnalysisLimitError):
        parse_text("a: 1 " * 100, max_fields=10)


def test_deadline_callback() -> None:
    calls: list[int] = []
    parse_text("a: 1\n" * 5000, check=lambda: calls.append(1))
    assert calls


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab:{}<>[],;\"'\\#\n 1-_.", max_size=200))
def test_fuzz_only_raises_bastion_errors(text: str) -> None:
    try:
        result = parse_text(text, max_depth=30)
    except (MalformedInputError, AnalysisLimitError):
        return
    assert isinstance(result, TextMessage)


def test_standard_op_set() -> None:
    assert len(PUBLIC_OPS) > 1400
    for op in ("Conv2D", "ReadFile", "StatefulPartitionedCall", "SaveV2", "_Arg", "_MklConv2D"):
        assert is_standard_op(op), op
    for op in ("MyVendorOp", "readfile", "ReadFile2"):
        assert not is_standard_op(op), op


@pytest.mark.parametrize(
    ("path", "concern"),
    [
        ("assets/vocab.txt", None),
        ("model", None),
        ("ram://cache", None),
        ("..", "'..' component"),
        ("a/../../b", "'..' component"),
        ("/etc/passwd", "absolute path"),
        ("~/.ssh/id_rsa", "home directory"),
        ("D:/x", "drive letter"),
        ("gs://bucket/x", "URL (gs://)"),
        ("//host/share", "network share"),
        ("a\x00b", "NUL byte in the name"),
    ],
)
def test_path_concern(path: str, concern: str | None) -> None:
    assert path_concern(path, local_schemes=("ram://",)) == concern
