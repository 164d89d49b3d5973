"""The zip data model shared by the readers: signatures, entries, anomalies, name decoding."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from bastion.scan.blob import Blob

EOCD = b"PK\x05\x06"
EOCD64 = b"PK\x06\x06"
EOCD64_LOC = b"PK\x06\x07"
CDH = b"PK\x01\x02"
LFH = b"PK\x03\x04"
EOCD_SEARCH = 22 + 65535

STORED, DEFLATED, BZIP2, LZMA, ZSTD = 0, 8, 12, 14, 93


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory (or a local header) describes it."""

    name: str
    method: int
    flags: int
    compressed_size: int
    size: int
    crc: int
    header_offset: int
    data_offset: int
    local_name: str | None = None
    in_central_directory: bool = True

    @property
    def encrypted(self) -> bool:
        """The traditional-encryption flag bit (a loader may ignore it; we try to read anyway)."""
        return bool(self.flags & 0x1)

    @property
    def is_dir(self) -> bool:
        """Directory entries carry no data."""
        return self.name.endswith("/") and self.size == 0


@dataclass
class Anomaly:
    """Something irregular about the archive structure."""

    kind: str
    detail: str
    member: str | None = None


@dataclass
class ZipListing:
    """Entries and anomalies of one archive."""

    entries: list[ZipEntry] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    prefix_bytes: int = 0


def decode_name(raw: bytes, flags: int) -> str:
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def zip64_extra(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            vals = [v[0] for v in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            it = iter(vals)
            if size == 0xFFFFFFFF:
                size = next(it, size)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
            break
        pos += 4 + length
    return size, csize, offset


def resolve_local(
    blob: Blob,
    name: str,
    method: int,
    flags: int,
    csize: int,
    size: int,
    crc: int,
    header_offset: int,
    listing: ZipListing,
) -> ZipEntry | None:
    header = blob.read_at(header_offset, 30)
    if len(header) < 30 or header[:4] != LFH:
        listing.anomalies.append(
            Anomaly("bad-local-header", f"no local header at offset {header_offset}", name)
        )
        return None
    lflags, lmethod = struct.unpack("<HH", header[6:10])
    nlen, xlen = struct.unpack("<HH", header[26:30])
    local_raw = blob.read_at(header_offset + 30, nlen)
    local_name = decode_name(local_raw, lflags)
    if local_name != name:
        listing.anomalies.append(
            Anomaly(
                "name-mismatch",
                f"local header names {local_name!r}, central directory names {name!r}",
                name,
            )
        )
    if lmethod != method:
        listing.anomalies.append(
            Anomaly("method-mismatch", f"compression {lmethod} locally, {method} centrally", name)
        )
    return ZipEntry(
        name=name,
        method=method,
        flags=flags,
        compressed_size=csize,
        size=size,
        crc=crc,
        header_offset=header_offset,
        data_offset=header_offset + 30 + nlen + xlen,
        local_name=local_name if local_name != name else None,
    )
