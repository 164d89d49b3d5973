"""Zip archives built byte by byte, so their directories can disagree with each other.

Different readers locate a zip's central directory differently: Python's ``zipfile`` (NumPy's
``.npz``, Keras) corrects offsets for bytes prepended to the archive and believes a zip64 end
record over the classic one; PyTorch's miniz reader takes the directory offset literally. A
file can carry one directory for each. These helpers write such files; nothing is extracted.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    """One stored (or deflated) member."""

    name: str
    data: bytes
    deflate: bool = False


def local_entries(members: list[Member], base: int) -> tuple[bytes, bytes, int]:
    """Local headers + data written at absolute offset ``base``; returns (bytes, directory, n)."""
    out = bytearray()
    directory = bytearray()
    for member in members:
        body = member.data
        method = 0
        if member.deflate:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = compressor.compress(member.data) + compressor.flush()
            method = 8
        crc = zlib.crc32(member.data)
        name = member.name.encode()
        offset = base + len(out)
        out += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(body),
            len(member.data), len(name), 0,
        ) + name + body  # fmt: skip
        directory += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(body),
            len(member.data), len(name), 0, 0, 0, 0, 0, offset,
        ) + name  # fmt: skip
    return bytes(out), bytes(directory), len(members)


def end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    """A classic end-of-central-directory record without a comment."""
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, 0)


def zip64_end(count: int, cd_size: int, cd_offset: int, record_offset: int) -> bytes:
    """A zip64 end record followed by its locator (pointing at ``record_offset``)."""
    record = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, record_offset, 1)
    return record + locator


def simple(members: list[Member]) -> bytes:
    """An honest archive."""
    body, directory, count = local_entries(members, 0)
    return body + directory + end_record(count, len(directory), len(body))
