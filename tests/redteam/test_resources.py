"""Red team: inputs built to make the scanner hang, exhaust memory or crash.

Each must end within bastion's bounds with a finding or a skip, never an exception or a hang.
The heavy variants run against tightened limits so the suite stays fast.
"""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

from bastion.core import ScanResult
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import ScanSettings
from bastion.scan.limits import Limits
from tests.redteam import joblibforge as jf
from tests.redteam import pk
from tests.redteam.harness import scan_sample
from tests.redteam.zipforge import end_record


def _scan(tmp_path: Path, name: str, data: bytes, **limits: int | float) -> ScanResult:
    target = tmp_path / name
    target.write_bytes(data)
    settings = ScanSettings(limits=Limits(**limits))  # type: ignore[arg-type]
    return scan(target, ScanOptions(settings=settings, workers=1))


def _no_crash(result: ScanResult) -> None:
    assert not [s for s in result.skipped if s.reason.value == "analyzer-error"], result.skipped


def test_plain_readings_of_many_arrays_share_one_budget(tmp_path: Path) -> None:
    """Every joblib array forks a plain reading; thousands of long ones must not multiply."""
    wrapper = jf.wrapper(jf.attrs(jf.dtype("u1"), jf.shape(400)))
    body = (wrapper + b"N0" * 200 + pk.POP) * 400
    started = time.monotonic()
    result = _scan(
        tmp_path, "many.joblib", pk.proto(2) + pk.NONE + body + pk.STOP, max_opcodes=200_000
    )
    assert time.monotonic() - started < 30
    _no_crash(result)
    assert any("budget" in s.detail for s in result.skipped), result.skipped


def test_memo_flood_hits_the_memo_bound(tmp_path: Path) -> None:
    data = pk.proto(4) + pk.NONE + pk.MEMOIZE * 50_000 + pk.STOP
    result = _scan(tmp_path, "memo.pkl", data, max_stack_items=10_000)
    _no_crash(result)
    assert any(s.reason.value == "limit-reached" for s in result.skipped), result.skipped


def test_nested_lists_one_million_deep(tmp_path: Path) -> None:
    data = pk.proto(2) + pk.EMPTY_LIST * 200_000 + pk.APPEND * 199_999 + pk.STOP
    _no_crash(scan_sample(tmp_path, "lists.pkl", data))


def test_corrupt_deflate_salvage_is_bounded(tmp_path: Path) -> None:
    """A member whose deflate data breaks is salvaged byte by byte only around the break."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(b"\x00" * (8 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    data += b"\xff" * 4096
    name = b"blob.bin"
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, 0, len(data), 8 << 20, len(name), 0
    )
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, 0, len(data), 8 << 20,
        len(name), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    archive = local + name + data + central + name
    archive += end_record(1, len(central) + len(name), len(local) + len(name) + len(data))
    started = time.monotonic()
    _no_crash(scan_sample(tmp_path, "bomb.zip", archive))
    assert time.monotonic() - started < 30
