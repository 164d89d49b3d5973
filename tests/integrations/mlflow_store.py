"""Builds a real MLflow store for the tests: registered models from scikit-learn and a
malicious one (inert payload), logged the way users log them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import inert_command
from tests.formats.pickle import asm

MODELING = b"import yaml\ncfg = yaml.load(open('c.yaml'))  # bastion: ignore[BST-CODE-005] ok\n"


@dataclass(frozen=True)
class Store:
    """What the tests need to know about the store they scan."""

    tracking_uri: str
    root: Path
    clean_run: str
    evil_run: str
    logged_model_id: str


def build_store(tracking_uri: str, root: Path, marker_dir: Path) -> Store:
    """``fraud`` v1 (sklearn, alias ``champion``), ``fraud`` v2 (a pickle calling os.system,
    registered from a run), in the store at ``tracking_uri``."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation chatter while building
        mlflow.set_tracking_uri(tracking_uri)
        client = mlflow.MlflowClient(tracking_uri)
        rng = np.random.default_rng(0)
        x = rng.random((40, 3))
        y = (x[:, 0] > 0.5).astype(int)
        with mlflow.start_run() as clean:
            info = mlflow.sklearn.log_model(
                LogisticRegression().fit(x, y),
                name="model",
                registered_model_name="fraud",
                pip_requirements=["scikit-learn==1.9.1"],
            )
        client.set_registered_model_alias("fraud", "champion", "1")
        staging = root / "staging" / "model"
        staging.mkdir(parents=True)
        (staging / "model.pkl").write_bytes(asm.call("os", "system", inert_command(marker_dir)))
        (staging / "modeling.py").write_bytes(MODELING)
        (staging / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: x\n")
        with mlflow.start_run() as evil:
            mlflow.log_artifacts(str(staging), artifact_path="model")
        mlflow.register_model(f"runs:/{evil.info.run_id}/model", "fraud")
    return Store(tracking_uri, root, clean.info.run_id, evil.info.run_id, info.model_id)
