"""Loading the assessment data: CSV, Parquet, NumPy (``.npy``/``.npz``) or a Python entry point.

Every source becomes a :class:`Dataset` (float32 features shaped for the model, integer labels
``0..K-1``, and the original row ids, which every report uses to name samples). NumPy files are
read with ``allow_pickle=False`` (object arrays are refused, never unpickled), row counts are
bounded by ``max_rows``, and non-finite values are an error naming the rows unless the policy
says ``nan_policy = "drop"``.

>>> import numpy as np
>>> ds = Dataset.of(np.zeros((4, 2)), np.array([0, 1, 0, 1]), source="demo")
>>> ds.n_classes, ds.x.dtype.name
(2, 'float32')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bastion.assess.config import DataSpec
from bastion.assess.entry import load_entry
from bastion.assess.errors import DataError

NDArray = np.ndarray[Any, Any]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features, labels and row ids of one split."""

    x: NDArray
    y: NDArray
    ids: NDArray
    source: str
    classes: tuple[object, ...] = ()

    @classmethod
    def of(cls, x: Any, y: Any, *, source: str, ids: Any = None) -> Dataset:
        """Build from array-likes (labels mapped to ``0..K-1``); ids default to row numbers."""
        xa = np.asarray(x, dtype=np.float32)
        labels, classes = _encode_labels(np.asarray(y), source)
        row_ids = np.arange(len(xa)) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(labels) != len(xa):
            raise DataError(source, f"{len(xa)} feature rows but {len(labels)} labels")
        return cls(xa, labels, row_ids, source, classes)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def n_classes(self) -> int:
        """Number of distinct classes (at least the largest label + 1)."""
        return max(len(self.classes), int(self.y.max()) + 1 if len(self.y) else 0)

    def subset(self, index: NDArray) -> Dataset:
        """The rows at ``index`` (a boolean mask or positions), ids kept."""
        return Dataset(self.x[index], self.y[index], self.ids[index], self.source, self.classes)

    def flat(self) -> NDArray:
        """Features as a 2-D ``(n, d)`` array."""
        return self.x.reshape(len(self.x), -1)


@dataclass(frozen=True, eq=False)
class AssessData:
    """Training and held-out splits, shaped and bounded for the models."""

    train: Dataset
    test: Dataset | None
    input_shape: tuple[int, ...]
    bounds: tuple[float, float]
    image: bool
    n_classes: int
    dropped: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())

    def holdout(self) -> Dataset:
        """The held-out split, or an error naming what is missing."""
        if self.test is None:
            raise DataError(self.train.source, "this check needs held-out data: set data.test")
        return self.test


def _integer_labels(y: NDArray) -> bool:
    if y.dtype.kind in "iub":
        return len(y) == 0 or int(y.min()) >= 0
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            return False
        return len(y) == 0 or bool(y.min() >= 0)
    return False


def _encode_labels(y: NDArray, source: str) -> tuple[NDArray, tuple[object, ...]]:
    """Labels as ``0..K-1``: non-negative integers are kept, anything else is sorted and indexed."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(source, f"labels must be one column, got shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        bad = np.flatnonzero(~np.isfinite(y))[:5].tolist()
        raise DataError(source, f"labels are missing or not finite at rows {bad}")
    if _integer_labels(y):
        k = int(y.max()) + 1 if len(y) else 0
        return y.astype(np.int64), tuple(range(k))
    text = y.astype(str)
    classes, codes = np.unique(text, return_inverse=True)
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def _read_numpy(path: Path, key: str, max_rows: int) -> NDArray:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if key not in archive.files:
                    raise DataError(str(path), f"no array {key!r} (has {sorted(archive.files)})")
                array = archive[key]
        else:
            array = np.load(path, allow_pickle=False, mmap_mode="r")
            if array.ndim and array.shape[0] > max_rows:
                raise DataError(str(path), f"{array.shape[0]} rows exceed max_rows={max_rows}")
            array = np.array(array)
    except ValueError as exc:
        raise DataError(str(path), f"cannot read (object arrays are refused): {exc}") from exc
    except OSError as exc:
        raise DataError(str(path), f"cannot read: {exc}") from exc
    if array.dtype.kind not in "biuf" and key != "y":
        raise DataError(str(path), f"array {key!r} has dtype {array.dtype}, expected numbers")
    if array.ndim and array.shape[0] > max_rows:
        raise DataError(str(path), f"{array.shape[0]} rows exceed max_rows={max_rows}")
    return np.asarray(array)


def _read_table(path: Path, spec: DataSpec) -> tuple[NDArray, NDArray]:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in the assess extra
        from bastion.errors import MissingDependencyError

        raise MissingDependencyError("pandas", "assess", f"reading {path}") from None
    try:
        if path.suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, nrows=spec.max_rows + 1)
    except ImportError as exc:
        from bastion.errors import MissingDependencyError

        raise MissingDependencyError("pyarrow", "assess", f"reading {path}") from exc
    except (OSError, ValueError) as exc:
        raise DataError(str(path), f"cannot read: {exc}") from exc
    if len(frame) > spec.max_rows:
        raise DataError(str(path), f"more than max_rows={spec.max_rows} rows")
    if spec.label not in frame.columns:
        raise DataError(str(path), f"no label column {spec.label!r} (columns: {list(frame)[:10]})")
    columns = list(spec.features) or [c for c in frame.columns if c != spec.label]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(str(path), f"feature columns not found: {missing}")
    features = frame[columns]
    bad = [c for c in columns if features[c].dtype.kind not in "biuf"]
    if bad:
        raise DataError(str(path), f"feature columns are not numeric: {bad[:5]}")
    return features.to_numpy(dtype=np.float64), frame[spec.label].to_numpy()


def _read_split(path: Path, labels: Path | None, spec: DataSpec) -> tuple[NDArray, NDArray]:
    if not path.is_file():
        raise DataError(str(path), "file not found")
    if path.suffix == ".npz":
        return _read_numpy(path, spec.x_key, spec.max_rows), _read_numpy(
            path, spec.y_key, spec.max_rows
        )
    if path.suffix == ".npy":
        if labels is None:
            raise DataError(str(path), "a .npy feature file needs train_labels/test_labels")
        return _read_numpy(path, "x", spec.max_rows), _read_numpy(labels, "y", spec.max_rows)
    if path.suffix in (".csv", ".parquet", ".pq", ".txt", ".tsv"):
        return _read_table(path, spec)
    raise DataError(str(path), "unsupported data format (use .csv, .parquet, .npz or .npy)")


def _from_entry(spec: DataSpec, base_dir: Path) -> dict[str, Any]:
    assert spec.entry is not None
    loader = load_entry(spec.entry, base_dir, what="data.entry")
    value = loader()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and len(value) in (2, 4):
        keys = ("x_train", "y_train", "x_test", "y_test")
        return dict(zip(keys, value, strict=False))
    raise DataError(
        spec.entry, "must return a mapping with x_train, y_train[, x_test, y_test] or a tuple"
    )


def _finite_rows(x: NDArray, source: str, policy: str) -> tuple[NDArray, tuple[int, ...]]:
    finite: NDArray = np.asarray(np.isfinite(x.reshape(len(x), -1)).all(axis=1))
    if finite.all():
        return finite, ()
    rows = tuple(int(i) for i in np.flatnonzero(~finite))
    if policy == "error":
        shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
        raise DataError(
            source,
            f"{len(rows)} row(s) contain NaN or infinite values (rows {shown}); fix the data or "
            'set nan_policy = "drop" in [assess.data]',
        )
    return finite, rows


def _shape(x: NDArray, spec: DataSpec, source: str) -> NDArray:
    if spec.input_shape is None:
        return x if x.ndim > 1 else x.reshape(len(x), 1)
    want = int(np.prod(spec.input_shape))
    have = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
    if want != have:
        raise DataError(
            source,
            f"rows have {have} values but input_shape {list(spec.input_shape)} needs {want}",
        )
    return x.reshape(len(x), *spec.input_shape)


def load_data(spec: DataSpec, base_dir: Path) -> AssessData:
    """Read, validate, label-encode and shape both splits."""
    if spec.entry is not None:
        raw = _from_entry(spec, base_dir)
        if "x_train" not in raw or "y_train" not in raw:
            raise DataError(spec.entry, "the data entry point returned no x_train/y_train")
        parts: dict[str, tuple[NDArray, NDArray, str]] = {
            "train": (np.asarray(raw["x_train"]), np.asarray(raw["y_train"]), spec.entry)
        }
        if raw.get("x_test") is not None:
            parts["test"] = (np.asarray(raw["x_test"]), np.asarray(raw["y_test"]), spec.entry)
    else:
        assert spec.train is not None
        parts = {"train": (*_read_split(spec.train, spec.train_labels, spec), str(spec.train))}
        if spec.test is not None:
            parts["test"] = (*_read_split(spec.test, spec.test_labels, spec), str(spec.test))
    return build_data(parts, spec)


def build_data(parts: dict[str, tuple[NDArray, NDArray, str]], spec: DataSpec) -> AssessData:
    """Shape, clean and encode already-read splits (shared by files and entry points)."""
    all_labels = np.concatenate([np.asarray(p[1]).reshape(-1) for p in parts.values()])
    _, classes = _encode_labels(all_labels, parts["train"][2])
    offsets = np.cumsum([0] + [len(np.asarray(p[1]).reshape(-1)) for p in parts.values()])
    encoded, _ = _encode_labels(all_labels, parts["train"][2])
    datasets: dict[str, Dataset] = {}
    dropped: list[tuple[str, tuple[int, ...]]] = []
    for name, (x, y, source) in parts.items():
        if x.dtype.kind not in "biuf":
            raise DataError(source, f"features have dtype {x.dtype}, expected numbers")
        if len(x) != len(y):
            raise DataError(source, f"{len(x)} feature rows but {len(y)} labels")
        if len(x) == 0:
            raise DataError(source, f"the {name} split is empty")
        x = _shape(np.asarray(x, dtype=np.float32), spec, source)
        keep, rows = _finite_rows(x, source, spec.nan_policy)
        if rows:
            dropped.append((source, rows))
        index = list(parts).index(name)
        y_enc = encoded[offsets[index] : offsets[index + 1]]
        ids = np.arange(len(x))
        datasets[name] = Dataset(x[keep], y_enc[keep].astype(np.int64), ids[keep], source, classes)
    train = datasets["train"]
    if len(np.unique(train.y)) < 2:
        raise DataError(train.source, "the training data has fewer than two classes")
    bounds = spec.bounds or (float(train.x.min()), float(train.x.max()))
    if not bounds[0] < bounds[1]:
        raise DataError(train.source, "all features are constant; set data.bounds")
    shape = tuple(int(d) for d in train.x.shape[1:])
    image = spec.image if spec.image is not None else len(shape) >= 2
    return AssessData(
        train=train,
        test=datasets.get("test"),
        input_shape=shape,
        bounds=(float(bounds[0]), float(bounds[1])),
        image=image,
        n_classes=len(classes),
        dropped=tuple(dropped),
    )
