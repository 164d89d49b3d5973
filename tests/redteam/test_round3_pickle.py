"""Red team, round 3: load-time calls hidden behind allowlisted pickle helpers.

* dill's ``_load_type(name)`` and ``_create_namedtuple(name, fields, module)`` return any class
  (the latter imports ``module.name``); NEWOBJ on their result was never judged, so
  ``type(...)`` (whose ``__init_subclass__`` runs), ``functools.partial``, ``map`` or
  ``numpy.memmap`` were built unseen.
* Allowlisted helpers that call an argument: NumPy's generator constructors
  (``bit_generator_ctor(name)``) and dill's ``_create_weakref`` (the callback).
* Library code that calls methods it finds on instances: ``Parameter(x)`` calls ``x.detach()``,
  scipy calls ``x.__array__()`` and ``dist._updated_ctor_param()``; a bound method such as
  ``Path(marker).touch`` stored there runs, including when NEWOBJ_EX keyword arguments or a
  tensor rebuild's state set the attribute.

Every sample is built here and only scanned; the marker directory must stay empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.redteam import pk
from tests.redteam.harness import assert_blocked, scan_sample


def _load_type(name: str) -> bytes:
    return pk.call(pk.glob("dill._dill", "_load_type"), pk.u(name))


def _touch(marker: Path) -> bytes:
    """``getattr(Path(marker), 'touch')``: a bound method that creates the marker."""
    return pk.call(
        pk.glob("builtins", "getattr"),
        pk.call(pk.glob("pathlib", "Path"), pk.u(str(marker))),
        pk.u("touch"),
    )


def _namespace(key: str, value: bytes) -> bytes:
    """A SimpleNamespace whose attribute ``key`` is ``value`` (set by BUILD)."""
    return (
        pk.glob("types", "SimpleNamespace")
        + pk.EMPTY_TUPLE
        + pk.NEWOBJ
        + pk.EMPTY_DICT
        + pk.u(key)
        + value
        + pk.SETITEM
        + pk.BUILD
    )


_TO_PICKLE = pk.glob("pandas.core.generic", "NDFrame.to_pickle")
_INIT_LOGS = pk.glob("torch._logging._internal", "_init_logs")


def _samples(marker: Path) -> dict[str, bytes]:
    m = pk.u(str(marker))
    subclass_hook = pk.tup(
        pk.u("Y"),
        pk.tup(pk.glob("builtins", "object")),
        pk.EMPTY_DICT + pk.u("__init_subclass__") + _TO_PICKLE + pk.SETITEM,
    )
    return {
        # type('Y', (object,), {'__init_subclass__': to_pickle}); type('X', (Y,), {}, path=m)
        "dill-load-type-init-subclass": _load_type("type")
        + pk.put(1)
        + subclass_hook
        + pk.NEWOBJ
        + pk.put(2)
        + pk.POP
        + pk.get(1)
        + pk.tup(pk.u("X"), pk.get(2) + pk.TUPLE1, pk.EMPTY_DICT)
        + pk.EMPTY_DICT
        + pk.u("path")
        + m
        + pk.SETITEM
        + pk.NEWOBJ_EX,
        # _create_namedtuple('memmap', (), 'numpy') is numpy.memmap; mode 'w+' creates the file
        "dill-namedtuple-imports-memmap": pk.call(
            pk.glob("dill._dill", "_create_namedtuple"),
            pk.u("memmap"),
            pk.EMPTY_TUPLE,
            pk.u("numpy"),
        )
        + pk.tup(m, pk.u("uint8"), pk.u("w+"), pk.i(0), pk.tup(pk.i(1)))
        + pk.NEWOBJ,
        # partial built by NEWOBJ on _load_type('PartialType'), called by dict() as ns.keys
        "dill-partial-type-as-keys": pk.call(
            pk.glob("builtins", "dict"),
            _namespace(
                "keys",
                _load_type("PartialType") + pk.tup(_TO_PICKLE, pk.u("x"), m) + pk.NEWOBJ,
            ),
        ),
        # list(map(f, [m])) with map from _load_type('map')
        "dill-map-type": pk.call(
            pk.glob("builtins", "list"),
            _load_type("map") + pk.tup(_INIT_LOGS, pk.EMPTY_LIST + m + pk.APPEND) + pk.NEWOBJ,
        ),
        # weakref.ref(<placeholder>, callback): the callback runs when the placeholder dies
        "dill-weakref-callback": pk.call(
            pk.glob("dill._dill", "_create_weakref"), pk.NONE, _INIT_LOGS
        ),
        # __generator_ctor(name, ctor) is ctor(name): _init_logs(m) opens a FileHandler on m
        "numpy-generator-ctor": pk.call(
            pk.glob("numpy.random._pickle", "__generator_ctor"), m, _INIT_LOGS
        ),
        "numpy-randomstate-ctor": pk.call(
            pk.glob("numpy.random._pickle", "__randomstate_ctor"), m, _INIT_LOGS
        ),
        # Parameter(ns) calls ns.detach()
        "parameter-calls-detach": pk.call(
            pk.glob("torch.nn.parameter", "Parameter"), _namespace("detach", _touch(marker))
        ),
        # csr_matrix(ns) calls ns.__array__()
        "sparse-calls-dunder-array": pk.call(
            pk.glob("scipy.sparse._csr", "csr_matrix"), _namespace("__array__", _touch(marker))
        ),
        # rv_frozen(dist) calls dist._updated_ctor_param()
        "rv-frozen-calls-ctor-param": pk.call(
            pk.glob("scipy.stats._distn_infrastructure", "rv_frozen"),
            _namespace("_updated_ctor_param", _touch(marker)),
        ),
        # SimpleNamespace(**{'detach': touch}) through NEWOBJ_EX keyword arguments
        "newobj-ex-keyword-attribute": pk.call(
            pk.glob("torch.nn.parameter", "Parameter"),
            pk.glob("types", "SimpleNamespace")
            + pk.EMPTY_TUPLE
            + pk.EMPTY_DICT
            + pk.u("detach")
            + _touch(marker)
            + pk.SETITEM
            + pk.NEWOBJ_EX,
        ),
        # the same keyword arguments as a dict built by a call (keys invisible statically)
        "newobj-ex-computed-keywords": pk.call(
            pk.glob("torch.nn.parameter", "Parameter"),
            pk.glob("types", "SimpleNamespace")
            + pk.EMPTY_TUPLE
            + pk.call(
                pk.glob("builtins", "dict"),
                pk.EMPTY_LIST + pk.tup(pk.u("detach"), _touch(marker)) + pk.APPEND,
            )
            + pk.NEWOBJ_EX,
        ),
        # a tensor rebuilt with state {'detach': touch}, then wrapped as a Parameter
        "tensor-rebuild-state-attribute": pk.call(
            pk.glob("torch.nn.parameter", "Parameter"),
            pk.call(
                pk.glob("torch._tensor", "_rebuild_from_type_v2"),
                pk.glob("torch", "Tensor"),
                pk.glob("torch", "Tensor"),
                pk.EMPTY_TUPLE,
                pk.EMPTY_DICT + pk.u("detach") + _touch(marker) + pk.SETITEM,
            ),
        ),
    }


_TECHNIQUES = sorted(_samples(Path("/nonexistent")))


@pytest.mark.parametrize("technique", _TECHNIQUES)
def test_hidden_load_time_call_is_blocked(tmp_path: Path, marker_dir: Path, technique: str) -> None:
    """Each technique is blocked at HIGH or above; nothing is loaded."""
    data = pk.wrap(_samples(marker_dir / "pwned")[technique], 4)
    assert_blocked(scan_sample(tmp_path, f"{technique}.pkl", data), "BST-PKL")


def test_dill_type_loaders_resolve_benign_names(tmp_path: Path) -> None:
    """``_load_type('NoneType')`` and a namedtuple that dill rebuilds stay below the gate."""
    body = pk.tup(
        _load_type("NoneType"),
        _load_type("dict"),
        pk.call(
            pk.glob("dill._dill", "_create_namedtuple"),
            pk.u("Point"),
            pk.tup(pk.u("x"), pk.u("y")),
            pk.u("collections"),
        ),
    )
    result = scan_sample(tmp_path, "types.pkl", pk.wrap(body, 4))
    assert not [f for f in result.findings if f.severity.name in ("HIGH", "CRITICAL")], [
        f.message for f in result.findings
    ]


def test_numpy_generator_pickled_by_numpy_is_clean(tmp_path: Path) -> None:
    """The real helpers: ``__generator_ctor('PCG64', __bit_generator_ctor)`` and a name."""
    ctor = pk.glob("numpy.random._pickle", "__bit_generator_ctor")
    body = pk.tup(
        pk.call(pk.glob("numpy.random._pickle", "__generator_ctor"), pk.u("PCG64"), ctor),
        pk.call(ctor, pk.u("MT19937")),
    )
    result = scan_sample(tmp_path, "gen.pkl", pk.wrap(body, 4))
    assert not [f for f in result.findings if f.severity.name in ("HIGH", "CRITICAL")], [
        f.message for f in result.findings
    ]
