"""One test per pickle attack technique; every sample is built opcode by opcode, never loaded."""

from __future__ import annotations

import base64
import pickle
import zlib
from pathlib import Path

import pytest

from bastion.core import Severity
from tests.conftest import inert_command
from tests.formats.pickle import asm
from tests.formats.pickle.helpers import blocking, globals_flagged, rules, scan_bytes


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_reduce_os_system_every_protocol(tmp_path: Path, marker_dir: Path, protocol: int) -> None:
    data = asm.call("os", "system", inert_command(marker_dir), protocol=protocol)
    result = scan_bytes(tmp_path, data)
    [finding] = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert finding.severity is Severity.CRITICAL
    assert "os.system" in finding.evidence and "touch" in finding.evidence
    assert finding.location.offset is not None


def test_real_pickler_reduce_payload(tmp_path: Path, marker_dir: Path) -> None:
    """What ``pickle.dumps`` writes for a ``__reduce__`` payload (posix.system on Linux)."""
    import os

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (inert_command(marker_dir),))

    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        result = scan_bytes(tmp_path, pickle.dumps(Payload(), protocol=protocol))
        assert globals_flagged(result) & {"posix.system", "os.system", "nt.system"}
        assert blocking(result)


def test_inst_opcode(tmp_path: Path, marker_dir: Path) -> None:
    data = b"(" + asm.s0(inert_command(marker_dir)) + b"ios\nsystem\n."
    result = scan_bytes(tmp_path, data)
    assert "os.system" in globals_flagged(result)
    assert any(f.properties.get("opcode") == "INST" for f in result.findings)


def test_obj_opcode(tmp_path: Path, marker_dir: Path) -> None:
    data = (
        asm.proto(2)
        + asm.MARK
        + asm.glob("subprocess", "check_output")
        + asm.MARK
        + asm.u("sh")
        + asm.u("-c")
        + asm.u(inert_command(marker_dir))
        + b"l"
        + b"o"
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "subprocess.check_output" in globals_flagged(result)
    assert blocking(result)


def test_newobj_on_dangerous_class(tmp_path: Path, marker_dir: Path) -> None:
    args = (
        asm.MARK + asm.u("sh") + asm.u("-c") + asm.u(inert_command(marker_dir)) + b"l" + asm.TUPLE1
    )
    data = asm.proto(2) + asm.glob("subprocess", "Popen") + args + asm.NEWOBJ + asm.STOP
    result = scan_bytes(tmp_path, data)
    assert "subprocess.Popen" in globals_flagged(result)
    assert max(f.severity for f in result.findings) is Severity.CRITICAL


def test_newobj_ex(tmp_path: Path) -> None:
    data = (
        asm.proto(4)
        + asm.stack_global("subprocess", "Popen")
        + asm.MARK
        + asm.u("id")
        + asm.TUPLE
        + asm.EMPTY_DICT
        + asm.NEWOBJ_EX
        + asm.STOP
    )
    assert "subprocess.Popen" in globals_flagged(scan_bytes(tmp_path, data))


def test_build_sets_state_on_imported_object(tmp_path: Path) -> None:
    """BUILD applied to a global itself (not an instance): class attribute injection."""
    data = (
        asm.proto(2)
        + asm.glob("collections", "OrderedDict")
        + asm.NONE
        + asm.EMPTY_DICT
        + asm.u("__reduce__")
        + asm.glob("os", "system")
        + asm.SETITEM
        + asm.TUPLE2
        + asm.BUILD
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-007" in rules(result)
    assert "os.system" in globals_flagged(result)


def test_stack_global_names_from_memo(tmp_path: Path, marker_dir: Path) -> None:
    """Module and name strings stored in the memo and fetched back before STACK_GLOBAL."""
    body = (
        asm.u("os")
        + asm.put(1)
        + asm.POP
        + asm.u("system")
        + asm.put(2)
        + asm.POP
        + asm.get(1)
        + asm.get(2)
        + b"\x93"
        + asm.u(inert_command(marker_dir))
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, asm.proto(4) + body)
    assert "os.system" in globals_flagged(result)


def test_stack_global_with_computed_name(tmp_path: Path) -> None:
    """The name is produced by a call at load time: unknowable statically, flagged."""
    data = (
        asm.proto(4)
        + asm.u("os")
        + asm.stack_global("builtins", "str")
        + asm.u("system")
        + asm.TUPLE1
        + asm.REDUCE
        + b"\x93"
        + asm.u("id")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-004" in rules(result)
    assert blocking(result)


def test_callable_fetched_from_memo(tmp_path: Path, marker_dir: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("os", "system")
        + asm.put(7)
        + asm.POP
        + asm.get(7)
        + asm.u(inert_command(marker_dir))
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    [finding] = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert finding.properties["usage"] == "call"


def test_getattr_resolved_to_nested_loader(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + asm.glob("torch", "serialization")
        + asm.u("load")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.u("x.pt")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "torch.serialization.load" in globals_flagged(result)
    assert blocking(result)


def test_getattr_with_computed_name_is_flagged(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + asm.glob("collections", "OrderedDict")
        + asm.glob("builtins", "str")
        + asm.u("x")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.TUPLE2
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "builtins.getattr" in globals_flagged(result)
    assert max(f.severity for f in result.findings) is Severity.CRITICAL


def test_getattr_reaching_dunder(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "getattr")
        + asm.glob("collections", "OrderedDict")
        + asm.u("__init__")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "collections.OrderedDict.__init__" in globals_flagged(result)
    assert blocking(result)


def test_python2_builtin_names(tmp_path: Path, marker_dir: Path) -> None:
    data = asm.glob("__builtin__", "eval") + b"(" + asm.s0("1+1") + b"tR."
    result = scan_bytes(tmp_path, data)
    assert "builtins.eval" in globals_flagged(result)


def test_dotted_name_with_dunder_traversal(tmp_path: Path) -> None:
    """Protocol 4 resolves dotted names attribute by attribute."""
    data = (
        asm.proto(4)
        + asm.stack_global("collections", "OrderedDict.__init__.__globals__")
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert blocking(result)


GADGETS = [
    ("torch.utils.collect_env", "run"),
    ("multiprocessing.util", "spawnv_passfds"),
    ("ensurepip", "_run_pip"),
    ("runpy", "_run_code"),
    ("timeit", "timeit"),
    ("cProfile", "run"),
    ("pydoc", "pipepager"),
    ("code", "InteractiveInterpreter"),
    ("operator", "methodcaller"),
    ("numpy.testing._private.utils", "runstring"),
    ("pandas", "read_csv"),
    ("webbrowser", "open"),
    ("importlib", "import_module"),
    ("pip", "main"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("shutil", "rmtree"),
    ("socket", "create_connection"),
    ("asyncio", "create_subprocess_shell"),
    ("ctypes", "CDLL"),
    ("pty", "spawn"),
    ("torch.hub", "load"),
    ("sys", "modules"),
    ("_posixsubprocess", "fork_exec"),
    ("uuid", "_get_command_stdout"),
]


@pytest.mark.parametrize(("module", "name"), GADGETS)
def test_known_gadgets_are_critical(tmp_path: Path, module: str, name: str) -> None:
    result = scan_bytes(tmp_path, asm.call(module, name, "x", protocol=2))
    flagged = [f for f in result.findings if f.properties.get("global") == f"{module}.{name}"]
    assert flagged and flagged[0].severity is Severity.CRITICAL


def test_functools_partial_wrapping_a_command(tmp_path: Path, marker_dir: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("functools", "partial")
        + asm.glob("os", "system")
        + asm.u(inert_command(marker_dir))
        + asm.TUPLE2
        + asm.REDUCE
        + asm.EMPTY_TUPLE
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "os.system" in globals_flagged(result)
    assert "BST-PKL-004" in rules(result)  # calling the partial object it built


def test_unknown_function_call_blocks(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, asm.call("somepkg.helpers", "run_thing", "x"))
    [finding] = result.findings
    assert finding.rule_id == "BST-PKL-002" and finding.severity is Severity.HIGH


def test_unknown_class_construction_is_visible_not_blocking(tmp_path: Path) -> None:
    data = asm.proto(2) + asm.glob("mypkg.models", "Net") + asm.EMPTY_TUPLE + asm.NEWOBJ
    data += asm.EMPTY_DICT + asm.BUILD + asm.STOP
    result = scan_bytes(tmp_path, data)
    [finding] = result.findings
    assert finding.rule_id == "BST-PKL-003" and finding.severity is Severity.MEDIUM
    assert not blocking(result)
    allowed = scan_bytes(tmp_path, data, allow_globals=("mypkg.*",))
    assert not allowed.findings
    denied = scan_bytes(tmp_path, data, deny_globals=("mypkg.models.*",))
    assert denied.findings[0].severity is Severity.CRITICAL


def test_allowlist_cannot_whitelist_a_call_to_a_dangerous_callable(tmp_path: Path) -> None:
    """A project allowlist adds trust for its own names; it never un-denies os.system."""
    result = scan_bytes(tmp_path, asm.call("os", "system", "id"), allow_globals=("os.*",))
    assert blocking(result)


def test_nested_pickle_payload_is_analyzed(tmp_path: Path, marker_dir: Path) -> None:
    inner = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    data = asm.proto(2) + asm.glob("pickle", "loads") + asm.b(inner) + asm.TUPLE1
    data += asm.REDUCE + asm.STOP
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-005" in rules(result)
    nested = [
        f for f in result.findings if f.location.member and "pickle.loads@" in f.location.member
    ]
    assert any(f.properties.get("global") == "os.system" for f in nested)


def test_nested_payload_hidden_behind_base64_and_zlib(tmp_path: Path, marker_dir: Path) -> None:
    inner = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    wrapped = base64.b64encode(zlib.compress(inner)).decode()
    data = (
        asm.proto(2)
        + asm.glob("pickle", "loads")
        + asm.glob("zlib", "decompress")
        + asm.glob("base64", "b64decode")
        + asm.u(wrapped)
        + asm.TUPLE1
        + asm.REDUCE
        + asm.TUPLE1
        + asm.REDUCE
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    nested = [f for f in result.findings if f.location.member]
    assert any(f.properties.get("global") == "os.system" for f in nested)


def test_protocol2_bytes_via_codecs_encode(tmp_path: Path, marker_dir: Path) -> None:
    """Protocol 2 writes bytes as ``_codecs.encode(str, 'latin1')``; payloads still surface."""
    inner = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    data = (
        asm.proto(2)
        + asm.glob("pickle", "loads")
        + asm.glob("_codecs", "encode")
        + asm.u(inner.decode("latin-1"))
        + asm.u("latin1")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert any(
        f.location.member and f.properties.get("global") == "os.system" for f in result.findings
    )


def test_stream_broken_after_payload(tmp_path: Path, marker_dir: Path) -> None:
    payload = asm.call("os", "system", inert_command(marker_dir), protocol=2)[:-1]
    result = scan_bytes(tmp_path, payload + b"\xff\xfe garbage")
    assert {"BST-PKL-001", "BST-PKL-006"} <= rules(result)


def test_truncated_stream(tmp_path: Path, marker_dir: Path) -> None:
    payload = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    result = scan_bytes(tmp_path, payload[:-1])
    assert {"BST-PKL-001", "BST-PKL-006"} <= rules(result)


def test_second_pickle_after_stop(tmp_path: Path, marker_dir: Path) -> None:
    first = pickle.dumps({"weights": [1.0, 2.0]}, protocol=2)
    second = asm.call("os", "system", inert_command(marker_dir), protocol=2)
    result = scan_bytes(tmp_path, first + second)
    assert {"BST-PKL-001", "BST-PKL-008"} <= rules(result)


def test_extension_registry_codes(tmp_path: Path) -> None:
    data = asm.proto(2) + b"\x82\x01" + asm.u("id") + asm.TUPLE1 + asm.REDUCE + asm.STOP
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-004" in rules(result) and blocking(result)


def test_ufunc_reconstructor_used_as_import_gadget(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("numpy.core", "_ufunc_reconstruct")
        + asm.u("os")
        + asm.u("system")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.u("id")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "os.system" in globals_flagged(result)


def test_dill_module_import_and_getattr(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("dill._dill", "_get_attr")
        + asm.glob("dill._dill", "_import_module")
        + asm.u("os")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.u("system")
        + asm.TUPLE2
        + asm.REDUCE
        + asm.u("id")
        + asm.TUPLE1
        + asm.REDUCE
        + asm.STOP
    )
    result = scan_bytes(tmp_path, data)
    assert "os.system" in globals_flagged(result)


def test_invalid_global_name(tmp_path: Path) -> None:
    data = asm.proto(2) + asm.glob("os system", "x y") + asm.STOP
    result = scan_bytes(tmp_path, data)
    assert any(
        f.rule_id == "BST-PKL-004" and f.severity is Severity.CRITICAL for f in result.findings
    )


def test_huge_declared_length_is_bounded(tmp_path: Path) -> None:
    data = asm.proto(4) + b"\x8e" + (1 << 40).to_bytes(8, "little") + b"abc"
    result = scan_bytes(tmp_path, data)
    assert "BST-PKL-006" in rules(result)


def test_type_with_three_arguments_creates_a_class(tmp_path: Path) -> None:
    data = (
        asm.proto(2)
        + asm.glob("builtins", "type")
        + asm.u("X")
        + asm.EMPTY_TUPLE
        + asm.EMPTY_DICT
        + asm.TUPLE3
        + asm.REDUCE
        + asm.STOP
    )
    assert blocking(scan_bytes(tmp_path, data))


def test_nonetype_pickle_is_benign(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, pickle.dumps([type(None), type(NotImplemented)], protocol=2))
    assert not result.findings
