"""Benign scikit-learn (and XGBoost/LightGBM wrapper) models, pickled and dumped with joblib.

Each estimator is fitted on a tiny synthetic data set, then written with ``pickle`` (protocols
2 to 5 in turn) and, for a rotating subset, with ``joblib`` under every compression it offers.
XGBoost and LightGBM are optional: when they are not installed their samples are left out.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from typing import Any

from tests.corpus.sample import CorpusWriter

#: joblib ``compress`` settings cycled over the estimators (file suffix, argument).
_JOBLIB_COMPRESSION: tuple[tuple[str, object], ...] = (
    (".joblib", 0),
    (".joblib", 3),
    (".joblib.gz", ("gzip", 3)),
    (".joblib.bz2", ("bz2", 3)),
    (".joblib.xz", ("xz", 3)),
    (".joblib.lzma", ("lzma", 3)),
    (".joblib.z", ("zlib", 6)),
    (".pkl", ("lzma", 1)),
)


def _data() -> tuple[Any, Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 80),
            "income": rng.standard_normal(80) * 1000,
            "city": rng.choice(["paris", "lyon", "nice"], 80),
        }
    )
    return x, y, frame


def _estimators() -> Iterator[tuple[str, Any]]:
    from sklearn import cluster, decomposition, ensemble, linear_model, neighbors, svm, tree
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y, frame = _data()
    yield "random_forest", ensemble.RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    yield "gradient_boosting", ensemble.GradientBoostingClassifier(n_estimators=5).fit(x, y)
    yield "hist_gradient_boosting", ensemble.HistGradientBoostingClassifier(max_iter=5).fit(x, y)
    yield "logistic_regression", linear_model.LogisticRegression().fit(x, y)
    yield "svc", svm.SVC(kernel="rbf").fit(x, y)
    yield "knn_kd_tree", neighbors.KNeighborsClassifier(algorithm="kd_tree").fit(x, y)
    yield "knn_ball_tree", neighbors.KNeighborsClassifier(algorithm="ball_tree").fit(x, y)
    yield "kmeans", cluster.KMeans(n_clusters=3, n_init=1, random_state=0).fit(x)
    yield "pca", decomposition.PCA(n_components=2).fit(x)
    corpus = ["the model is safe", "the file is a pickle", "scan every model file"] * 3
    yield "tfidf", TfidfVectorizer().fit(corpus)
    yield "one_hot", OneHotEncoder(handle_unknown="ignore").fit(frame[["city"]])
    yield "standard_scaler", StandardScaler().fit(x)
    yield "isolation_forest", ensemble.IsolationForest(n_estimators=10, random_state=0).fit(x)
    yield "mlp", MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(x, y)
    yield "decision_tree", tree.DecisionTreeRegressor(max_depth=3).fit(x, x[:, 0])
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    yield (
        "column_pipeline",
        Pipeline([("prep", columns), ("clf", linear_model.LogisticRegression())]).fit(frame, y),
    )
    yield "scaled_ridge", make_pipeline(StandardScaler(), linear_model.Ridge()).fit(x, x[:, 1])
    yield from _boosters(x, y)


def _boosters(x: Any, y: Any) -> Iterator[tuple[str, Any]]:
    try:
        import xgboost
    except ImportError:
        pass
    else:
        yield "xgboost_classifier", xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    try:
        import lightgbm
    except ImportError:
        pass
    else:
        model = lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1)
        yield "lightgbm_classifier", model.fit(x, y)


def generate(w: CorpusWriter) -> None:
    """Write the estimators under ``sklearn/`` (pickle family) and ``joblib/benign/``."""
    pickles, dumps = w.wants("pickle"), w.wants("joblib")
    if not (pickles or dumps):
        return
    import joblib

    with warnings.catch_warnings():
        # Tiny training sets make some estimators warn about convergence; irrelevant here.
        warnings.simplefilter("ignore")
        estimators = list(_estimators())
    for index, (key, estimator) in enumerate(estimators):
        protocol = 2 + index % 4
        if pickles:
            name = f"sklearn/{key}.p{protocol}.pkl"
            w.add(
                name,
                pickle.dumps(estimator, protocol=protocol),
                label="benign",
                family="pickle",
                technique=f"{type(estimator).__name__} pickled, protocol {protocol}",
            )
        if dumps and index % 2 == 0:
            suffix, compress = _JOBLIB_COMPRESSION[(index // 2) % len(_JOBLIB_COMPRESSION)]
            name = f"joblib/benign/{key}{suffix}"
            joblib.dump(estimator, w.path(name), compress=compress)  # type: ignore[arg-type]
            w.add(
                name,
                None,
                label="benign",
                family="joblib",
                technique=f"{type(estimator).__name__} joblib.dump(compress={compress!r})",
            )
