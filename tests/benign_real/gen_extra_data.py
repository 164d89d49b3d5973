"""Extra benign artifacts: SciPy, pandas, pyarrow and NumPy objects
(see :mod:`tests.benign_real.gen_extra`)."""

from __future__ import annotations

import datetime
import decimal
import pickle
from typing import Any

from tests.benign_real.base import Recorder
from tests.benign_real.gen_extra_common import _pickle


def generate_scipy(rec: Recorder) -> None:
    """Interpolators, rotations, optimizer and test results, sparse arrays, LTI systems."""
    import numpy as np
    from scipy import interpolate, optimize, signal, sparse, stats
    from scipy.cluster import hierarchy
    from scipy.spatial.transform import Rotation, Slerp

    xs = np.linspace(0, 3, 10)
    ys = np.sin(xs)
    grid = (np.arange(3.0), np.arange(4.0))
    rot = Rotation.from_euler("xyz", [[10, 20, 30], [0, 0, 90]], degrees=True)
    objects = {
        "rotation": rot,
        "slerp": Slerp([0, 1], rot),
        "interp1d": interpolate.interp1d(xs, ys, kind="cubic"),
        "cubic_spline": interpolate.CubicSpline(xs, ys),
        "pchip": interpolate.PchipInterpolator(xs, ys),
        "akima": interpolate.Akima1DInterpolator(xs, ys),
        "bspline": interpolate.make_interp_spline(xs, ys, k=3),
        "univariate_spline": interpolate.UnivariateSpline(xs, ys),
        "regular_grid": interpolate.RegularGridInterpolator(grid, np.ones((3, 4))),
        "rbf": interpolate.RBFInterpolator(np.c_[xs, ys], xs),
        "nearest_nd": interpolate.NearestNDInterpolator(np.c_[xs, ys], xs),
        "minimize": optimize.minimize(lambda v: float((v**2).sum()), np.ones(2)).x,
        "least_squares_x": optimize.least_squares(lambda v: v - 1, np.zeros(2)).x,
        "ttest": stats.ttest_ind(ys, ys + 0.1),
        "linregress": stats.linregress(xs, ys),
        "pearsonr": stats.pearsonr(xs, ys),
        "frozen_mvn": stats.multivariate_normal(np.zeros(2), np.eye(2)),
        "rv_discrete": stats.rv_discrete(values=([0, 1, 2], [0.2, 0.3, 0.5])),
        "rv_histogram": stats.rv_histogram(np.histogram(ys, bins=4)),
        "sobol": stats.qmc.Sobol(2, seed=1),
        "lti": signal.lti([1.0], [1.0, 2.0]),
        "dlti": signal.dlti([1.0], [1.0, 0.5], dt=0.1),
        "zpk": signal.ZerosPolesGain([], [-1.0], 1.0),
        "state_space": signal.StateSpace(-np.eye(1), np.eye(1), np.eye(1), np.zeros((1, 1))),
        "sparse_arrays": {
            fmt: getattr(sparse, f"{fmt}_array")(np.eye(3))
            for fmt in ("bsr", "csc", "dia", "dok", "lil")
        },
        "linear_operator": sparse.linalg.aslinearoperator(np.eye(2)),
        "cluster_tree": hierarchy.to_tree(hierarchy.linkage(np.c_[xs, ys])),
    }
    for name, obj in objects.items():
        try:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an object this SciPy version cannot pickle is left out
            continue
        rec.path(f"scipy/{name}.pkl").write_bytes(data)
        rec.add(f"scipy/{name}.pkl", "scipy", "pickle")


def _arrow_frame() -> Any:
    import pandas as pd
    import pyarrow as pa

    n = 4
    return pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 4], dtype="int64[pyarrow]"),
            "f": pd.array([1.5, 2.5, None, 4.0], dtype="float32[pyarrow]"),
            "s": pd.array(["a", None, "c", "d"], dtype="large_string[pyarrow]"),
            "ts": pd.array(
                pd.date_range("2024", periods=n, tz="UTC"),
                dtype=pd.ArrowDtype(pa.timestamp("us", tz="UTC")),
            ),
            "date": pd.array(
                [datetime.date(2024, 1, i + 1) for i in range(n)], dtype=pd.ArrowDtype(pa.date32())
            ),
            "dur": pd.array(
                [datetime.timedelta(seconds=i) for i in range(n)],
                dtype=pd.ArrowDtype(pa.duration("ms")),
            ),
            "dec": pd.array([decimal.Decimal("1.5")] * n, dtype=pd.ArrowDtype(pa.decimal128(5, 2))),
            "lst": pd.array([[1], [2, 3], [], None], dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
            "struct": pd.array(
                [{"a": 1, "b": "x"}] * n,
                dtype=pd.ArrowDtype(pa.struct([("a", pa.int64()), ("b", pa.string())])),
            ),
            "dict": pd.array(
                ["u", "v", "u", "v"], dtype=pd.ArrowDtype(pa.dictionary(pa.int8(), pa.string()))
            ),
            "bin": pd.array([b"x"] * n, dtype=pd.ArrowDtype(pa.binary())),
            "bool": pd.array([True, False, None, True], dtype="bool[pyarrow]"),
        }
    )


def generate_pandas(rec: Recorder) -> None:
    """pyarrow-backed frames, every to_pickle compression, offsets and odd indexes."""
    import numpy as np
    import pandas as pd

    frame = _arrow_frame()
    frame.attrs["source"] = "benign"
    for ext in ("pkl", "pkl.bz2", "pkl.zip", "pkl.tar", "pkl.gz", "pkl.xz", "pkl.zst"):
        try:
            frame.to_pickle(rec.path(f"pandas/arrow.{ext}"))
        except ImportError:  # zstandard missing
            rec.path(f"pandas/arrow.{ext}").unlink(missing_ok=True)
            continue
        rec.add(f"pandas/arrow.{ext}", "pandas", f"pickle-{ext}")
    for protocol in (0, 1):
        _pickle(rec, f"pandas/frame.p{protocol}.pkl", frame, "pandas", protocol)
    frame.to_parquet(rec.path("pandas/arrow.parquet"))
    rec.add("pandas/arrow.parquet", "pandas", "parquet")
    offsets = pd.offsets
    objects = {
        "offsets": [
            offsets.MonthEnd(2),
            offsets.Week(weekday=0),
            offsets.QuarterBegin(startingMonth=2),
            offsets.CustomBusinessDay(holidays=["2024-01-01"]),
            offsets.Hour(3),
            offsets.DateOffset(months=1, days=2),
            offsets.FY5253(weekday=0, startingMonth=1),
        ],
        "interval": pd.Interval(0, 1, closed="both"),
        "dt_index": pd.date_range("2024", periods=4, freq="15min", tz="Asia/Tokyo"),
        "period_index": pd.period_range("2024Q1", periods=3, freq="Q"),
        "td_index": pd.timedelta_range("1D", periods=3),
        "cat_dtype": pd.CategoricalDtype(["a", "b"], ordered=True),
        "dt_categories": pd.Categorical(pd.date_range("2024", periods=3)),
        "mixed_multi": pd.MultiIndex.from_arrays([[1, 2], ["a", None], [1.5, np.nan]]),
        "sparse_frame": pd.DataFrame.sparse.from_spmatrix(
            __import__("scipy.sparse").sparse.eye(3, format="csr")
        ),
        "flags": pd.DataFrame({"a": [1]}).set_flags(allows_duplicate_labels=False),
        "fixed_offset_ts": pd.Timestamp("2024-01-01", tz=datetime.timezone.utc),
        "rolling_result": pd.Series(range(6)).rolling(3).mean(),
    }
    _pickle(rec, "pandas/objects.pkl", objects, "pandas", 5)


def generate_pyarrow(rec: Recorder) -> None:
    """pyarrow tables, arrays, schemas, scalars and tensors pickled."""
    import numpy as np
    import pyarrow as pa

    table = pa.Table.from_pandas(_arrow_frame())
    types_ = [
        pa.float16(), pa.date64(), pa.large_binary(), pa.string_view(), pa.binary_view(),
        pa.binary(3), pa.large_list(pa.int32()), pa.list_(pa.int8(), 2),
        pa.map_(pa.string(), pa.int32()), pa.time32("s"), pa.time64("ns"),
        pa.month_day_nano_interval(), pa.decimal256(40, 3), pa.null(),
        pa.run_end_encoded(pa.int32(), pa.string()), pa.list_view(pa.int32()),
        pa.large_list_view(pa.int32()), pa.dense_union([pa.field("a", pa.int8())]),
        pa.sparse_union([pa.field("b", pa.string())]),
    ]  # fmt: skip
    objects: dict[str, Any] = {
        "table": table,
        "batch": table.to_batches()[0],
        "schema": table.schema,
        "chunked": pa.chunked_array([[1, 2], [3]]),
        "dictionary_array": pa.array(["a", "b", "a"]).dictionary_encode(),
        "scalars": [pa.scalar(1), pa.scalar("x"), pa.scalar(datetime.date(2024, 1, 1))],
        "tensor": pa.Tensor.from_numpy(np.arange(6).reshape(2, 3)),
    }
    for index, dtype in enumerate(types_):
        objects[f"type{index}"] = dtype
    for name, factory in (
        ("fixed_shape_tensor", lambda: pa.fixed_shape_tensor(pa.float32(), [2, 2])),
        ("uuid", lambda: pa.uuid()),
        ("json", lambda: pa.json_(pa.string())),
        ("bool8", lambda: pa.bool8()),
    ):
        try:
            objects[name] = factory()
        except Exception:  # not in this pyarrow
            continue
    for name, obj in objects.items():
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception:
            continue
        rec.path(f"pyarrow/{name}.pkl").write_bytes(data)
        rec.add(f"pyarrow/{name}.pkl", "pyarrow", "pickle")


def generate_numpy(rec: Recorder) -> None:
    """Object arrays of plain containers, ml_dtypes and StringDType arrays, polynomials, RNGs."""
    import ml_dtypes
    import numpy as np

    obj_array = np.array([{"a": 1, "b": [1, 2]}, ["x", None], "text", 3.5, None], dtype=object)
    np.save(rec.path("numpy/objects.npy"), obj_array, allow_pickle=True)
    rec.add("numpy/objects.npy", "numpy", "npy-object")
    np.save(rec.path("numpy/dict.npy"), np.array({"vocab": {"a": 0}, "dims": (2, 3)}))
    rec.add("numpy/dict.npy", "numpy", "npy-object")
    np.savez_compressed(
        rec.path("numpy/mixed.npz"), meta=np.array({"n": 1}), weights=np.ones(3), labels=obj_array
    )
    rec.add("numpy/mixed.npz", "numpy", "npz-object")
    for name in ("bfloat16", "float8_e4m3fn", "int4"):
        array = np.zeros(4, dtype=getattr(ml_dtypes, name))
        np.save(rec.path(f"numpy/{name}.npy"), array)
        rec.add(f"numpy/{name}.npy", "ml_dtypes", "npy")
    strings = np.array(["alpha", "beta"], dtype=np.dtypes.StringDType())
    np.save(rec.path("numpy/stringdtype.npy"), strings, allow_pickle=True)
    rec.add("numpy/stringdtype.npy", "numpy", "npy-stringdtype")
    poly = np.polynomial
    objects = {
        "polynomials": [
            poly.Polynomial([1, 2, 3]), poly.Chebyshev([1, 0]), poly.Legendre([0, 1]),
            poly.Hermite([1]), poly.Laguerre([1, 1]),
        ],
        "generators": [
            np.random.Generator(np.random.MT19937(1)), np.random.Generator(np.random.Philox(2)),
            np.random.Generator(np.random.SFC64(3)), np.random.Generator(np.random.PCG64DXSM(4)),
        ],
        "seed_sequence": np.random.SeedSequence(5),
        "scalars": [np.longdouble(1.5), np.clongdouble(1j), np.str_("a"), np.bytes_(b"b"),
                    np.timedelta64(3, "D"), np.void(b"ab")],
        "masked_constant": np.ma.masked,
        "ml_dtypes": np.zeros(3, dtype=ml_dtypes.bfloat16),
        "finfo": np.finfo(np.float32),
        "iinfo": np.iinfo(np.int16),
        "stringdtype": strings,
        "char": np.char.array(["a", "b"]),
    }  # fmt: skip
    for name, obj in objects.items():
        try:
            data = pickle.dumps(obj, protocol=5)
        except Exception:
            continue
        rec.path(f"numpy/{name}.pkl").write_bytes(data)
        rec.add(f"numpy/{name}.pkl", "numpy", "pickle")
