"""Where a zip's central directory is, for each reader, and what each directory lists.

``zipfile`` (NumPy's ``.npz``, Keras) believes a zip64 end record over the classic one and
corrects offsets for bytes before the archive; PyTorch's miniz also prefers zip64 but takes the
directory offset literally; older tools use the classic record. A file can point each at a
different directory, so every reading is taken and the members only some readers see are
reported.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bastion.errors import AnalysisLimitError
from bastion.scan.blob import Blob
from bastion.scan.formats.zipmodel import (
    CDH,
    EOCD64,
    EOCD64_LOC,
    Anomaly,
    ZipListing,
    decode_name,
    resolve_local,
    zip64_extra,
)
from bastion.scan.limits import Limits


@dataclass(frozen=True)
class View:
    """One reading of the end records: where a directory is and how offsets are corrected."""

    count: int
    size: int
    offset: int
    delta: int
    label: str


def directory_views(blob: Blob, eocd_offset: int, record: bytes) -> list[View]:
    """Every directory a reader could take from the end records, Python's reading first.

    ``zipfile`` (NumPy, Keras) takes a zip64 record's values whenever there is one and corrects
    offsets for bytes before the archive; PyTorch's miniz also prefers zip64 but takes offsets
    literally; older tools use the classic record. A file can point each at another directory.
    """
    (_, _disk, _cd_disk, _n_disk, count, size, offset, _clen) = struct.unpack("<4sHHHHIIH", record)
    readings: list[tuple[int, int, int, int, str]] = []
    loc = blob.read_at(eocd_offset - 20, 20) if eocd_offset >= 20 else b""
    if len(loc) == 20 and loc[:4] == EOCD64_LOC:
        stated = struct.unpack("<Q", loc[8:16])[0]
        for where in dict.fromkeys((eocd_offset - 76, stated)):
            rec = blob.read_at(where, 56) if where >= 0 else b""
            if len(rec) == 56 and rec[:4] == EOCD64:
                n64, size64, offset64 = struct.unpack("<QQQ", rec[32:56])
                readings.extend(
                    (n64, size64, offset64, base, "zip64 end record")
                    for base in dict.fromkeys((eocd_offset - 76, where))
                )
    readings.append((count, size, offset, eocd_offset, "classic end record"))
    views: list[View] = []
    seen: set[tuple[int, int, int]] = set()
    for n, cd_size, cd_offset, base, label in readings:
        for delta, how in ((base - cd_size - cd_offset, ""), (0, ", offsets taken literally")):
            key = (cd_offset + delta, cd_size, delta)
            if key in seen or (views and delta < 0):
                continue
            seen.add(key)
            views.append(View(n, cd_size, cd_offset, delta, label + how))
    return views


def read_directory(
    blob: Blob,
    view: View,
    listing: ZipListing,
    limits: Limits,
    seen_names: dict[str, int],
    known_offsets: set[int],
) -> None:
    """Add the entries of one central directory to ``listing``."""
    if view.count > limits.max_members:
        raise AnalysisLimitError("members", f"archive declares {view.count} members")
    if view.size > 512 * 1024 * 1024:
        raise AnalysisLimitError("members", f"central directory of {view.size} bytes")
    cd = blob.read_at(view.offset + view.delta, view.size)
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == CDH:
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
        size, csize, offset = zip64_extra(extra, size, csize, offset)
        name = decode_name(raw_name, flags)
        entry = resolve_local(
            blob, name, method, flags, csize, size, crc, offset + view.delta, listing
        )
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


def read_other_directory(
    blob: Blob,
    view: View,
    listing: ZipListing,
    limits: Limits,
    seen_names: dict[str, int],
    known_offsets: set[int],
) -> None:
    """Another reader's directory: members it adds are analyzed and reported as hidden."""
    if view.size == 0 or blob.read_at(view.offset + view.delta, 4) != CDH:
        return
    other = ZipListing()
    try:
        read_directory(blob, view, other, limits, {}, set())
    except AnalysisLimitError:
        return
    added = [e for e in other.entries if e.header_offset not in known_offsets]
    if not added:
        return
    for entry in added:
        seen_names[entry.name] = seen_names.get(entry.name, 0) + 1
        known_offsets.add(entry.header_offset)
        listing.entries.append(entry)
    names = ", ".join(repr(e.name) for e in added[:5])
    listing.anomalies.append(
        Anomaly(
            "ambiguous-directory",
            f"another reading of the end records ({view.label}) finds a directory with "
            f"{len(added)} member(s) the main one does not list ({names}); PyTorch's or "
            "Python's zip reader loads those",
            added[0].name,
        )
    )
