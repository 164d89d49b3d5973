"""Extra benign artifacts: scikit-learn estimators in non-default setups, training checkpoints,
PyTorch modules and file formats (see :mod:`tests.benign_real.gen_extra`)."""

from __future__ import annotations

import argparse
import collections
import datetime
import decimal
import fractions
import random
import types
import uuid
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

from tests.benign_real.base import Recorder
from tests.benign_real.gen_extra_common import _pickle, _torch_save, _xy


def _sklearn_models() -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
    from sklearn.ensemble import (
        BaggingClassifier,
        HistGradientBoostingClassifier,
        IsolationForest,
        StackingClassifier,
        VotingClassifier,
    )
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.feature_selection import SelectKBest, mutual_info_classif
    from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
    from sklearn.metrics import fbeta_score, make_scorer
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, TimeSeriesSplit
    from sklearn.neighbors import (
        BallTree,
        KDTree,
        KernelDensity,
        KNeighborsClassifier,
        LocalOutlierFactor,
        NearestNeighbors,
        RadiusNeighborsRegressor,
    )
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        OneHotEncoder,
        OrdinalEncoder,
        PolynomialFeatures,
        PowerTransformer,
        QuantileTransformer,
        SplineTransformer,
        StandardScaler,
        TargetEncoder,
    )
    from sklearn.svm import LinearSVC

    x, y, reg = _xy()
    frame = pd.DataFrame(
        {
            "age": x[:, 0] * 30,
            "income": x[:, 1] * 1000,
            "city": ["paris", "lyon", "nice", "lille"] * 20,
            "flag": ["y", "n"] * 40,
        }
    )
    text = ["a benign file", "scan the model", "the tiny model", "file of models"] * 20
    prep = ColumnTransformer(
        [
            ("log", FunctionTransformer(np.log1p, np.expm1, feature_names_out="one-to-one"),
             make_column_selector(dtype_include=np.number)),
            ("cat", OneHotEncoder(drop="first", min_frequency=2, sparse_output=False),
             make_column_selector(dtype_include=object)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )  # fmt: skip
    pandas_out = Pipeline([("prep", prep), ("scale", StandardScaler())]).set_output(
        transform="pandas"
    )
    models: dict[str, Any] = {
        "function_transformer": FunctionTransformer(np.log1p, inverse_func=np.expm1).fit(x),
        "transformed_target": TransformedTargetRegressor(
            LinearRegression(), func=np.log1p, inverse_func=np.expm1
        ).fit(x, reg),
        "calibrated_isotonic": CalibratedClassifierCV(LinearSVC(), method="isotonic", cv=3).fit(
            x, y
        ),
        "calibrated_sigmoid_single": CalibratedClassifierCV(
            LogisticRegression(), method="sigmoid", ensemble=False, cv=3
        ).fit(x, y),
        "knn_ball_tree": KNeighborsClassifier(3, algorithm="ball_tree", p=1).fit(x, y),
        "knn_kd_tree": KNeighborsClassifier(3, algorithm="kd_tree", weights="distance").fit(x, y),
        "nn_cosine": NearestNeighbors(metric="cosine", algorithm="brute").fit(x),
        "nn_haversine": NearestNeighbors(metric="haversine", algorithm="ball_tree").fit(x[:, :2]),
        "radius": RadiusNeighborsRegressor(radius=2.0).fit(x, reg),
        "ball_tree": BallTree(x, leaf_size=5, metric="chebyshev"),
        "kd_tree": KDTree(x, leaf_size=5),
        "kde": KernelDensity(kernel="epanechnikov", bandwidth=0.5).fit(x),
        "lof_novelty": LocalOutlierFactor(novelty=True, n_neighbors=5).fit(x),
        "isotonic_clip": IsotonicRegression(out_of_bounds="clip").fit(x[:, 0], reg),
        "hgb_categorical": HistGradientBoostingClassifier(
            max_iter=5,
            categorical_features=[3],
            early_stopping=True,
            scoring="f1",
            validation_fraction=0.2,
            n_iter_no_change=2,
        ).fit(np.column_stack([x[:, :3], np.arange(80) % 3]), y),
        "grid_scorer": GridSearchCV(
            LogisticRegression(),
            {"C": [0.1, 1.0]},
            scoring={"f2": make_scorer(fbeta_score, beta=2), "acc": "accuracy"},
            refit="f2",
            cv=StratifiedKFold(3, shuffle=True, random_state=0),
        ).fit(x, y),
        "gpr": GaussianProcessRegressor(ConstantKernel() * RBF() + WhiteKernel()).fit(x, reg),
        "gpc": GaussianProcessClassifier(Matern(nu=1.5)).fit(x[:30], y[:30]),
        "splines": make_pipeline(SplineTransformer(n_knots=4), PolynomialFeatures(2)).fit(x),
        "kbins": KBinsDiscretizer(
            n_bins=3, encode="onehot", quantile_method="averaged_inverted_cdf"
        ).fit(x),
        "quantile": QuantileTransformer(n_quantiles=20, output_distribution="normal").fit(x),
        "power": PowerTransformer(method="box-cox").fit(x),
        "target_encoder": TargetEncoder().fit(frame[["city"]], y),
        "ordinal_nan": OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan).fit(
            frame[["city", "flag"]]
        ),
        "pandas_output": pandas_out.fit(frame),
        "mlp_early": MLPClassifier((8,), early_stopping=True, max_iter=30).fit(x, y),
        "sgd_log": SGDClassifier(loss="log_loss", early_stopping=True).fit(x, y),
        "tfidf_english": TfidfVectorizer(
            stop_words="english", ngram_range=(1, 2), dtype=np.float32, sublinear_tf=True
        ).fit(text),
        "count_char": CountVectorizer(analyzer="char_wb", ngram_range=(2, 3), binary=True).fit(
            text
        ),
        "soft_voting": VotingClassifier(
            [("lr", LogisticRegression()), ("knn", KNeighborsClassifier(3))], voting="soft"
        ).fit(x, y),
        "stacking_passthrough": StackingClassifier(
            [("lr", LogisticRegression())], passthrough=True, cv=KFold(3)
        ).fit(x, y),
        "bagging_knn": BaggingClassifier(KNeighborsClassifier(3), n_estimators=3).fit(x, y),
        "isolation_forest": IsolationForest(n_estimators=5).fit(x),
        "select_mi": SelectKBest(mutual_info_classif, k=2).fit(x, y),
        "splitters": [
            KFold(3),
            StratifiedKFold(2, shuffle=True, random_state=1),
            TimeSeriesSplit(),
        ],
        "sparse_fit": LogisticRegression().fit(__import__("scipy.sparse").sparse.csr_matrix(x), y),
    }
    try:
        from sklearn.frozen import FrozenEstimator

        models["frozen"] = FrozenEstimator(LogisticRegression().fit(x, y))
    except ImportError:
        pass
    return models


def generate_sklearn(rec: Recorder) -> None:
    """Non-default scikit-learn configurations, pickled (every protocol) and joblib'd (lz4)."""
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = _sklearn_models()
    for index, (name, model) in enumerate(models.items()):
        _pickle(rec, f"sklearn/{name}.p{index % 6}.pkl", model, "scikit-learn", index % 6)
        if index % 2 == 0:
            joblib.dump(model, rec.path(f"sklearn/{name}.joblib.lz4"), compress=("lz4", 3))
            rec.add(f"sklearn/{name}.joblib.lz4", "scikit-learn", "joblib-lz4")


def _checkpoint() -> dict[str, Any]:
    import numpy as np

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path("runs/exp1"))
    args = parser.parse_args([])
    counts: collections.defaultdict[str, list[int]] = collections.defaultdict(list)
    counts["loss"].append(1)
    return {
        "args": args,
        "opt": types.SimpleNamespace(epochs=3, name="exp"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "when": datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 5, 1),
        "elapsed": datetime.timedelta(minutes=3),
        "fixed_tz": datetime.timezone(datetime.timedelta(hours=2), "CEST"),
        "save_dir": Path("runs/exp1/weights"),
        "pure_path": PurePosixPath("a/b"),
        "history": counts,
        "counter": collections.Counter("aabbc"),
        "recent": collections.deque([1, 2, 3], maxlen=5),
        "ordered": collections.OrderedDict(a=1),
        "best_fitness": np.float64(0.25),
        "epoch_metric": np.float32(0.5),
        "step": np.int64(7),
        "uuid": uuid.UUID(int=3),
        "decimal": decimal.Decimal("1.25"),
        "fraction": fractions.Fraction(1, 3),
        "py_random": random.Random(3).getstate(),
        "np_random": np.random.get_state(),
        "set": {1, 2},
        "frozenset": frozenset({"a"}),
        "range": range(3),
        "slice": slice(1, 5, 2),
        "complex": 1 + 2j,
        "bytearray": bytearray(b"ab"),
        "none": None,
        "ellipsis": ...,
    }


def generate_checkpoints(rec: Recorder) -> None:
    """A training checkpoint's typical side objects, pickled and torch.save'd (protocols 2-5)."""
    import numpy as np
    import torch

    state = _checkpoint()
    for protocol in range(6):
        _pickle(rec, f"checkpoint/state.p{protocol}.pkl", state, "python", protocol)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    full = {
        **state,
        "model": model,
        "ema": model.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "topk": torch.topk(torch.arange(5.0), 2),
        "svd": torch.linalg.svd(torch.eye(2)),
        "np_array": np.arange(3),
    }
    for protocol in (2, 3, 4, 5):
        _torch_save(
            rec, f"checkpoint/last.p{protocol}.pt", full, "checkpoint", pickle_protocol=protocol
        )
    _torch_save(
        rec, "checkpoint/last.legacy.p4.pt", full, "checkpoint-legacy",
        _use_new_zipfile_serialization=False, pickle_protocol=4,
    )  # fmt: skip


def _torch_modules() -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn.utils import prune

    old_wn = torch.nn.utils.weight_norm(nn.Linear(4, 4))
    old_sn = torch.nn.utils.spectral_norm(nn.Conv2d(1, 2, 3))
    pruned = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(1, 2, 3))
    prune.l1_unstructured(pruned[0], "weight", amount=0.3)
    prune.random_structured(pruned[1], "weight", amount=0.5, dim=0)
    prune.ln_structured(pruned[0], "weight", amount=0.25, n=2, dim=0)
    glob = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    prune.global_unstructured(
        [(glob[0], "weight"), (glob[1], "weight")], prune.L1Unstructured, amount=0.2
    )
    return {
        "old_weight_norm": old_wn,
        "old_spectral_norm": old_sn,
        "pruned": pruned,
        "global_pruned": glob,
        "gelu_encoder": nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True,
                                       norm_first=True),
            2, enable_nested_tensor=False,
        ),
        "conv3d": nn.Sequential(nn.Conv3d(1, 2, 2), nn.BatchNorm3d(2), nn.MaxPool3d(1),
                                nn.Dropout3d(), nn.ReflectionPad3d(1)),
        "misc": nn.Sequential(nn.Fold((4, 4), 2), nn.Unfold(2), nn.ChannelShuffle(1),
                              nn.RMSNorm(4), nn.CosineSimilarity(), nn.Threshold(0.1, 0.0)),
    }  # fmt: skip


class _QuantNet:
    @staticmethod
    def build() -> Any:
        import torch
        from torch import nn

        return nn.Sequential(
            torch.ao.quantization.QuantStub(),
            nn.Conv2d(1, 2, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(8, 2),
            torch.ao.quantization.DeQuantStub(),
        )


def generate_torch(rec: Recorder) -> None:
    """Hooks, pruning, QAT and static quantization, data utilities, distributions."""
    import torch
    import torch.ao.quantization as tq
    from torch.utils import data

    torch.manual_seed(0)
    for name, module in _torch_modules().items():
        _torch_save(rec, f"torch/{name}.pt", module, "whole-module")
        _torch_save(rec, f"torch/{name}.state.pt", module.state_dict(), "state-dict")
    qat = _QuantNet.build().train()
    qat.qconfig = tq.get_default_qat_qconfig("x86")
    tq.prepare_qat(qat, inplace=True)
    qat(torch.randn(2, 1, 4, 4))
    # NOTE: a prepared QAT model holds local functions: torch can only save its state dict.
    _torch_save(rec, "torch/qat_prepared.state.pt", qat.state_dict(), "state-dict")
    static = _QuantNet.build().eval()
    static.qconfig = tq.get_default_qconfig("x86")
    tq.prepare(static, inplace=True)
    static(torch.randn(2, 1, 4, 4))
    tq.convert(static, inplace=True)
    _torch_save(rec, "torch/static_quantized.pt", static, "whole-module")
    _torch_save(rec, "torch/static_quantized.state.pt", static.state_dict(), "state-dict")
    qconfigs = {"qat": tq.get_default_qat_qconfig("x86"), "ptq": tq.default_dynamic_qconfig}
    _torch_save(rec, "torch/qconfigs.pt", qconfigs, "qconfig")
    dataset = data.TensorDataset(torch.randn(10, 3), torch.arange(10))
    parts = data.random_split(dataset, [0.8, 0.2], generator=torch.Generator().manual_seed(1))
    utilities = {
        "dataset": dataset,
        "subset": parts[0],
        "concat": data.ConcatDataset([dataset, dataset]),
        "random_sampler": data.RandomSampler(dataset, generator=torch.Generator()),
        "weighted_sampler": data.WeightedRandomSampler([0.1] * 10, 5),
        "batch_sampler": data.BatchSampler(data.SequentialSampler(dataset), 4, drop_last=False),
        "loader": data.DataLoader(dataset, batch_size=4, shuffle=True),
    }
    _torch_save(rec, "torch/data_utils.pt", utilities, "data-utilities")
    dist = torch.distributions
    dists = {
        "mvn": dist.MultivariateNormal(torch.zeros(2), torch.eye(2)),
        "lognormal": dist.LogNormal(0.0, 1.0),
        "independent": dist.Independent(dist.Normal(torch.zeros(3), 1.0), 1),
        "mixture": dist.MixtureSameFamily(
            dist.Categorical(torch.ones(2)), dist.Normal(torch.zeros(2), torch.ones(2))
        ),
        "beta": dist.Beta(2.0, 3.0),
        "dirichlet": dist.Dirichlet(torch.ones(3)),
        "bernoulli": dist.Bernoulli(probs=torch.tensor(0.3)),
        "affine": dist.TransformedDistribution(
            dist.Normal(0.0, 1.0), [dist.transforms.AffineTransform(1.0, 2.0)]
        ),
    }
    _torch_save(rec, "torch/distributions_more.pt", dists, "distributions")
    opt = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    _torch_save(rec, "torch/optimizer_object.pt", opt, "optimizer-object")
    extra_dtypes = {
        name: torch.zeros(4, dtype=getattr(torch, name))
        for name in ("complex32", "float8_e8m0fnu", "float8_e4m3fnuz")
        if hasattr(torch, name)
    }
    _torch_save(rec, "torch/extra_dtypes.pt", extra_dtypes, "tensors")


def generate_torch_formats(rec: Recorder) -> None:
    """Lite-interpreter TorchScript, TorchScript with extra files and frozen, export with
    dynamic shapes and buffers, and a distributed checkpoint directory."""
    import torch
    import torch.distributed.checkpoint as dcp
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).eval()
    scripted = torch.jit.script(model)
    scripted._save_for_lite_interpreter(str(rec.path("torchscript/lite.ptl")))
    rec.add("torchscript/lite.ptl", "torch", "torchscript-lite")
    torch.jit.save(
        scripted, str(rec.path("torchscript/extra.pt")), _extra_files={"meta.json": '{"v": 1}'}
    )
    rec.add("torchscript/extra.pt", "torch", "torchscript")
    torch.jit.save(torch.jit.freeze(scripted), str(rec.path("torchscript/frozen.pt")))
    rec.add("torchscript/frozen.pt", "torch", "torchscript")
    lstm = torch.jit.script(nn.LSTM(4, 4, batch_first=True))
    torch.jit.save(lstm, str(rec.path("torchscript/lstm.pt")))
    rec.add("torchscript/lstm.pt", "torch", "torchscript")
    dyn = torch.ao.quantization.quantize_dynamic(nn.Sequential(nn.Linear(4, 4)), {nn.Linear})
    torch.jit.save(torch.jit.script(dyn), str(rec.path("torchscript/quantized_dynamic.pt")))
    rec.add("torchscript/quantized_dynamic.pt", "torch", "torchscript")
    batch = torch.export.Dim("batch", min=2, max=64)
    program = torch.export.export(model, (torch.randn(4, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(rec.path("export/dynamic.pt2")))
    rec.add("export/dynamic.pt2", "torch", "torch-export")
    state = {"model": nn.Linear(4, 4).state_dict(), "step": 3, "note": "dcp"}
    dcp.save(state, checkpoint_id=str(rec.path("dcp/step3")))
    rec.add("dcp/step3", "torch.distributed.checkpoint", "dcp")
