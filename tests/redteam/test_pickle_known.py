"""Red team: techniques the scanner already blocked when the red team tried them.

Kept so a regression shows up: combinators, getattr on allowlisted classes, escaped names,
extension codes, persistent ids and out-of-band buffers used as callables, computed
reconstructor bases, object arrays joblib would memory-map. Nothing is loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import inert_command
from tests.redteam import joblibforge as jf
from tests.redteam import pk
from tests.redteam.harness import assert_blocked, scan_sample


def _cmd(marker_dir: Path) -> bytes:
    return pk.u(inert_command(marker_dir))


def _combinators(marker_dir: Path) -> dict[str, bytes]:
    system = pk.glob("os", "system")
    getattr_ = pk.glob("builtins", "getattr")
    return {
        "operator.methodcaller": pk.call(
            pk.call(pk.glob("operator", "methodcaller"), pk.u("system"), _cmd(marker_dir)),
            pk.glob("posix", "getcwd"),
        ),
        "_operator.attrgetter": pk.call(
            pk.call(pk.glob("_operator", "attrgetter"), pk.u("system")), pk.glob("os", "path")
        ),
        "operator.call": pk.call(pk.glob("operator", "call"), system, _cmd(marker_dir)),
        "itertools.starmap": pk.call(
            pk.glob("builtins", "list"),
            pk.call(pk.glob("itertools", "starmap"), system, pk.tup(pk.tup(_cmd(marker_dir)))),
        ),
        "functools.reduce": pk.call(
            pk.glob("functools", "reduce"), system, pk.tup(_cmd(marker_dir))
        ),
        "getattr-on-allowlisted": pk.call(
            pk.call(getattr_, pk.glob("pathlib", "Path"), pk.u("write_text")),
            pk.call(pk.glob("pathlib", "Path"), pk.u(str(marker_dir / "pwned"))),
            pk.u("x"),
        ),
        "getattr-ndarray-dump": pk.call(
            pk.call(getattr_, pk.glob("numpy", "ndarray"), pk.u("dump")),
            pk.ndarray_u8(b"x"),
            pk.u(str(marker_dir / "pwned")),
        ),
        "string-escapes": pk.call(
            b"S'o\\x73'\n" + b"S'sy\\x73tem'\n" + pk.STACK_GLOBAL, _cmd(marker_dir)
        ),
        "unicode-escapes": pk.call(
            b"Vo\\u0073\n" + b"Vsystem\n" + pk.STACK_GLOBAL, _cmd(marker_dir)
        ),
        "python2-names": pk.call(pk.glob("__builtin__", "eval"), pk.u("1")),
        "extension-code": pk.call(pk.ext1(42), _cmd(marker_dir)),
        "persistent-id-called": pk.call(pk.u("x") + pk.BINPERSID, _cmd(marker_dir)),
        "out-of-band-buffer-called": pk.call(pk.NEXT_BUFFER, _cmd(marker_dir)),
        "reconstructor-base-from-import-gadget": pk.call(
            pk.glob("copyreg", "_reconstructor"),
            pk.glob("builtins", "object"),
            pk.call(
                pk.glob("scipy._lib._uarray._backend", "unpickle_function"),
                pk.u("logging"),
                pk.u("FileHandler"),
                pk.NONE,
            ),
            pk.u(str(marker_dir / "pwned")),
        ),
        "reconstructor-base-computed": pk.call(
            pk.glob("copyreg", "_reconstructor"),
            pk.glob("builtins", "object"),
            pk.call(pk.glob("dill._dill", "_load_type"), pk.u("FileType")),
            pk.u(str(marker_dir / "pwned")),
        ),
    }


@pytest.mark.parametrize(
    "technique",
    [
        "operator.methodcaller",
        "_operator.attrgetter",
        "operator.call",
        "itertools.starmap",
        "functools.reduce",
        "getattr-on-allowlisted",
        "getattr-ndarray-dump",
        "string-escapes",
        "unicode-escapes",
        "python2-names",
        "extension-code",
        "persistent-id-called",
        "out-of-band-buffer-called",
        "reconstructor-base-from-import-gadget",
        "reconstructor-base-computed",
    ],
)
def test_technique_is_blocked(tmp_path: Path, marker_dir: Path, technique: str) -> None:
    body = _combinators(marker_dir)[technique]
    assert_blocked(scan_sample(tmp_path, "model.pkl", pk.wrap(body, protocol=5)), "BST-PKL")


def test_object_array_joblib_would_memory_map(tmp_path: Path, marker_dir: Path) -> None:
    """``joblib.load(mmap_mode='r')`` maps (skips) what ``joblib.load()`` unpickles."""
    nested = pk.proto(2) + pk.system_call(inert_command(marker_dir)) + pk.STOP
    head = jf.wrapper(jf.attrs(jf.dtype("O8", flags=63), jf.shape(1), mmap=pk.TRUE))
    sample = pk.proto(2) + head + nested + pk.STOP
    assert_blocked(scan_sample(tmp_path, "model.joblib", sample), "BST-PKL")
