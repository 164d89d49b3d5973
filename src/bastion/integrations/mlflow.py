"""MLflow model URIs resolved to the artifact files behind them, for scanning in place or copied.

>>> from bastion.integrations.mlflow import open_model
>>> with open_model("models:/fraud@champion") as model:        # doctest: +SKIP
...     model.local_path, model.version
(PosixPath('/srv/mlruns/1/models/m-4f…/artifacts'), '7')

Accepted URIs (after ``mlflow://`` on the command line): ``models:/<name>/<version>``,
``models:/<name>@<alias>``, ``models:/<name>/<stage>``, ``models:/<model id>`` (MLflow 3 logged
models, ``m-…``) and ``runs:/<run id>/<artifact path>``. The tracking and registry stores are
MLflow's own settings (``MLFLOW_TRACKING_URI``, ``MLFLOW_REGISTRY_URI``) unless given.

Only the registry's metadata API and artifact download are used: no flavor is loaded and no
``pyfunc`` is imported, so a malicious model cannot run while it is being fetched. Artifacts in
a local store (a ``file:`` location that exists on this machine) are scanned where they are,
without a copy and without writing to the store; anything else (``mlflow-artifacts:``, S3, GCS,
Azure, HTTP) is downloaded into a private temporary folder that is removed afterwards. MLflow's
usage telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``) before MLflow is imported: the
only connections made are to the tracking, registry and artifact stores.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from bastion.errors import MissingDependencyError
from bastion.integrations.errors import IntegrationError

SCHEME = "mlflow://"
_NAME = r"[^/@]+"
_MODEL_VERSION = re.compile(rf"^models:/(?P<name>{_NAME})/(?P<ref>[^/@]+)/?$")
_MODEL_ALIAS = re.compile(rf"^models:/(?P<name>{_NAME})@(?P<alias>[^/@]+)/?$")
_LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]{8,64})/?$")
_RUN = re.compile(r"^runs:/(?P<run>[0-9a-zA-Z_-]{1,64})(?:/(?P<path>.*))?$")


@dataclass(frozen=True)
class MlflowModel:
    """A resolved model: what the registry says about it and where its files are now."""

    uri: str
    artifact_uri: str
    local_path: Path
    copied: bool
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    model_id: str | None = None

    @property
    def label(self) -> str:
        """The report target: ``mlflow://`` plus the URI as given."""
        return SCHEME + self.uri


@dataclass(frozen=True)
class _Location:
    artifact_uri: str
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    model_id: str | None = None


def strip_scheme(target: str) -> str:
    """``mlflow://models:/x/1`` → ``models:/x/1`` (a bare MLflow URI is returned as it is)."""
    return target[len(SCHEME) :] if target.startswith(SCHEME) else target


@contextmanager
def open_model(
    uri: str, *, tracking_uri: str | None = None, registry_uri: str | None = None
) -> Iterator[MlflowModel]:
    """Resolve ``uri`` and yield its files; a temporary copy is removed on exit."""
    uri = strip_scheme(uri.strip())
    client, mlflow = _client(tracking_uri, registry_uri)
    location = _locate(client, uri, mlflow)
    local = _local_path(location.artifact_uri)
    if local is not None:
        yield _model(uri, location, local, copied=False)
        return
    folder = tempfile.mkdtemp(prefix="bastion-mlflow-")
    try:
        fetched = _download(mlflow, uri, location.artifact_uri, folder, tracking_uri, registry_uri)
        yield _model(uri, location, fetched, copied=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _model(uri: str, location: _Location, path: Path, *, copied: bool) -> MlflowModel:
    return MlflowModel(
        uri=uri,
        artifact_uri=location.artifact_uri,
        local_path=path,
        copied=copied,
        name=location.name,
        version=location.version,
        run_id=location.run_id,
        model_id=location.model_id,
    )


def _client(tracking_uri: str | None, registry_uri: str | None) -> tuple[Any, Any]:
    # NOTE: MLflow 3 sends usage telemetry unless told not to; a scan talks to the store only.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    try:
        import mlflow
        from mlflow import MlflowClient
    except ImportError:
        raise MissingDependencyError("mlflow", "mlflow", "Scanning mlflow:// models") from None
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri), mlflow


def _locate(client: Any, uri: str, mlflow: Any) -> _Location:
    """Ask the registry (or tracking store) where the artifacts of ``uri`` live."""
    error = mlflow.exceptions.MlflowException
    try:
        return _lookup(client, uri)
    except error as exc:
        raise IntegrationError(
            SCHEME + uri, f"MLflow cannot resolve it: {_first_line(exc)}"
        ) from exc


def _lookup(client: Any, uri: str) -> _Location:
    if match := _LOGGED_MODEL.match(uri):
        logged = client.get_logged_model(match["id"])
        return _Location(
            logged.artifact_location, run_id=logged.source_run_id, model_id=logged.model_id
        )
    if match := _MODEL_ALIAS.match(uri):
        version = client.get_model_version_by_alias(match["name"], match["alias"])
        return _registered(client, match["name"], str(version.version), version)
    if match := _MODEL_VERSION.match(uri):
        name, ref = match["name"], match["ref"]
        if not ref.isdigit():
            latest = client.get_latest_versions(name, stages=[ref])
            if not latest:
                raise IntegrationError(SCHEME + uri, f"model {name!r} has no version in {ref!r}")
            return _registered(client, name, str(latest[0].version), latest[0])
        return _registered(client, name, ref, client.get_model_version(name, ref))
    if match := _RUN.match(uri):
        path = (match["path"] or "").strip("/")
        if ".." in path.split("/"):
            raise IntegrationError(SCHEME + uri, "artifact path must not contain '..'")
        run = client.get_run(match["run"])
        base = str(run.info.artifact_uri).rstrip("/")
        return _Location(f"{base}/{path}" if path else base, run_id=run.info.run_id)
    raise IntegrationError(
        SCHEME + uri,
        "not an MLflow model URI (expected models:/NAME/VERSION, models:/NAME@ALIAS, "
        "models:/NAME/STAGE, models:/m-ID or runs:/RUN_ID/PATH)",
    )


def _registered(client: Any, name: str, version: str, info: Any) -> _Location:
    where = client.get_model_version_download_uri(name, version)
    return _Location(
        str(where),
        name=name,
        version=version,
        run_id=getattr(info, "run_id", None) or None,
        model_id=getattr(info, "model_id", None) or None,
    )


def _local_path(artifact_uri: str) -> Path | None:
    """The folder or file of a ``file:`` (or scheme-less) location, when it exists here."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_absolute() and (path.is_dir() or path.is_file()) else None


def _download(
    mlflow: Any,
    uri: str,
    artifact_uri: str,
    folder: str,
    tracking_uri: str | None,
    registry_uri: str | None,
) -> Path:
    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # our own bar, or quiet
    try:
        fetched = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri,
            dst_path=folder,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
        )
    except (mlflow.exceptions.MlflowException, OSError) as exc:
        raise IntegrationError(
            SCHEME + uri, f"cannot download {artifact_uri}: {_first_line(exc)}"
        ) from exc
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous
    path = Path(fetched)
    if not path.resolve().is_relative_to(Path(folder).resolve()):
        raise IntegrationError(SCHEME + uri, f"download landed outside {folder}: {path}")
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def tag_version(
    name: str,
    version: str,
    tags: dict[str, str],
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> None:
    """Write ``tags`` on a registered model version (the only write bastion makes to a store)."""
    client, mlflow = _client(tracking_uri, registry_uri)
    try:
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    except mlflow.exceptions.MlflowException as exc:
        target = f"{SCHEME}models:/{name}/{version}"
        raise IntegrationError(target, f"cannot set tags: {_first_line(exc)}") from exc
