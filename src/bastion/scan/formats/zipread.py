"""A bounded, forgiving zip reader that sees what every loader could see.

Python's :mod:`zipfile` stops at the first inconsistency (a CRC mismatch, a local name that
differs from the central directory, an encryption flag), while PyTorch's loader and others do not.
An attacker uses exactly those quirks to hide a payload from scanners. This reader therefore:

* locates the end of central directory (also zip64, also with data prepended before the archive);
* lists central-directory entries, and also local headers the directory does not list;
* reads each member's bytes from its local header, ignoring flag bits, so a member a lenient
  loader would read is a member bastion reads;
* reports every irregularity as an :class:`Anomaly` the archive analyzer turns into findings.

Nothing is extracted to disk and every size is bounded by :class:`~bastion.scan.limits.Limits`.
"""

from __future__ import annotations

import bz2
import itertools
import lzma
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, SliceBlob, StreamBlob
from bastion.scan.limits import Limits

_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_EOCD64_LOC = b"PK\x06\x07"
_CDH = b"PK\x01\x02"
_LFH = b"PK\x03\x04"
_EOCD_SEARCH = 22 + 65535

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


def has_zip_signature(blob: Blob) -> bool:
    """Cheap test: local header at the start, or an end-of-central-directory near the end."""
    head = blob.head(4)
    if head in (_LFH, _EOCD):
        return True
    return _find_eocd(blob) is not None


def _find_eocd(blob: Blob) -> tuple[int, bytes] | None:
    size = blob.size
    if size is None or size < 22:
        return None
    start = max(0, size - _EOCD_SEARCH)
    tail = blob.read_at(start, size - start)
    pos = tail.rfind(_EOCD)
    while pos >= 0:
        record = tail[pos : pos + 22]
        if len(record) == 22:
            comment_len = struct.unpack("<H", record[20:22])[0]
            # NOTE: accept a record whose comment runs to (or past) the end; loaders do too.
            if pos + 22 + comment_len <= len(tail) + 65535:
                return start + pos, record
        pos = tail.rfind(_EOCD, 0, pos)
    return None


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _zip64_extra(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
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


def list_entries(blob: Blob, limits: Limits) -> ZipListing:
    """Read the central directory and the local headers; raise only when nothing is readable."""
    listing = ZipListing()
    found = _find_eocd(blob)
    if found is None:
        listing.anomalies.append(Anomaly("no-central-directory", "no end-of-central-directory"))
        _walk_local_headers(blob, listing, limits, known=set(), start=0)
        if not listing.entries:
            raise MalformedInputError("not a readable zip archive (no central directory)")
        return listing
    eocd_offset, record = found
    (_, _disk, _cd_disk, _n_disk, n_total, cd_size, cd_offset, _clen) = struct.unpack(
        "<4sHHHHIIH", record
    )
    eocd_for_delta = eocd_offset
    loc = blob.read_at(eocd_offset - 20, 20) if eocd_offset >= 20 else b""
    if len(loc) == 20 and loc[:4] == _EOCD64_LOC:
        # NOTE: a zip64 record sits between the directory and the classic end record.
        eocd64_offset = struct.unpack("<Q", loc[8:16])[0]
        rec = blob.read_at(eocd64_offset, 56)
        if len(rec) == 56 and rec[:4] == _EOCD64:
            n64, size64, offset64 = struct.unpack("<QQQ", rec[32:56])
            if n_total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
                n_total, cd_size, cd_offset = n64, size64, offset64
            eocd_for_delta = eocd_offset - 20 - 56
            if eocd64_offset + 56 != eocd_offset - 20:
                eocd_for_delta = eocd64_offset
    # Bytes before the archive (a polyglot, a self-extractor) shift every offset.
    delta = eocd_for_delta - cd_size - cd_offset
    if delta < 0:
        listing.anomalies.append(Anomaly("bad-central-directory", "directory offsets overflow"))
        delta = 0
    listing.prefix_bytes = delta
    if n_total > limits.max_members:
        raise AnalysisLimitError("members", f"archive declares {n_total} members")
    if cd_size > 512 * 1024 * 1024:
        raise AnalysisLimitError("members", f"central directory of {cd_size} bytes")
    cd = blob.read_at(cd_offset + delta, cd_size)
    pos = 0
    seen_names: dict[str, int] = {}
    known_offsets: set[int] = set()
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == _CDH:
        (
            _sig,
            _vmade,
            _vneed,
            flags,
            method,
            _t,
            _d,
            crc,
            csize,
            size,
            nlen,
            xlen,
            clen,
            _dstart,
            _iattr,
            _eattr,
            offset,
        ) = struct.unpack("<4sHHHHHHIIIHHHHHII", cd[pos : pos + 46])
        raw_name = cd[pos + 46 : pos + 46 + nlen]
        extra = cd[pos + 46 + nlen : pos + 46 + nlen + xlen]
        pos += 46 + nlen + xlen + clen
        size, csize, offset = _zip64_extra(extra, size, csize, offset)
        name = _decode_name(raw_name, flags)
        entry = _resolve_local(blob, name, method, flags, csize, size, crc, offset + delta, listing)
        if entry is None:
            continue
        if name in seen_names:
            listing.anomalies.append(
                Anomaly("duplicate-name", f"{name!r} appears more than once", name)
            )
        seen_names[name] = seen_names.get(name, 0) + 1
        known_offsets.add(entry.header_offset)
        listing.entries.append(entry)
        if len(listing.entries) > limits.max_members:
            raise AnalysisLimitError("members", f"more than {limits.max_members} members")
    if len(listing.entries) < n_total:
        listing.anomalies.append(
            Anomaly(
                "truncated-central-directory",
                f"directory declares {n_total} entries, {len(listing.entries)} readable",
            )
        )
    _walk_local_headers(blob, listing, limits, known=known_offsets, start=delta)
    _check_overlaps(listing)
    return listing


def _resolve_local(
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
    if len(header) < 30 or header[:4] != _LFH:
        listing.anomalies.append(
            Anomaly("bad-local-header", f"no local header at offset {header_offset}", name)
        )
        return None
    lflags, lmethod = struct.unpack("<HH", header[6:10])
    nlen, xlen = struct.unpack("<HH", header[26:30])
    local_raw = blob.read_at(header_offset + 30, nlen)
    local_name = _decode_name(local_raw, lflags)
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


def _walk_local_headers(
    blob: Blob, listing: ZipListing, limits: Limits, *, known: set[int], start: int
) -> None:
    """Follow local headers from the start: entries the directory hides are still loadable."""
    size = blob.size or 0
    offset = start
    steps = 0
    while offset + 30 <= size and steps <= limits.max_members:
        steps += 1
        header = blob.read_at(offset, 30)
        if header[:4] != _LFH:
            return
        (_sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen) = struct.unpack(
            "<4sHHHHHIIIHH", header
        )
        name_raw = blob.read_at(offset + 30, nlen)
        extra = blob.read_at(offset + 30 + nlen, xlen)
        usize, csize, _ = _zip64_extra(extra, usize, csize, 0)
        data_offset = offset + 30 + nlen + xlen
        if offset not in known:
            cd_entry = None
        else:
            cd_entry = next((e for e in listing.entries if e.header_offset == offset), None)
        if cd_entry is not None:
            csize = cd_entry.compressed_size
        elif flags & 0x8 and csize == 0:
            return  # sizes only in a trailing descriptor: cannot walk further without guessing
        if offset not in known:
            name = _decode_name(name_raw, flags)
            listing.anomalies.append(
                Anomaly(
                    "hidden-entry",
                    f"local entry {name!r} at offset {offset} is not in the central directory",
                    name,
                )
            )
            listing.entries.append(
                ZipEntry(
                    name=name,
                    method=method,
                    flags=flags,
                    compressed_size=csize,
                    size=usize,
                    crc=crc,
                    header_offset=offset,
                    data_offset=data_offset,
                    in_central_directory=False,
                )
            )
        offset = data_offset + csize
        if flags & 0x8:
            desc = blob.read_at(offset, 4)
            offset += 16 if desc == b"PK\x07\x08" else 12


def _check_overlaps(listing: ZipListing) -> None:
    spans = sorted(
        (e.data_offset, e.data_offset + e.compressed_size, e.name)
        for e in listing.entries
        if e.compressed_size
    )
    for (_s1, e1, n1), (s2, _e2, n2) in itertools.pairwise(spans):
        if s2 < e1 and n1 != n2:
            listing.anomalies.append(
                Anomaly("overlapping-entries", f"{n1!r} and {n2!r} share compressed bytes", n2)
            )


def member_blob(blob: Blob, entry: ZipEntry, limits: Limits) -> Blob:
    """The member's (decompressed) bytes as a blob; stored members are not copied."""
    if entry.compressed_size > limits.max_member_bytes and entry.method != STORED:
        raise AnalysisLimitError("member-size", f"{entry.name}: {entry.compressed_size} bytes")
    raw = SliceBlob(blob, entry.data_offset, entry.compressed_size)
    if entry.method == STORED:
        return raw
    if entry.method not in (DEFLATED, BZIP2, LZMA):
        raise MalformedInputError(f"{entry.name}: unsupported compression method {entry.method}")
    declared = entry.size if entry.size and entry.size <= limits.max_member_bytes else None
    return StreamBlob(
        lambda: _Decompressing(raw.open(), entry.method),
        limits.max_member_bytes,
        declared,
    )


class _Decompressing:
    """Minimal sequential reader that inflates a zip member's compressed bytes."""

    def __init__(self, raw: BinaryIO, method: int) -> None:
        self._raw = raw
        self._buffer = bytearray()
        self._eof = False
        self._decomp: Any = None
        if method == DEFLATED:
            self._decomp = zlib.decompressobj(-15)
        elif method == BZIP2:
            self._decomp = bz2.BZ2Decompressor()
        else:
            self._decomp = self._lzma_decompressor()

    def _lzma_decompressor(self) -> lzma.LZMADecompressor:
        header = self._raw.read(4)
        if len(header) < 4:
            raise MalformedInputError("truncated LZMA header in zip member")
        props = self._raw.read(struct.unpack("<H", header[2:4])[0])
        decode = lzma._decode_filter_properties  # type: ignore[attr-defined]
        return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[decode(lzma.FILTER_LZMA1, props)])

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        while len(self._buffer) < want and not self._eof:
            chunk = self._raw.read(1 << 16)
            try:
                out = self._decomp.decompress(chunk) if chunk else b""
            except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
                raise MalformedInputError(f"corrupt compressed member: {exc}") from exc
            self._buffer += out
            if not chunk:
                self._eof = True
        data = bytes(self._buffer[:want])
        del self._buffer[:want]
        return data

    def close(self) -> None:
        self._raw.close()


def iter_members(blob: Blob, listing: ZipListing) -> Iterator[ZipEntry]:
    """Entries with data, in archive order (by local header offset)."""
    yield from sorted(
        (e for e in listing.entries if not e.is_dir), key=lambda e: (e.header_offset, e.name)
    )
