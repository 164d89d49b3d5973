"""Real framework saves must come out clean: the allowlist profiles are what keeps bastion quiet."""

from __future__ import annotations

import argparse
import datetime
import pathlib
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from bastion.scan.engine import scan


def _sklearn_models() -> dict[str, object]:
    from sklearn import (
        cluster,
        decomposition,
        ensemble,
        feature_extraction,
        impute,
        linear_model,
        naive_bayes,
        neighbors,
        neural_network,
        pipeline,
        preprocessing,
        svm,
        tree,
    )
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    models: dict[str, object] = {
        "rf": ensemble.RandomForestClassifier(n_estimators=3, random_state=0),
        "gb": ensemble.GradientBoostingClassifier(n_estimators=3),
        "hgb": ensemble.HistGradientBoostingClassifier(max_iter=3),
        "iso": ensemble.IsolationForest(n_estimators=3, random_state=0),
        "lr": linear_model.LogisticRegression(max_iter=300),
        "svc": svm.SVC(probability=True, random_state=0),
        "kd": neighbors.KNeighborsClassifier(algorithm="kd_tree"),
        "ball": neighbors.KNeighborsClassifier(algorithm="ball_tree"),
        "kmeans": cluster.KMeans(n_clusters=3, n_init=1, random_state=0),
        "pca": decomposition.PCA(2),
        "tree": tree.DecisionTreeRegressor(),
        "nb": naive_bayes.GaussianNB(),
        "mlp": neural_network.MLPClassifier(max_iter=5, random_state=0),
        "pipe": pipeline.make_pipeline(
            impute.SimpleImputer(),
            preprocessing.FunctionTransformer(np.log1p),
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(max_iter=300),
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in models.values():
            model.fit(x, y)  # type: ignore[attr-defined]
    text = feature_extraction.text.TfidfVectorizer().fit(["a model", "another model here"])
    models["tfidf"] = text
    return models


@pytest.fixture(scope="module")
def sklearn_models() -> dict[str, object]:
    return _sklearn_models()


def _assert_clean(path: Path) -> None:
    result = scan(path)
    assert not result.findings, [(f.location.display(), f.message) for f in result.findings]
    assert not result.skipped, result.skipped


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_sklearn_pickles_are_clean(
    tmp_path: Path, sklearn_models: dict[str, object], protocol: int
) -> None:
    for name, model in sklearn_models.items():
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(model, protocol=protocol))
    _assert_clean(tmp_path)


@pytest.mark.parametrize(
    "compress", [0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("lzma", 3), ("xz", 3)]
)
def test_joblib_dumps_are_clean(
    tmp_path: Path, sklearn_models: dict[str, object], compress: object
) -> None:
    for name in ("rf", "pipe", "kd", "hgb"):
        joblib.dump(sklearn_models[name], tmp_path / f"{name}.joblib", compress=compress)
    _assert_clean(tmp_path)


def test_joblib_with_many_inline_arrays_is_followed_to_the_end(tmp_path: Path) -> None:
    arrays = {f"a{i}": np.random.default_rng(i).random((7, i + 1)) for i in range(20)}
    arrays["strings"] = np.array(["x", "yy"], dtype=object)
    arrays["fortran"] = np.asfortranarray(np.ones((3, 4), dtype=np.float32))
    arrays["struct"] = np.zeros(3, dtype=[("x", "<f4"), ("y", "<i8"), ("s", "U3")])
    joblib.dump(arrays, tmp_path / "arrays.joblib")
    _assert_clean(tmp_path)


def test_pandas_frames_are_clean(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "s": ["a", "b", "c"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).tz_localize("UTC"),
            "c": pd.Categorical(["x", "y", "x"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "d": pd.to_timedelta([1, 2, 3], unit="D"),
        }
    ).set_index(["i", "s"])
    for protocol in (2, 4, 5):
        (tmp_path / f"frame{protocol}.pkl").write_bytes(pickle.dumps(frame, protocol=protocol))
    frame.to_pickle(tmp_path / "frame.pkl.gz")
    _assert_clean(tmp_path)


def test_numpy_files_are_clean(tmp_path: Path) -> None:
    np.save(tmp_path / "plain.npy", np.arange(12).reshape(3, 4))
    np.save(tmp_path / "struct.npy", np.zeros(2, dtype=[("a", "<f8"), ("b", "S4")]))
    np.savez(tmp_path / "many.npz", a=np.ones(3), b=np.eye(2))
    np.savez_compressed(tmp_path / "small.npz", a=np.arange(1000))
    (tmp_path / "misc.pkl").write_bytes(
        pickle.dumps(
            {
                "rng": np.random.RandomState(0),
                "gen": np.random.default_rng(0),
                "scalar": np.float32(1.5),
                "dtype": np.dtype([("x", "<f4")]),
                "ufunc": np.add,
                "masked": np.ma.masked_array([1, 2], mask=[0, 1]),
            }
        )
    )
    _assert_clean(tmp_path)


def test_checkpoint_like_dicts_are_clean(tmp_path: Path) -> None:
    ckpt = {
        "args": argparse.Namespace(lr=0.1, out=pathlib.Path("/tmp/run")),
        "when": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        "sets": {frozenset({1, 2}), 3},
        "bytes": b"\x00\x01" * 300,
        "nested": [[{"k": (1.0, None, True)}]],
    }
    for protocol in range(6):
        (tmp_path / f"ckpt{protocol}.pkl").write_bytes(pickle.dumps(ckpt, protocol=protocol))
    _assert_clean(tmp_path)


def test_dill_and_cloudpickle_of_data_are_clean(tmp_path: Path) -> None:
    import cloudpickle
    import dill

    data = {"a": [1, 2, np.arange(3)], "b": np.eye(2)}
    (tmp_path / "d.pkl").write_bytes(dill.dumps(data))
    (tmp_path / "c.pkl").write_bytes(cloudpickle.dumps(data))
    _assert_clean(tmp_path)


torch = pytest.importorskip("torch")


def _torch_saves(tmp_path: Path) -> dict[str, Callable[[Path], None]]:
    nn = torch.nn

    net = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2)
    )
    net(torch.zeros(1, 3, 8, 8))
    rnn = nn.LSTM(4, 8, batch_first=True)
    opt = torch.optim.AdamW(net.parameters())
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    return {
        "state_dict.pt": lambda p: torch.save(net.state_dict(), p),
        "legacy.pt": lambda p: torch.save(
            rnn.state_dict(), p, _use_new_zipfile_serialization=False
        ),
        "whole.pt": lambda p: torch.save(net, p),
        "checkpoint.pt": lambda p: torch.save(
            {
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": 3,
                "args": argparse.Namespace(lr=1e-3),
                "best": np.float64(0.9),
            },
            p,
        ),
        "transformer.pt": lambda p: torch.save(nn.TransformerEncoderLayer(16, 2).state_dict(), p),
        "sparse.pt": lambda p: torch.save({"s": torch.eye(3).to_sparse()}, p),
        "bf16.pt": lambda p: torch.save({"w": torch.ones(4, dtype=torch.bfloat16)}, p),
    }


def test_torch_saves_are_clean(tmp_path: Path) -> None:
    for name, save in _torch_saves(tmp_path).items():
        save(tmp_path / name)
    _assert_clean(tmp_path)


def test_torch_module_of_the_project_is_visible_but_does_not_block(tmp_path: Path) -> None:
    from tests.formats.pickle.torch_project import ProjectNet

    torch.save(ProjectNet(), tmp_path / "project.pt")
    result = scan(tmp_path)
    assert {f.rule_id for f in result.findings} == {"BST-PKL-003"}
    assert all(f.severity.label == "medium" for f in result.findings)
    assert "tests.formats.pickle.torch_project.ProjectNet" in {
        f.properties["global"] for f in result.findings
    }
