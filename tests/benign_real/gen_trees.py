"""Gradient-boosting libraries: XGBoost, LightGBM and CatBoost, wrappers and native formats.

Each library's scikit-learn wrappers are pickled and joblib-dumped (what ``mlflow`` and most
training scripts write), its raw booster is pickled, and its native model files are written with
the library's own ``save_model`` (XGBoost JSON/UBJSON, LightGBM text, CatBoost ``.cbm``/JSON).
"""

from __future__ import annotations

import pickle
from typing import Any

from tests.benign_real.base import Recorder


def _data() -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(1)
    x = rng.standard_normal((120, 6)).astype("float32")
    y = (x[:, 0] - x[:, 2] > 0).astype(int)
    return x, y, x[:, 1] * 2.0 + x[:, 3]


def _dump(rec: Recorder, stem: str, obj: Any, library: str) -> None:
    import joblib

    with rec.path(f"{stem}.pkl").open("wb") as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
    rec.add(f"{stem}.pkl", library, "pickle")
    joblib.dump(obj, rec.path(f"{stem}.joblib"), compress=3)
    rec.add(f"{stem}.joblib", library, "joblib")


def generate_xgboost(rec: Recorder) -> None:
    """XGBoost wrappers (classifier, regressor, ranker, random forest) and booster files."""
    import xgboost as xgb

    x, y, target = _data()
    models = {
        "classifier": xgb.XGBClassifier(n_estimators=4, max_depth=2).fit(x, y),
        "regressor": xgb.XGBRegressor(n_estimators=4, max_depth=2).fit(x, target),
        "rf": xgb.XGBRFClassifier(n_estimators=4, max_depth=2).fit(x, y),
        "ranker": xgb.XGBRanker(n_estimators=3).fit(x, y, qid=[i // 20 for i in range(120)]),
    }
    for name, model in models.items():
        _dump(rec, f"xgboost/{name}", model, "xgboost")
    booster = models["classifier"].get_booster()
    _dump(rec, "xgboost/booster", booster, "xgboost")
    for ext in ("json", "ubj"):
        booster.save_model(str(rec.path(f"xgboost/booster.{ext}")))
        rec.add(f"xgboost/booster.{ext}", "xgboost", f"xgboost-{ext}")
    models["regressor"].save_model(str(rec.path("xgboost/regressor.json")))
    rec.add("xgboost/regressor.json", "xgboost", "xgboost-json")
    raw = booster.save_raw(raw_format="deprecated") if _has_deprecated(booster) else None
    if raw is not None:
        rec.path("xgboost/booster.model").write_bytes(bytes(raw))
        rec.add("xgboost/booster.model", "xgboost", "xgboost-binary")
    dtrain = xgb.DMatrix(x, label=y)
    dtrain.save_binary(str(rec.path("xgboost/train.buffer")))
    rec.add("xgboost/train.buffer", "xgboost", "xgboost-dmatrix")


def _has_deprecated(booster: Any) -> bool:
    try:
        booster.save_raw(raw_format="deprecated")
    except Exception:
        return False
    return True


def generate_lightgbm(rec: Recorder) -> None:
    """LightGBM wrappers and booster text/JSON dumps."""
    import json

    import lightgbm as lgb

    x, y, target = _data()
    common = {"n_estimators": 4, "min_child_samples": 5, "verbose": -1}
    models = {
        "classifier": lgb.LGBMClassifier(**common).fit(x, y),
        "regressor": lgb.LGBMRegressor(**common).fit(x, target),
        "ranker": lgb.LGBMRanker(**common).fit(x, y, group=[20] * 6),
    }
    for name, model in models.items():
        _dump(rec, f"lightgbm/{name}", model, "lightgbm")
    booster = models["classifier"].booster_
    _dump(rec, "lightgbm/booster", booster, "lightgbm")
    booster.save_model(str(rec.path("lightgbm/model.txt")))
    rec.add("lightgbm/model.txt", "lightgbm", "lightgbm-text")
    rec.path("lightgbm/model.json").write_text(json.dumps(booster.dump_model()))
    rec.add("lightgbm/model.json", "lightgbm", "lightgbm-json")
    dataset = lgb.Dataset(x, label=y, params={"verbose": -1})
    dataset.save_binary(str(rec.path("lightgbm/train.bin")))
    rec.add("lightgbm/train.bin", "lightgbm", "lightgbm-dataset")


def generate_catboost(rec: Recorder) -> None:
    """CatBoost wrappers (with a categorical feature) and native model files."""
    import catboost as cb
    import pandas as pd

    x, y, target = _data()
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    frame["city"] = ["paris", "lyon", "nice"] * 40
    train_dir = rec.root.parent / f"{rec.root.name}-catboost-info"
    common = {"iterations": 5, "depth": 2, "verbose": False, "train_dir": str(train_dir)}
    models = {
        "classifier": cb.CatBoostClassifier(**common).fit(frame, y, cat_features=["city"]),
        "regressor": cb.CatBoostRegressor(**common).fit(x, target),
    }
    for name, model in models.items():
        _dump(rec, f"catboost/{name}", model, "catboost")
    for fmt, ext in (("cbm", "cbm"), ("json", "json")):
        models["classifier"].save_model(str(rec.path(f"catboost/classifier.{ext}")), format=fmt)
        rec.add(f"catboost/classifier.{ext}", "catboost", f"catboost-{fmt}")
    models["regressor"].save_model(str(rec.path("catboost/regressor.onnx")), format="onnx")
    rec.add("catboost/regressor.onnx", "catboost", "onnx")


def generate(rec: Recorder) -> None:
    """Every boosting artifact of this module."""
    generate_xgboost(rec)
    generate_lightgbm(rec)
    generate_catboost(rec)
