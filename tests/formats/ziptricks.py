"""A raw zip writer for tests, able to produce the quirks loaders tolerate and scanners miss."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class Member:
    """One member, with every field an attacker may lie about."""

    name: str
    data: bytes
    local_name: str | None = None
    flags: int = 0
    deflate: bool = False
    crc: int | None = None
    in_central: bool = True
    declared_size: int | None = None


def build_zip(members: list[Member], prefix: bytes = b"") -> bytes:
    """Local headers and data, then the central directory (only members ``in_central``)."""
    out = bytearray(prefix)
    central = bytearray()
    count = 0
    for m in members:
        payload = zlib.compress(m.data)[2:-4] if m.deflate else m.data
        method = 8 if m.deflate else 0
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        lname = (m.local_name if m.local_name is not None else m.name).encode()
        size = len(m.data) if m.declared_size is None else m.declared_size
        offset = len(out) - len(prefix)
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            m.flags,
            method,
            0,
            0,
            crc,
            len(payload),
            size,
            len(lname),
            0,
        )
        out += lname + payload
        if m.in_central:
            name = m.name.encode()
            central += struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                m.flags,
                method,
                0,
                0,
                crc,
                len(payload),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            central += name
            count += 1
    cd_offset = len(out) - len(prefix)
    out += central
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, 0)
    return bytes(out)
