"""The bounded protobuf wire decoder: exact decoding, bounds, and fuzzing."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import BytesBlob, FileBlob, SliceBlob, StreamBlob
from bastion.scan.formats.protowire import (
    FieldBudget,
    WireLimits,
    WireType,
    decode_varint,
    is_plausible_message,
    iter_fields,
    iter_message,
    open_buffer,
)

from .protoenc import blob, fixed32, fixed64, key, msg, uint, varint


def test_decodes_every_wire_type_with_offsets() -> None:
    data = msg(uint(1, 150), blob(2, "abc"), fixed32(3, 1.5), fixed64(4, -2.25), uint(5, -1))
    fields = list(iter_fields(data, base=100))
    assert [(f.number, f.wire_type) for f in fields] == [
        (1, WireType.VARINT),
        (2, WireType.LEN),
        (3, WireType.I32),
        (4, WireType.I64),
        (5, WireType.VARINT),
    ]
    assert fields[0].uint == 150
    assert fields[0].offset == 100
    assert fields[1].text() == "abc"
    assert fields[1].value_offset == 100 + 3 + 2
    assert fields[2].as_float() == 1.5
    assert fields[3].as_float() == -2.25
    assert fields[4].int64 == -1


def test_nested_messages_keep_absolute_offsets_and_depth() -> None:
    inner = msg(blob(1, "name"), uint(2, 7))
    data = msg(uint(9, 1), blob(3, inner))
    outer = list(iter_fields(data))
    nested = list(iter_message(outer[1]))
    assert nested[0].text() == "name"
    assert nested[0].depth == 1
    assert data[nested[0].value_offset : nested[0].value_offset + 4] == b"name"


def test_payloads_are_views_not_copies() -> None:
    payload = b"x" * 4096
    data = bytearray(blob(1, payload))
    (field,) = iter_fields(data)
    assert isinstance(field.value, memoryview)
    data[-1] = ord("y")
    assert field.data[-1] == ord("y")


def test_groups_are_skipped_as_one_field() -> None:
    data = msg(key(1, 3), uint(2, 5), key(3, 3), key(3, 4), key(1, 4), uint(4, 1))
    fields = list(iter_fields(data))
    assert [(f.number, f.wire_type) for f in fields] == [
        (1, WireType.SGROUP),
        (4, WireType.VARINT),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\x05ab",  # length past the end
        b"\x08",  # varint value missing
        b"\x08" + b"\xff" * 11,  # varint longer than 10 bytes
        b"\x00\x01",  # field number 0
        b"\x0e\x01",  # wire type 6
        b"\x0c",  # end group without a start
        b"\x0b\x10\x01",  # group never ended
        b"\x0d\x00\x00",  # truncated fixed32
        b"\x0b\x14",  # group ended by another number
    ],
)
def test_malformed_input_raises_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInputError):
        list(iter_fields(data))


def test_field_budget_is_shared_across_nested_messages() -> None:
    inner = msg(*(uint(1, i) for i in range(10)))
    data = msg(*(blob(2, inner) for _ in range(10)))
    budget = FieldBudget(WireLimits(max_fields=50))
    with pytest.raises(AnalysisLimitError):
        for field in iter_fields(data, budget=budget):
            list(iter_message(field, budget))


def test_depth_limit() -> None:
    data = uint(1, 1)
    for _ in range(30):
        data = blob(1, data)
    budget = FieldBudget(WireLimits(max_depth=10))

    def walk(buf: bytes | memoryview, depth: int) -> None:
        for field in iter_fields(buf, depth=depth, budget=budget):
            if field.wire_type is WireType.LEN:
                walk(field.data, depth + 1)

    with pytest.raises(AnalysisLimitError):
        walk(data, 0)


def test_deadline_callback_is_consulted() -> None:
    calls: list[int] = []
    data = msg(*(uint(1, 1) for _ in range(10_000)))
    list(iter_fields(data, budget=FieldBudget(check=lambda: calls.append(1))))
    assert len(calls) == 2


def test_wrong_accessors_raise_malformed() -> None:
    (number,) = iter_fields(uint(1, 3))
    (text,) = iter_fields(blob(1, "x"))
    with pytest.raises(MalformedInputError):
        _ = number.data
    with pytest.raises(MalformedInputError):
        _ = text.uint
    with pytest.raises(MalformedInputError):
        number.as_float()


def test_decode_varint_roundtrip() -> None:
    for value in (0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1):
        assert decode_varint(varint(value), 0) == (value, len(varint(value)))


def test_plausible_message_tolerates_a_cut_head() -> None:
    data = msg(uint(1, 8), blob(7, b"z" * 100))
    assert is_plausible_message(data[:20])
    assert not is_plausible_message(b"\x00\x00\x00")
    assert not is_plausible_message(b"")


def test_open_buffer_maps_files_and_slices(tmp_path: Path) -> None:
    path = tmp_path / "m.pb"
    path.write_bytes(b"HEAD" + blob(1, "hello") + b"TAIL")
    file_blob = FileBlob(path)
    with open_buffer(file_blob, 1 << 20) as view:
        assert bytes(view[:4]) == b"HEAD"
    with open_buffer(SliceBlob(file_blob, 4, 7), 1 << 20) as view:
        (field,) = iter_fields(view)
        assert field.text() == "hello"
    with open_buffer(BytesBlob(b"\x08\x01"), 1 << 20) as view:
        assert bytes(view) == b"\x08\x01"
    file_blob.close()


def test_open_buffer_tolerates_views_kept_after_the_block(tmp_path: Path) -> None:
    path = tmp_path / "m.pb"
    path.write_bytes(blob(1, "kept"))
    with open_buffer(FileBlob(path), 1 << 20) as view:
        kept = list(iter_fields(view))
    assert kept[0].number == 1


def test_open_buffer_bounds_streams() -> None:
    def stream(size: int) -> StreamBlob:
        return StreamBlob(lambda: io.BytesIO(b"x" * size), max_bytes=1 << 20)

    with pytest.raises(AnalysisLimitError), open_buffer(stream(100), 10):
        pass
    with open_buffer(stream(10), 10) as view:
        assert len(view) == 10


def _walk_everything(data: bytes) -> int:
    budget = FieldBudget(WireLimits(max_depth=20, max_fields=20_000))
    count = 0

    def walk(buf: memoryview | bytes, depth: int) -> None:
        nonlocal count
        for field in iter_fields(buf, depth=depth, budget=budget):
            count += 1
            if field.wire_type is WireType.LEN:
                try:
                    walk(field.data, depth + 1)
                except MalformedInputError:
                    pass  # not every string is a message
            elif field.wire_type in (WireType.I32, WireType.I64):
                field.as_float()
            else:
                _ = field.int64 if isinstance(field.value, int) else field.raw(16)

    walk(data, 0)
    return count


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512))
def test_fuzz_random_bytes_only_raise_bastion_errors(data: bytes) -> None:
    try:
        _walk_everything(data)
    except (MalformedInputError, AnalysisLimitError):
        pass


_leaf = st.one_of(
    st.builds(uint, st.integers(1, 50), st.integers(-(2**63), 2**64 - 1)),
    st.builds(blob, st.integers(1, 50), st.binary(max_size=32)),
    st.builds(fixed32, st.integers(1, 50), st.floats(width=32, allow_nan=False)),
)
_messages = st.recursive(
    st.lists(_leaf, max_size=6).map(lambda parts: msg(*parts)),
    lambda inner: st.lists(
        st.one_of(_leaf, st.builds(blob, st.integers(1, 50), inner)), max_size=6
    ).map(lambda parts: msg(*parts)),
    max_leaves=40,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_messages, st.integers(0, 10_000), st.integers(0, 255))
def test_fuzz_mutated_messages(data: bytes, where: int, byte: int) -> None:
    assert _walk_everything(data) >= 0
    if data:
        mutated = bytearray(data)
        mutated[where % len(data)] = byte
        truncated = bytes(mutated[: where % (len(data) + 1)])
        for sample in (bytes(mutated), truncated):
            try:
                _walk_everything(sample)
            except (MalformedInputError, AnalysisLimitError):
                pass


def test_float_helper_matches_struct() -> None:
    (field,) = iter_fields(fixed32(1, 0.25))
    assert field.as_float() == struct.unpack("<f", struct.pack("<f", 0.25))[0]
