"""``bastion scan mlflow://…`` on a real MLflow file store: registered versions, aliases, run
and logged-model URIs, in place (no copy, no write), errors, the registry webhook check, and a
real ``mlflow server`` (artifacts downloaded to a temporary folder)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.integrations import mlflow as store_mod
from bastion.integrations.errors import IntegrationError
from tests.integrations.mlflow_store import Store, build_store

pytest.importorskip("mlflow")
# The store is built once per module with mlflow.sklearn.log_model (about 20 s here).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*")]
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow")
    markers = tmp_path_factory.mktemp("markers")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        built = build_store(f"file:{root / 'mlruns'}", root, markers)
        yield built
    assert not list(markers.iterdir()), "an inert payload ran"


@pytest.fixture
def env(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    return store


def _scan(target: str, *extra: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, ["scan", target, "-f", "json", *extra])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stderr


def _paths(report: dict[str, object], rule: str) -> list[str]:
    return [f["location"]["path"] for f in report["findings"] if f["rule_id"] == rule]  # type: ignore[union-attr,index]


def test_registered_version_is_scanned_in_place(env: Store) -> None:
    code, report, _ = _scan("mlflow://models:/fraud/1")
    assert code == 0
    assert report["target"] == "mlflow://models:/fraud/1"
    files = {a["path"] for a in report["artifacts"]}  # type: ignore[union-attr,index]
    assert {"MLmodel", "requirements.txt"} <= files
    assert any(p.startswith("model.") for p in files)  # skops or pickle, whatever MLflow chose
    assert not any("/" in p and "artifacts" in p for p in files)  # relative to the model


def test_alias_and_logged_model_resolve_to_the_same_files(env: Store) -> None:
    _, by_version, _ = _scan("mlflow://models:/fraud/1")
    _, by_alias, _ = _scan("mlflow://models:/fraud@champion")
    _, by_id, _ = _scan(f"mlflow://models:/{env.logged_model_id}")
    assert by_alias["artifacts"] == by_version["artifacts"] == by_id["artifacts"]
    assert by_alias["target"] == "mlflow://models:/fraud@champion"


def test_malicious_version_fails_the_gate(env: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store_mod.open_model("models:/fraud/2") as model:
        # the inline suppressor of a plain scan would find modeling.py from here
        monkeypatch.chdir(model.local_path)
        code, report, stderr = _scan("mlflow://models:/fraud/2")
    assert code == 1
    assert _paths(report, "BST-PKL-001") == ["model.pkl"]
    assert _paths(report, "BST-CODE-005") == ["modeling.py"]  # its ignore comment is not honoured
    assert report["suppressed"] == []
    assert f"run {env.evil_run}" in stderr and "scanned in place" in stderr


def test_run_uri(env: Store) -> None:
    code, report, _ = _scan(f"mlflow://runs:/{env.evil_run}/model")
    assert code == 1
    assert _paths(report, "BST-PKL-001") == ["model.pkl"]
    single, report, _ = _scan(f"mlflow://runs:/{env.evil_run}/model/model.pkl")
    assert single == 1 and _paths(report, "BST-PKL-001") == ["model.pkl"]


def test_the_store_is_not_written(env: Store) -> None:
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in (env.root / "mlruns").rglob("*")
            if p.is_file()
        }

    before = snapshot()
    with store_mod.open_model("models:/fraud/1") as model:
        assert model.copied is False
        assert model.local_path.is_relative_to(env.root)
        assert (model.name, model.version, model.run_id) == ("fraud", "1", env.clean_run)
    _scan("mlflow://models:/fraud/2")
    assert snapshot() == before


def test_unresolvable_uris_are_usage_errors(env: Store) -> None:
    cases = {
        "mlflow://models:/fraud/9": "not found",
        "mlflow://models:/nobody/1": "not found",
        "mlflow://models:/fraud@nobody": "fraud",
        "mlflow://s3://bucket/model": "not an MLflow model URI",
        f"mlflow://runs:/{'0' * 32}/model": "MLflow cannot resolve it",
    }
    for target, message in cases.items():
        code, _, stderr = _scan(target)
        assert code == 2, target
        assert message in stderr, (target, stderr)
    with pytest.raises(IntegrationError, match=r"must not contain '\.\.'"):
        with store_mod.open_model(f"runs:/{env.evil_run}/model/../../..") as _:
            pass


# --- the registry webhook check ---------------------------------------------------------------


def _event(name: str, version: str, action: str = "created") -> bytes:
    data = {"name": name, "version": version, "source": "models:/m-1", "run_id": "r"}
    body = {"entity": "model_version", "action": action, "timestamp": "t", "data": data}
    return json.dumps(body).encode()


def _check(body: bytes, *args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["mlflow", "check", *args], input=body)
    return result.exit_code, json.loads(result.stdout)


def test_webhook_allows_a_clean_version_and_denies_a_malicious_one(env: Store) -> None:
    code, allow = _check(_event("fraud", "1"))
    assert (code, allow["decision"], allow["model_uri"]) == (0, "allow", "models:/fraud/1")
    code, deny = _check(_event("fraud", "2"))
    assert code == 1 and deny["decision"] == "deny"
    rules = {(b["rule_id"], b["path"]) for b in deny["blocking"]}  # type: ignore[union-attr,index]
    assert ("BST-PKL-001", "model.pkl") in rules
    assert deny["target"] == "mlflow://models:/fraud/2"


def test_webhook_alias_and_databricks_events(env: Store) -> None:
    alias = {"entity": "model_version_alias", "action": "created",
             "data": {"name": "fraud", "alias": "champion", "version": "2"}}  # fmt: skip
    code, doc = _check(json.dumps(alias).encode())
    assert (code, doc["decision"]) == (1, "deny")
    databricks = {"event": "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION", "model_name": "fraud",
                  "version": "1", "to_stage": "Production", "webhook_id": "w"}  # fmt: skip
    code, doc = _check(json.dumps(databricks).encode())
    assert (code, doc["decision"], doc["event"]) == (0, "allow", databricks["event"])


def test_webhook_ignores_events_without_new_model_files(env: Store) -> None:
    for body in (
        {"entity": "registered_model", "action": "created", "data": {"name": "fraud"}},
        {"entity": "model_version_tag", "action": "deleted", "data": {"name": "f"}},
        {"event": "COMMENT_CREATED", "model_name": "fraud"},
    ):
        code, doc = _check(json.dumps(body).encode())
        assert (code, doc["decision"]) == (0, "ignore")


def test_webhook_signature(env: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    monkeypatch.setenv("HOOK_SECRET", "s3cret-for-tests")
    body = _event("fraud", "1")
    now = str(int(time.time()))
    good = _generate_hmac_signature("s3cret-for-tests", "d-1", now, body.decode())
    headers = ["--secret-env", "HOOK_SECRET", "--delivery-id", "d-1", "--timestamp", now]
    code, doc = _check(body, *headers, "--signature", good)
    assert (code, doc["decision"]) == (0, "allow")
    forged = _generate_hmac_signature("other-secret", "d-1", now, body.decode())
    code, doc = _check(body, *headers, "--signature", forged)
    assert code == 2 and "does not match" in str(doc["reason"])
    code, doc = _check(_event("fraud", "2"), *headers, "--signature", good)  # body swapped
    assert code == 2 and "does not match" in str(doc["reason"])
    code, doc = _check(body, *headers)
    assert code == 2 and "required" in str(doc["reason"])
    monkeypatch.delenv("HOOK_SECRET")
    code, doc = _check(body, *headers, "--signature", good)
    assert code == 2 and "not set" in str(doc["reason"])


def test_webhook_can_tag_the_version(env: Store) -> None:
    import mlflow

    code, _ = _check(_event("fraud", "2"), "--set-tag")
    assert code == 1
    tags = mlflow.MlflowClient(env.tracking_uri).get_model_version("fraud", "2").tags
    assert tags["bastion.decision"] == "deny"
    assert int(tags["bastion.blocking"]) >= 2


def test_remote_tracking_server_downloads_to_a_temporary_folder(
    tmp_path: Path, marker_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integrations.mlflow_server import running_server

    with running_server(tmp_path) as url:
        build_store(url, tmp_path, marker_dir)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        with store_mod.open_model("models:/fraud/2") as model:
            assert model.copied is True
            folder = model.local_path
            assert (folder / "model.pkl").is_file()
        assert not folder.exists()  # the temporary copy is gone
        code, report, stderr = _scan("mlflow://models:/fraud/2")
        assert code == 1 and _paths(report, "BST-PKL-001") == ["model.pkl"]
        assert "downloaded to a temporary folder" in stderr
        code, doc = _check(_event("fraud", "1"), "--tracking-uri", url)
        assert (code, doc["decision"]) == (0, "allow")
    assert os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR") is None
