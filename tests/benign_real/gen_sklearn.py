"""scikit-learn estimators across the library, statsmodels results, and skops files.

Every estimator ``sklearn.utils.all_estimators`` lists that fits on a tiny data set with its
defaults (plus a few that need arguments) is pickled, a rotating subset also joblib-dumped under
every compression joblib offers, and a few pipelines are written with ``skops.io.dump``.
statsmodels results are saved with their own ``save`` (a pickle), as users do.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from typing import Any

from tests.benign_real.base import Recorder

_COMPRESSIONS: tuple[tuple[str, object], ...] = (
    ("joblib", 0),
    ("joblib", 3),
    ("joblib.gz", ("gzip", 3)),
    ("joblib.bz2", ("bz2", 3)),
    ("joblib.xz", ("xz", 3)),
    ("joblib.lzma", ("lzma", 3)),
    ("joblib.z", ("zlib", 6)),
)

#: Constructor arguments for estimators that cannot be built from defaults alone.
_NEEDS_ARGS = {
    "ClassifierChain": "base_estimator",
    "MultiOutputClassifier": "estimator",
    "MultiOutputRegressor": "estimator",
    "OneVsOneClassifier": "estimator",
    "OneVsRestClassifier": "estimator",
    "OutputCodeClassifier": "estimator",
    "RegressorChain": "base_estimator",
    "RFE": "estimator",
    "RFECV": "estimator",
    "SelectFromModel": "estimator",
    "SequentialFeatureSelector": "estimator",
    "SelfTrainingClassifier": "estimator",
    "FixedThresholdClassifier": "estimator",
    "TunedThresholdClassifierCV": "estimator",
}


def _data() -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal((60, 4))) + 0.1
    y = (x[:, 0] > x[:, 1]).astype(int)
    return {
        "x": x,
        "y": y,
        "multi": np.stack([y, 1 - y], axis=1),
        "reg": x[:, 0] * 3 + x[:, 2],
        "text": ["a benign file", "scan the model", "a tiny model", "file of a model"] * 15,
    }


def _fit(name: str, cls: Any, kind: str, data: dict[str, Any]) -> Any:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    base = LogisticRegression() if kind == "classifier" else LinearRegression()
    if name in _NEEDS_ARGS:
        est = cls(**{_NEEDS_ARGS[name]: base})
    elif name in {"VotingClassifier", "StackingClassifier"}:
        est = cls([("a", LogisticRegression()), ("b", LogisticRegression(C=0.5))])
    elif name in {"VotingRegressor", "StackingRegressor"}:
        est = cls([("a", LinearRegression()), ("b", LinearRegression(fit_intercept=False))])
    elif name in {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV"}:
        est = cls(base, {"fit_intercept": [True, False]}, cv=2)
    elif name == "ColumnTransformer":
        from sklearn.preprocessing import StandardScaler

        est = cls([("num", StandardScaler(), [0, 1])])
    elif name == "FeatureUnion":
        from sklearn.decomposition import PCA

        est = cls([("pca", PCA(1))])
    elif name == "Pipeline":
        from sklearn.preprocessing import StandardScaler

        est = cls([("scale", StandardScaler()), ("model", base)])
    else:
        est = cls()
    x, y = data["x"], data["y"]
    if name in {"MultiOutputClassifier", "ClassifierChain"}:
        return est.fit(x, data["multi"])
    if name in {"MultiOutputRegressor", "RegressorChain"}:
        return est.fit(x, data["multi"].astype(float))
    if name in {"CountVectorizer", "TfidfVectorizer", "HashingVectorizer"}:
        return est.fit(data["text"])
    if name in {"DictVectorizer", "FeatureHasher"}:
        rows = [{"a": float(v[0]), "b": float(v[1])} for v in x]
        return est.fit(rows)
    if name in {"LabelEncoder", "LabelBinarizer"}:
        return est.fit(y)
    if name == "MultiLabelBinarizer":
        return est.fit([["a", "b"], ["c"]])
    if kind in {"classifier", "regressor"}:
        return est.fit(x, y if kind == "classifier" else data["reg"])
    try:
        return est.fit(x, y)
    except TypeError:
        return est.fit(x)


def _estimators() -> Iterator[tuple[str, Any]]:
    from sklearn.utils import all_estimators

    data = _data()
    seen: set[str] = set()
    for kind in ("classifier", "regressor", "transformer", "cluster"):
        for name, cls in all_estimators(type_filter=kind):
            if name in seen:
                continue
            seen.add(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fitted = _fit(name, cls, kind, data)
                except Exception:  # estimators that need special data are left out
                    continue
            yield name, fitted


def generate_estimators(rec: Recorder) -> None:
    """Pickle every estimator that fits; joblib-dump every third one."""
    import joblib

    for index, (name, estimator) in enumerate(_estimators()):
        protocol = 2 + index % 4
        rel = f"sklearn/{name}.p{protocol}.pkl"
        rec.path(rel).write_bytes(pickle.dumps(estimator, protocol=protocol))
        rec.add(rel, "scikit-learn", f"pickle-p{protocol}")
        if index % 3 == 0:
            ext, compress = _COMPRESSIONS[(index // 3) % len(_COMPRESSIONS)]
            rel = f"sklearn-joblib/{name}.{ext}"
            joblib.dump(estimator, rec.path(rel), compress=compress)  # type: ignore[arg-type]
            rec.add(rel, "scikit-learn", f"joblib-{ext}")


def _pipeline() -> Any:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = pd.DataFrame(
        {"age": [20, 30, None, 50] * 10, "city": ["a", "b", "c", "a"] * 10, "v": [1.0] * 40}
    )
    prep = ColumnTransformer(
        [
            ("num", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), ["age", "v"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", HistGradientBoostingClassifier(max_iter=3))])
    return model.fit(frame, [0, 1, 1, 0] * 10)


def generate_skops(rec: Recorder) -> None:
    """skops files of a pipeline, a forest and a text model."""
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline

    data = _data()
    models = {
        "pipeline": _pipeline(),
        "forest": RandomForestClassifier(n_estimators=3).fit(data["x"], data["y"]),
        "text": make_pipeline(TfidfVectorizer(), SGDClassifier()).fit(
            data["text"], [0, 1, 0, 1] * 15
        ),
    }
    for name, model in models.items():
        sio.dump(model, rec.path(f"skops/{name}.skops"))
        rec.add(f"skops/{name}.skops", "skops", "skops")


def _statsmodels_results() -> Iterator[tuple[str, Any]]:
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    rng = np.random.default_rng(3)
    x = sm.add_constant(rng.standard_normal((50, 2)))
    y = x @ [1.0, 2.0, -1.0] + rng.standard_normal(50) * 0.1
    yield "ols", sm.OLS(y, x).fit()
    yield "wls", sm.WLS(y, x, weights=np.ones(50)).fit()
    binary = (y > y.mean()).astype(float)
    yield "logit", sm.Logit(binary, x).fit(disp=0, maxiter=200)
    yield "glm_poisson", sm.GLM(np.abs(np.round(y)), x, family=sm.families.Poisson()).fit()
    frame = pd.DataFrame({"y": y, "a": x[:, 1], "g": ["u", "v"] * 25})
    yield "formula_ols", smf.ols("y ~ a + C(g)", data=frame).fit()
    series = pd.Series(
        np.sin(np.arange(48) / 4) + 2, index=pd.date_range("2020-01-01", periods=48, freq="MS")
    )
    yield "arima", ARIMA(series, order=(1, 0, 0)).fit()
    yield "holt_winters", ExponentialSmoothing(series, trend="add").fit()


def generate_statsmodels(rec: Recorder) -> None:
    """statsmodels results saved with ``results.save`` (and with ``remove_data``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, result in _statsmodels_results():
            result.save(str(rec.path(f"statsmodels/{name}.pickle")))
            rec.add(f"statsmodels/{name}.pickle", "statsmodels", "pickle")
        _, ols = next(iter(_statsmodels_results()))
        ols.save(str(rec.path("statsmodels/ols-small.pickle")), remove_data=True)
        rec.add("statsmodels/ols-small.pickle", "statsmodels", "pickle")


def generate(rec: Recorder) -> None:
    """Every scikit-learn, skops and statsmodels artifact of this module."""
    generate_estimators(rec)
    generate_skops(rec)
    generate_statsmodels(rec)
