"""MLflow model directories written by ``mlflow.<flavor>.save_model`` (no tracking server):
scikit-learn (pickle and cloudpickle serialization), PyTorch, XGBoost, LightGBM, Keras, ONNX, and
a pyfunc model whose Python class is importable (so cloudpickle stores it by reference).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from tests.benign_real.base import Recorder


def _data() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype(int)


def generate(rec: Recorder) -> None:
    """Every MLflow model directory of this module."""
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"file://{rec.root.parent / 'mlruns'}")
    import lightgbm
    import mlflow
    import sklearn
    import torch
    import xgboost
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tests.benign_real.mlflow_model import ThresholdModel

    x, y = _data()
    # NOTE: explicit requirements skip MLflow's inference (a subprocess per model, minutes here).
    reqs = [
        f"{name}=={version.split('+')[0]}"
        for name, version in (
            ("mlflow", mlflow.__version__),
            ("scikit-learn", sklearn.__version__),
            ("torch", torch.__version__),
            ("xgboost", xgboost.__version__),
            ("lightgbm", lightgbm.__version__),
        )
    ]
    sk = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    signature = infer_signature(x, sk.predict(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            sk,
            str(rec.path("sklearn-pickle")),
            signature=signature,
            serialization_format="pickle",
            pip_requirements=reqs,
        )
        rec.add("sklearn-pickle", "mlflow", "mlflow-sklearn")
        mlflow.sklearn.save_model(
            sk,
            str(rec.path("sklearn-cloudpickle")),
            serialization_format="cloudpickle",
            pip_requirements=reqs,
        )
        rec.add("sklearn-cloudpickle", "mlflow", "mlflow-sklearn")
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
        mlflow.pytorch.save_model(
            net,
            str(rec.path("pytorch-pickle")),
            serialization_format="pickle",
            pip_requirements=reqs,
        )
        rec.add("pytorch-pickle", "mlflow", "mlflow-pytorch")
        mlflow.pytorch.save_model(
            net,
            str(rec.path("pytorch-pt2")),
            input_example=x[:2],
            serialization_format="pt2",
            pip_requirements=reqs,
        )
        rec.add("pytorch-pt2", "mlflow", "mlflow-pytorch-pt2")
        booster = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
        mlflow.xgboost.save_model(booster, str(rec.path("xgboost")), pip_requirements=reqs)
        rec.add("xgboost", "mlflow", "mlflow-xgboost")
        lgb = lightgbm.LGBMClassifier(n_estimators=3, min_child_samples=5, verbose=-1).fit(x, y)
        mlflow.lightgbm.save_model(lgb, str(rec.path("lightgbm")), pip_requirements=reqs)
        rec.add("lightgbm", "mlflow", "mlflow-lightgbm")
        mlflow.pyfunc.save_model(
            str(rec.path("pyfunc")), python_model=ThresholdModel(3)
        )  # requirements inferred: the one model that exercises MLflow's own inference
        rec.add("pyfunc", "mlflow", "mlflow-pyfunc")
