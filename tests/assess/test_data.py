"""Data loading: formats, label encoding, shapes, NaN handling, and refusing pickled arrays."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from bastion.assess.config import DataSpec
from bastion.assess.data import load_data
from bastion.assess.errors import DataError
from tests.conftest import inert_command


def _spec(**kw: object) -> DataSpec:
    values: dict[str, object] = {"train": None, "test": None, "entry": None}
    values.update(kw)
    return DataSpec(**values)  # type: ignore[arg-type]


def test_npz_with_shape_and_bounds(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((30, 64)).astype(np.float32)
    y = np.arange(30) % 3
    np.savez(tmp_path / "tr.npz", x=x, y=y)
    np.savez(tmp_path / "te.npz", x=x[:10], y=y[:10])
    data = load_data(
        _spec(train=tmp_path / "tr.npz", test=tmp_path / "te.npz", input_shape=(1, 8, 8)), tmp_path
    )
    assert data.train.x.shape == (30, 1, 8, 8)
    assert data.image and data.n_classes == 3
    assert data.bounds[0] >= 0 and data.bounds[1] <= 1


def test_csv_string_labels_shared_between_splits(tmp_path: Path) -> None:
    (tmp_path / "tr.csv").write_text("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
    (tmp_path / "te.csv").write_text("a,b,label\n1,1,dog\n")
    data = load_data(_spec(train=tmp_path / "tr.csv", test=tmp_path / "te.csv"), tmp_path)
    assert data.train.classes == ("cat", "dog")
    assert data.train.y.tolist() == [0, 1, 0]
    assert data.holdout().y.tolist() == [1]
    assert not data.image


def test_parquet(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"f1": [0.1, 0.2, 0.3, 0.4], "f2": [1, 2, 3, 4], "label": [0, 1, 0, 1]})
    frame.to_parquet(tmp_path / "d.parquet")
    data = load_data(_spec(train=tmp_path / "d.parquet"), tmp_path)
    assert data.train.x.shape == (4, 2)


def test_nan_rows_are_an_error_naming_file_and_rows(tmp_path: Path) -> None:
    x = np.ones((6, 3), dtype=np.float32)
    x[2, 1] = np.nan
    x[4, 0] = np.inf
    np.savez(tmp_path / "tr.npz", x=x, y=np.arange(6) % 2)
    with pytest.raises(DataError) as err:
        load_data(_spec(train=tmp_path / "tr.npz"), tmp_path)
    text = str(err.value)
    assert "tr.npz" in text and "rows 2, 4" in text and "nan_policy" in text


def test_nan_rows_dropped_when_asked(tmp_path: Path) -> None:
    x = np.random.default_rng(1).random((6, 3)).astype(np.float32)
    x[2, 1] = np.nan
    np.savez(tmp_path / "tr.npz", x=x, y=np.arange(6) % 2)
    data = load_data(_spec(train=tmp_path / "tr.npz", nan_policy="drop"), tmp_path)
    assert len(data.train) == 5
    assert 2 not in data.train.ids.tolist()
    assert data.dropped[0][1] == (2,)


def test_shape_mismatch(tmp_path: Path) -> None:
    np.savez(tmp_path / "tr.npz", x=np.zeros((4, 10)), y=[0, 1, 0, 1])
    with pytest.raises(DataError, match=r"input_shape \[1, 8, 8\] needs 64"):
        load_data(_spec(train=tmp_path / "tr.npz", input_shape=(1, 8, 8)), tmp_path)


class _Payload:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))


def test_object_arrays_are_refused_not_unpickled(tmp_path: Path, marker_dir: Path) -> None:
    hostile = np.empty(2, dtype=object)
    hostile[0] = _Payload(inert_command(marker_dir))
    hostile[1] = 1
    np.save(tmp_path / "x.npy", hostile, allow_pickle=True)
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    with pytest.raises(DataError, match="object arrays are refused"):
        load_data(_spec(train=tmp_path / "x.npy", train_labels=tmp_path / "y.npy"), tmp_path)
    with (tmp_path / "p.pkl").open("wb") as handle:
        pickle.dump([1], handle)
    with pytest.raises(DataError, match="unsupported data format"):
        load_data(_spec(train=tmp_path / "p.pkl"), tmp_path)


def test_max_rows(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((50, 2)))
    np.save(tmp_path / "y.npy", np.arange(50) % 2)
    with pytest.raises(DataError, match="max_rows=10"):
        load_data(
            _spec(train=tmp_path / "x.npy", train_labels=tmp_path / "y.npy", max_rows=10), tmp_path
        )


def test_entry_point_loader(tmp_path: Path) -> None:
    (tmp_path / "loader_mod.py").write_text(
        "import numpy as np\n"
        "def load():\n"
        "    x = np.arange(40, dtype=float).reshape(20, 2)\n"
        "    return x, np.arange(20) % 2, x[:4], np.array([0, 1, 0, 1])\n"
    )
    data = load_data(_spec(entry="loader_mod:load"), tmp_path)
    assert len(data.train) == 20 and len(data.holdout()) == 4
