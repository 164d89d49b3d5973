"""A zip writer that can lie: the archive quirks loaders tolerate and scanners trip on.

``zipfile`` only writes honest archives. The corpus needs entries whose local header disagrees
with the central directory, entries missing from the directory, flag bits that make ``zipfile``
refuse a member, unsupported compression methods and wrong CRCs: PyTorch's reader accepts
several of these, which is how payloads were hidden from scanners (modelscan #354, picklescan
GHSA-w8jq-xcqf-f792, CVE-2025-10156).
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass

STORED = 0
DEFLATED = 8


@dataclass(frozen=True)
class Entry:
    """One member as it will be written; the optional fields say how to lie about it."""

    name: str
    data: bytes
    method: int = STORED
    flags: int = 0
    local_name: str | None = None
    crc: int | None = None
    in_central: bool = True
    raw: bool = False  # data is written as is even when ``method`` says it is compressed


def _payload(entry: Entry) -> bytes:
    if entry.raw or entry.method == STORED:
        return entry.data
    if entry.method == DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        return compressor.compress(entry.data) + compressor.flush()
    raise ValueError(f"{entry.name}: cannot compress with method {entry.method}")


def build(entries: list[Entry], *, prefix: bytes = b"") -> bytes:
    """The archive bytes: local entries in order, then the directory of the listed ones.

    ``prefix`` is written before the first entry (offsets are still absolute, as a zip appended
    to another file would be after ``zip -A``).
    """
    out = bytearray(prefix)
    central = bytearray()
    listed = 0
    for entry in entries:
        body = _payload(entry)
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        local_name = (entry.local_name or entry.name).encode()
        offset = len(out)
        out += struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            20,
            entry.flags,
            entry.method,
            0,
            0x21,
            crc,
            len(body),
            len(entry.data),
            len(local_name),
            0,
        )
        out += local_name + body
        if not entry.in_central:
            continue
        name = entry.name.encode()
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            20,
            20,
            entry.flags,
            entry.method,
            0,
            0x21,
            crc,
            len(body),
            len(entry.data),
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
        listed += 1
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, listed, listed, len(central), cd_offset, 0
    )
    return bytes(out)


def members(data: bytes) -> list[Entry]:
    """The members of an honest archive (as ``zipfile`` reads them), to rewrite with a lie."""
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [Entry(info.filename, archive.read(info)) for info in archive.infolist()]
