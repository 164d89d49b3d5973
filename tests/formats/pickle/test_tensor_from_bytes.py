"""Tensors pickled by plain pickle, joblib, dill or cloudpickle: ``_load_from_bytes(<file>)``.

``Tensor.__reduce__`` writes ``torch.storage._load_from_bytes(b"<torch.save file>")``, which runs
``torch.load(weights_only=False)`` on the embedded file. The call is exactly as safe as that file:
a literal legacy or zip torch.save payload is analyzed in full and the call is then low
(informational); anything else (a payload that is not a torch file, computed, or a malicious
torch file) still blocks.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bastion.core import Severity
from tests.conftest import inert_command
from tests.formats.pickle.helpers import blocking, rules, scan_bytes

torch = pytest.importorskip("torch")

_LOADER = torch.storage._load_from_bytes


class _Call:
    """Pickles as ``func(*args)`` by reference; nothing is ever called."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _shell_pickle(marker_dir: Path) -> bytes:
    command = inert_command(marker_dir).encode()
    return b"cposix\nsystem\n(S'" + command + b"'\ntR."


def _legacy_torch_file(main_pickle: bytes) -> bytes:
    """The legacy torch.save layout: magic, protocol, sys_info, the object, storage keys."""
    sys_info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    return (
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
        + pickle.dumps(1001, protocol=2)
        + pickle.dumps(sys_info, protocol=2)
        + main_pickle
        + pickle.dumps([], protocol=2)
    )


def _zip_torch_file(data_pkl: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


@pytest.mark.parametrize("writer", ["pickle", "pickle-protocol-0", "joblib", "dill", "cloudpickle"])
def test_pickled_tensors_and_modules_are_not_blocked(tmp_path: Path, writer: str) -> None:
    obj = {"weight": torch.ones(3), "layer": torch.nn.Linear(2, 2), "big": torch.zeros(300_000)}
    if writer == "pickle":
        data = pickle.dumps(obj)
    elif writer == "pickle-protocol-0":
        data = pickle.dumps({"weight": torch.ones(3)}, protocol=0)
    elif writer == "joblib":
        joblib = pytest.importorskip("joblib")
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        data = buffer.getvalue()
    else:
        module = pytest.importorskip(writer)
        data = module.dumps(obj)
    result = scan_bytes(tmp_path, data)
    assert not blocking(result), [f.message for f in blocking(result)]
    tensor_loads = [f for f in result.findings if f.rule_id == "BST-PKL-005"]
    assert tensor_loads
    assert all(f.severity is Severity.LOW for f in tensor_loads)


def test_malicious_legacy_torch_payload_blocks(tmp_path: Path, marker_dir: Path) -> None:
    payload = _legacy_torch_file(_shell_pickle(marker_dir))
    result = scan_bytes(tmp_path, pickle.dumps(_Call(_LOADER, payload)))
    found = blocking(result)
    assert any(f.rule_id == "BST-PKL-001" and f.location.member for f in found), found


def test_malicious_zip_torch_payload_blocks(tmp_path: Path, marker_dir: Path) -> None:
    payload = _zip_torch_file(_shell_pickle(marker_dir))
    result = scan_bytes(tmp_path, pickle.dumps(_Call(_LOADER, payload)))
    found = blocking(result)
    assert any("posix.system" in f.message for f in found), found


def test_payload_that_is_not_a_torch_file_keeps_the_call_critical(
    tmp_path: Path, marker_dir: Path
) -> None:
    result = scan_bytes(tmp_path, pickle.dumps(_Call(_LOADER, _shell_pickle(marker_dir))))
    critical = {f.rule_id for f in result.findings if f.severity is Severity.CRITICAL}
    assert {"BST-PKL-001", "BST-PKL-005"} <= critical


def test_computed_payload_blocks(tmp_path: Path) -> None:
    """torch never writes a computed payload: the computation itself blocks."""
    import base64

    clean = io.BytesIO()
    torch.save(torch.ones(2), clean, _use_new_zipfile_serialization=False)
    encoded = base64.b64encode(clean.getvalue())
    data = pickle.dumps(_Call(_LOADER, _Call(base64.b64decode, encoded)))
    assert blocking(scan_bytes(tmp_path, data))


def test_payload_from_the_memo_of_another_object_stays_critical(tmp_path: Path) -> None:
    """A payload the analysis cannot see as bytes (an attribute of a rebuilt object)."""
    data = pickle.dumps(_Call(_LOADER, _Call(getattr, _Call(io.BytesIO), "getvalue")))
    result = scan_bytes(tmp_path, data)
    assert any(
        f.rule_id == "BST-PKL-005" and f.severity is Severity.CRITICAL for f in result.findings
    ), [(f.rule_id, f.severity) for f in result.findings]


def test_loader_also_used_as_a_callable_elsewhere_stays_critical(tmp_path: Path) -> None:
    import functools

    clean = io.BytesIO()
    torch.save(torch.ones(2), clean, _use_new_zipfile_serialization=False)
    data = pickle.dumps(
        [_Call(_LOADER, clean.getvalue()), functools.partial(_LOADER, clean.getvalue())]
    )
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-001" in {f.rule_id for f in blocking(result)}, rules(result)
