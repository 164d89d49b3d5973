"""Red team, round 4: framework classes that the namespace allowlist trusted as calls.

A capitalized callable under a trusted namespace (``torch``, ``pyarrow``, ``scipy``, …) was safe
to call with any arguments, and so were reconstructor-shaped names (``_from_*``). Some of them
are not model state:

* sympy evaluates strings: ``torch.utils._sympy.functions.S(text)`` is ``sympify(text)``, which
  runs ``eval``; every sympy ``Function`` subclass there (``FloorDiv``) sympifies its arguments,
  and ``scipy.special._precompute`` re-exports sympy's ``Sum``.
* Writers and streams open the path they are given: ``torch._C.PyTorchFileWriter``,
  ``pyarrow.lib.CompressedOutputStream``, pyarrow's private ``_parquet``/``_csv`` modules behind
  the denied public ones.
* Loaders that read a path (``xgboost.core.DMatrix``, ``xgboost.data._from_uri``,
  ``catboost.core.Pool``), and ``multiprocessing.Pool`` re-exported by statsmodels, whose
  ``initializer`` runs in the workers at once.

Every sample is built here and only scanned; the marker directory must stay empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.redteam import pk
from tests.redteam.harness import assert_blocked, assert_passes, scan_sample

_INIT_LOGS = pk.glob("torch._logging._internal", "_init_logs")


def _empty_schema() -> bytes:
    return pk.call(pk.glob("pyarrow.lib", "schema"), pk.EMPTY_LIST)


def _samples(marker: Path) -> dict[str, bytes]:
    m = pk.u(str(marker))
    code = pk.u(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    return {
        # sympify(text) evaluates text
        "sympy-singleton-sympify": pk.call(pk.glob("torch.utils._sympy.functions", "S"), code),
        "sympy-function-arguments": pk.call(
            pk.glob("torch.utils._sympy.functions", "FloorDiv"), code, pk.i(1)
        ),
        "sympy-reexported-sum": pk.call(
            pk.glob("scipy.special._precompute.wright_bessel", "Sum"),
            code,
            pk.tup(pk.u("x"), pk.i(0), pk.i(1)),
        ),
        "sympy-symbolic-shapes-singleton": pk.call(
            pk.glob("torch.fx.experimental.symbolic_shapes", "S"), code
        ),
        # writers and streams create the file they are given
        "torch-file-writer": pk.call(pk.glob("torch._C", "PyTorchFileWriter"), m),
        "pyarrow-compressed-output-stream": pk.call(
            pk.glob("pyarrow.lib", "CompressedOutputStream"), m, pk.u("gzip")
        ),
        "pyarrow-record-batch-file-writer": pk.call(
            pk.glob("pyarrow.lib", "_RecordBatchFileWriter"), m, _empty_schema()
        ),
        "pyarrow-private-parquet-writer": pk.call(
            pk.glob("pyarrow._parquet", "ParquetWriter"), m, _empty_schema()
        ),
        "pyarrow-private-csv-writer": pk.call(
            pk.glob("pyarrow._csv", "CSVWriter"), m, _empty_schema()
        ),
        # loaders that read a path or URI
        "xgboost-dmatrix-path": pk.call(pk.glob("xgboost.core", "DMatrix"), m),
        "xgboost-from-uri": pk.call(
            pk.glob("xgboost.data", "_from_uri"), m, pk.NONE, pk.NONE, pk.NONE, pk.NONE
        ),
        "catboost-pool-path": pk.call(pk.glob("catboost.core", "Pool"), m),
        # Pool(1, initializer, initargs) runs initializer(*initargs) in a worker at once
        "reexported-process-pool": pk.call(
            pk.glob("statsmodels.graphics.functional", "Pool"),
            pk.i(1),
            _INIT_LOGS,
            pk.tup(m),
        ),
    }


_TECHNIQUES = sorted(_samples(Path("/nonexistent")))


@pytest.mark.parametrize("technique", _TECHNIQUES)
def test_trusted_namespace_call_is_blocked(
    tmp_path: Path, marker_dir: Path, technique: str
) -> None:
    """Each technique is blocked at HIGH or above; nothing is loaded."""
    data = pk.wrap(_samples(marker_dir / "pwned")[technique], 4)
    assert_blocked(scan_sample(tmp_path, f"{technique}.pkl", data), "BST-PKL")


def test_io_classes_as_references_and_rebuilt_framework_classes_pass(tmp_path: Path) -> None:
    """Referencing such a class, and calling ordinary framework classes, stays below the gate."""
    body = pk.tup(
        pk.glob("catboost.core", "Pool"),
        pk.glob("xgboost.core", "DMatrix"),
        pk.call(pk.glob("numpy.random._mt19937", "MT19937"), pk.NONE),
        pk.call(pk.glob("pandas", "PeriodDtype"), pk.u("D")),
    )
    assert_passes(scan_sample(tmp_path, "refs.pkl", pk.wrap(body, 4)))
