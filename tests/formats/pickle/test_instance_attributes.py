"""getattr on an object the pickle rebuilt: fetching a bound method is benign, calling it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.core import Severity
from tests.formats.pickle import asm
from tests.formats.pickle.helpers import blocking, scan_bytes

_INSTANCE = asm.glob("collections", "OrderedDict") + asm.EMPTY_TUPLE + asm.REDUCE


def test_bound_method_of_a_rebuilt_object_is_not_a_finding(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + _INSTANCE
        + asm.u("keys")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.STOP
    )
    assert not scan_bytes(tmp_path, data).findings


def test_calling_it_is_blocked(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + _INSTANCE
        + asm.u("keys")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.EMPTY_TUPLE
        + asm.REDUCE
        + asm.STOP
    )
    assert blocking(scan_bytes(tmp_path, data))


def test_dunder_attribute_of_a_rebuilt_object_is_still_critical(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + _INSTANCE
        + asm.u("__class__")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.STOP
    )
    findings = scan_bytes(tmp_path, data).findings
    assert max(f.severity for f in findings) is Severity.CRITICAL


def test_uninitialized_lazy_module_saved_whole_is_clean(tmp_path: Path) -> None:
    """``torch.save`` of a module with a LazyLinear stores a bound method as a hook."""
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Sequential(torch.nn.LazyLinear(3)), tmp_path / "lazy.pt")
    from bastion.scan.engine import scan

    result = scan(tmp_path / "lazy.pt")
    assert not [f for f in result.findings if f.severity >= Severity.HIGH], result.findings
