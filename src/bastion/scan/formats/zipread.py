"""A bounded, forgiving zip reader that sees what every loader could see.

Python's :mod:`zipfile` stops at the first inconsistency (a CRC mismatch, a local name that
differs from the central directory, an encryption flag), while PyTorch's loader and others do not.
An attacker uses exactly those quirks to hide a payload from scanners. This reader therefore:

* locates the end of central directory (also zip64, also with data prepended before the archive);
* lists central-directory entries, and also local headers the directory does not list;
* reads each member's bytes from its local header, ignoring flag bits, so a member a lenient
  loader would read is a member bastion reads;
* reports every irregularity as an :class:`Anomaly` the archive analyzer turns into findings.

Where the directory is, for each kind of reader, is :mod:`.zipdir`; the data model is
:mod:`.zipmodel`; members are decompressed leniently (:mod:`.decoders`).

Nothing is extracted to disk and every size is bounded by :class:`~bastion.scan.limits.Limits`.
"""

from __future__ import annotations

import itertools
import lzma
import struct
from collections.abc import Iterator
from typing import BinaryIO

from bastion.errors import AnalysisLimitError, MalformedInputError
from bastion.scan.blob import Blob, Readable, SliceBlob, StreamBlob
from bastion.scan.formats.decoders import LenientDecoder, bz2_decoder, zlib_decoder
from bastion.scan.formats.zipdir import View, directory_views, read_directory, read_other_directory
from bastion.scan.formats.zipmodel import (
    BZIP2,
    DEFLATED,
    EOCD,
    EOCD_SEARCH,
    LFH,
    LZMA,
    STORED,
    ZSTD,
    Anomaly,
    ZipEntry,
    ZipListing,
    decode_name,
    zip64_extra,
)
from bastion.scan.limits import Limits


def has_zip_signature(blob: Blob) -> bool:
    """Cheap test: local header at the start, or an end-of-central-directory near the end."""
    head = blob.head(4)
    if head in (LFH, EOCD):
        return True
    return _find_eocd(blob) is not None


def _find_eocd(blob: Blob) -> tuple[int, bytes] | None:
    size = blob.size
    if size is None or size < 22:
        return None
    start = max(0, size - EOCD_SEARCH)
    tail = blob.read_at(start, size - start)
    pos = tail.rfind(EOCD)
    while pos >= 0:
        record = tail[pos : pos + 22]
        if len(record) == 22:
            comment_len = struct.unpack("<H", record[20:22])[0]
            # NOTE: accept a record whose comment runs to (or past) the end; loaders do too.
            if pos + 22 + comment_len <= len(tail) + 65535:
                return start + pos, record
        pos = tail.rfind(EOCD, 0, pos)
    return None


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
    views = directory_views(blob, eocd_offset, record)
    main = views[0]
    delta = main.delta
    if delta < 0:
        listing.anomalies.append(Anomaly("bad-central-directory", "directory offsets overflow"))
        delta = 0
        main = View(main.count, main.size, main.offset, 0, main.label)
    listing.prefix_bytes = delta
    seen_names: dict[str, int] = {}
    known_offsets: set[int] = set()
    read_directory(blob, main, listing, limits, seen_names, known_offsets)
    if len(listing.entries) < main.count:
        listing.anomalies.append(
            Anomaly(
                "truncated-central-directory",
                f"directory declares {main.count} entries, {len(listing.entries)} readable",
            )
        )
    for view in views[1:]:
        read_other_directory(blob, view, listing, limits, seen_names, known_offsets)
    _walk_local_headers(blob, listing, limits, known=known_offsets, start=delta)
    _check_overlaps(listing)
    return listing


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
        if header[:4] != LFH:
            return
        (_sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, xlen) = struct.unpack(
            "<4sHHHHHIIIHH", header
        )
        name_raw = blob.read_at(offset + 30, nlen)
        extra = blob.read_at(offset + 30 + nlen, xlen)
        usize, csize, _ = zip64_extra(extra, usize, csize, 0)
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
            name = decode_name(name_raw, flags)
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
        lambda: _member_decoder(raw.open(), entry.method),
        limits.max_member_bytes,
        declared,
    )


def _member_decoder(raw: BinaryIO, method: int) -> Readable:
    """A lenient decoder for one member: a loader streaming it reads up to a damaged point."""
    if method == DEFLATED:
        return zlib_decoder(raw, wbits=-15)
    if method == BZIP2:
        return bz2_decoder(raw)
    header = raw.read(4)
    if len(header) < 4:
        raw.close()
        raise MalformedInputError("truncated LZMA header in zip member")
    props = raw.read(struct.unpack("<H", header[2:4])[0])
    decode = lzma._decode_filter_properties  # type: ignore[attr-defined]
    try:
        filters = [decode(lzma.FILTER_LZMA1, props)]
    except lzma.LZMAError as exc:
        raw.close()
        raise MalformedInputError(f"bad LZMA properties in zip member: {exc}") from exc
    return LenientDecoder(raw, lambda: lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters))


def iter_members(blob: Blob, listing: ZipListing) -> Iterator[ZipEntry]:
    """Entries with data, in archive order (by local header offset)."""
    yield from sorted(
        (e for e in listing.entries if not e.is_dir), key=lambda e: (e.header_offset, e.name)
    )


__all__ = [
    "BZIP2",
    "DEFLATED",
    "LZMA",
    "STORED",
    "ZSTD",
    "Anomaly",
    "ZipEntry",
    "ZipListing",
    "has_zip_signature",
    "iter_members",
    "list_entries",
    "member_blob",
]
