"""Benign data files: NumPy arrays, pandas objects, plain data via pickle, dill and cloudpickle.

These are the everyday files next to models (feature statistics, label maps, cached frames)
that a scanner must not flag.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import io
import pickle
from typing import Any

from tests.corpus.sample import CorpusWriter


def _numpy(w: CorpusWriter) -> None:
    import numpy as np

    def add(name: str, data: bytes, technique: str) -> None:
        w.add(f"numpy/benign/{name}", data, label="benign", family="numpy", technique=technique)

    def npy(array: Any) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()

    rng = np.random.default_rng(0)
    add("float32.npy", npy(rng.standard_normal((32, 8)).astype(np.float32)), ".npy float32 matrix")
    add("int64.npy", npy(np.arange(1000, dtype=np.int64)), ".npy int64 vector")
    add("fortran.npy", npy(np.asfortranarray(rng.standard_normal((6, 4)))), ".npy Fortran order")
    structured = np.zeros(5, dtype=[("id", "<i4"), ("score", "<f8"), ("tag", "S8")])
    add("structured.npy", npy(structured), ".npy structured dtype")
    wide = np.zeros(1, dtype=[(f"field_{i:05d}", "<f4") for i in range(4000)])
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, wide, version=(2, 0))
    add("wide_header_v2.npy", buffer.getvalue(), ".npy with a version 2.0 header")
    for name, save in (("arrays.npz", np.savez), ("arrays_compressed.npz", np.savez_compressed)):
        buffer = io.BytesIO()
        save(
            buffer, weights=rng.standard_normal((4, 4)), labels=np.arange(4), mask=np.ones(4, bool)
        )
        add(name, buffer.getvalue(), f"{save.__name__} of three arrays")


def _pandas(w: CorpusWriter) -> None:
    import numpy as np
    import pandas as pd

    def add(name: str, obj: object, protocol: int, technique: str) -> None:
        data = pickle.dumps(obj, protocol=protocol)
        w.add(f"pandas/{name}", data, label="benign", family="pickle", technique=technique)

    frame = pd.DataFrame(
        {
            "label": pd.Categorical(["cat", "dog", "cat", "bird"]),
            "when": pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC"),
            "score": [0.1, 0.5, 0.9, 0.3],
            "count": np.arange(4, dtype=np.int32),
        }
    )
    add("frame_categorical_datetime.pkl", frame, 4, "DataFrame with categorical and tz datetimes")
    index = pd.MultiIndex.from_product([["train", "test"], [1, 2, 3]], names=["split", "fold"])
    add(
        "frame_multiindex.pkl",
        pd.DataFrame({"acc": np.linspace(0.8, 0.9, 6)}, index=index),
        5,
        "MultiIndex DataFrame",
    )
    series = pd.Series([1.5, None, 3.0], index=pd.Index(["a", "b", "c"]), name="feature_mean")
    add("series.pkl", series, 2, "Series with missing values")
    deltas = pd.Series(pd.to_timedelta([1, 2, 3], unit="h"))
    add("timedeltas.pkl", deltas, 3, "Series of timedeltas")


def _plain() -> dict[str, Any]:
    return {
        "labels": ["negative", "neutral", "positive"],
        "vocab": collections.OrderedDict((f"tok{i}", i) for i in range(20)),
        "counts": collections.Counter("mississippi"),
        "created": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
        "threshold": decimal.Decimal("0.75"),
        "shape": (3, 224, 224),
        "flags": frozenset({"fp16", "ema"}),
        "blob": b"\x00\x01binary",
        "ratio": complex(1, 2),
        "ranges": [range(0, 10, 2), slice(1, 5)],
    }


def _serializers(w: CorpusWriter) -> None:
    import numpy as np

    data = _plain()
    for protocol in (0, 1, 5):
        name = f"plain/label_map.p{protocol}.pkl"
        w.add(
            name,
            pickle.dumps(data, protocol=protocol),
            label="benign",
            family="pickle",
            technique=f"plain Python data, protocol {protocol}",
        )
    with_arrays = {"mean": np.zeros(8), "std": np.ones(8), "names": data["labels"]}
    try:
        import dill
    except ImportError:
        pass
    else:
        w.add(
            "plain/stats.dill",
            dill.dumps(with_arrays),
            label="benign",
            family="pickle",
            technique="dill of plain data and arrays",
        )
    try:
        import cloudpickle
    except ImportError:
        pass
    else:
        w.add(
            "plain/stats.cloudpkl",
            cloudpickle.dumps(with_arrays),
            label="benign",
            family="pickle",
            technique="cloudpickle of plain data and arrays",
        )
    w.add(
        "plain/scalars.pkl",
        pickle.dumps([np.float32(1.5), np.int64(7), np.bool_(True)], protocol=4),
        label="benign",
        family="pickle",
        technique="NumPy scalars",
    )


def _archives(w: CorpusWriter) -> None:
    import gzip
    import tarfile
    import zipfile

    import numpy as np

    def add(name: str, data: bytes, technique: str) -> None:
        w.add(f"archive/benign/{name}", data, label="benign", family="archive", technique=technique)

    labels = pickle.dumps(_plain(), protocol=4)
    config = b'{"hidden_size": 16, "num_labels": 3}'
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(3, 4))
    array = buffer.getvalue()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model/config.json", config)
        archive.writestr("model/labels.pkl", labels)
        archive.writestr("model/embeddings.npy", array)
    add("model_bundle.zip", buffer.getvalue(), "zip of config, label pickle and array")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in (("export/config.json", config), ("export/stats.npy", array)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    add("export.tar.gz", buffer.getvalue(), "tar.gz of config and array")
    add("labels.pkl.gz", gzip.compress(labels), "gzip-compressed plain pickle")
    try:
        import py7zr
    except ImportError:
        return
    path = w.path("archive/benign/arrays.7z")
    with py7zr.SevenZipFile(path, "w") as seven:
        seven.writestr(array, "arrays/stats.npy")
        seven.writestr(config, "arrays/config.json")
    w.add(
        "archive/benign/arrays.7z",
        None,
        label="benign",
        family="archive",
        technique="7z of array and config",
    )


def generate(w: CorpusWriter) -> None:
    """Write the benign NumPy, pandas, plain-data and archive samples."""
    if w.wants("numpy"):
        _numpy(w)
    if w.wants("archive"):
        _archives(w)
    if w.wants("pickle"):
        _pandas(w)
        _serializers(w)
