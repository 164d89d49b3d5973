"""Rules for MLflow server settings (``BST-MLF-NNN``).

The command lines that start MLflow are found wherever they are written: shell scripts,
Dockerfile ``CMD``/``ENTRYPOINT``, Kubernetes container ``command``/``args``, docker-compose
``command``/``entrypoint``; settings also come from the environment those places define
(``MLFLOW_HOST``, ``MLFLOW_GUNICORN_OPTS``…) and from ``basic_auth.ini``.
"""

from __future__ import annotations

from bastion.core import Confidence, References, Severity
from bastion.rules import Rule
from bastion.scan.configs import refs


def _rule(
    number: int,
    title: str,
    severity: Severity,
    doc: str,
    remediation: str,
    references: References,
    confidence: Confidence = Confidence.HIGH,
) -> Rule:
    return Rule(
        f"BST-MLF-{number:03d}",
        title,
        severity,
        "configs",
        doc=doc,
        remediation=remediation,
        references=references,
        confidence=confidence,
    )


EXPOSED_WITHOUT_AUTH = _rule(
    1,
    "MLflow server exposed without authentication",
    Severity.HIGH,
    """
    ``mlflow server`` (or ``mlflow ui``) listens on a non-loopback address (``--host
    0.0.0.0``, ``-h ::``, ``MLFLOW_HOST``) without ``--app-name basic-auth`` (or another auth
    app), or ``mlflow models serve`` listens on one (it has no authentication at all). Anyone
    who reaches the port can read every experiment, download every artifact, and register or
    replace models in the registry that deployments pull from: a model-poisoning path that
    bypasses code review.
    """,
    "Add --app-name basic-auth (or an OIDC app) and bind behind an authenticating proxy.",
    refs.EXPOSURE.merged(References(owasp=("ML10:2023",), atlas=("AML.T0018",))),
)
DEFAULT_ADMIN = _rule(
    2,
    "MLflow default admin credentials",
    Severity.HIGH,
    """
    A ``basic_auth.ini`` keeps MLflow's shipped ``admin_username = admin`` / ``admin_password =
    password1234``, or the environment sets ``MLFLOW_TRACKING_USERNAME=admin`` with
    ``MLFLOW_TRACKING_PASSWORD=password1234``. These are in MLflow's documentation: basic-auth
    with them is no authentication, and the admin can manage every user and model.
    """,
    "Set a strong admin_password before first start (or change it via the API) and rotate it.",
    refs.DEFAULT_CREDENTIALS,
)
WORLD_WRITABLE_ARTIFACTS = _rule(
    3,
    "MLflow serves artifacts from a world-writable location",
    Severity.MEDIUM,
    """
    The server proxies artifacts (``--serve-artifacts``, the default since MLflow 2.0) from a
    local directory that every user can write: under ``/tmp``, ``/var/tmp`` or ``/dev/shm``,
    or made world-writable (``chmod 777``, ``o+w``) in the same file. Any local process can
    then replace a logged model that the registry serves to deployments.
    """,
    "Store artifacts in a private bucket or a directory owned by the MLflow user (mode 750).",
    refs.PERMISSIONS.merged(refs.MODEL_SOURCE),
)
TIMEOUTS_DISABLED = _rule(
    4,
    "MLflow server timeouts disabled",
    Severity.MEDIUM,
    """
    ``--gunicorn-opts``/``MLFLOW_GUNICORN_OPTS`` sets ``--timeout 0`` (no worker timeout) or a
    timeout of an hour or more, or ``--uvicorn-opts`` a keep-alive of ten minutes or more. A
    handful of slow clients then hold every worker and the tracking server (and the registry
    behind it) stops answering.
    """,
    "Keep gunicorn's worker timeout finite (e.g. --timeout 120) and uvicorn's keep-alive short.",
    refs.RESOURCES,
)
TRACKING_PASSWORD = _rule(
    5,
    "MLflow tracking password in plain text",
    Severity.HIGH,
    """
    ``MLFLOW_TRACKING_PASSWORD`` (or ``MLFLOW_TRACKING_TOKEN``) is set to a literal value in a
    Dockerfile, manifest, compose file or script. Whoever reads the repository or the image can
    log runs and register models as that user. The value is never shown.
    """,
    "Inject the credential at run time from a secret store; rotate the exposed one.",
    refs.SECRETS,
)
SECURITY_MIDDLEWARE_OFF = _rule(
    6,
    "MLflow security middleware disabled or opened to any origin",
    Severity.MEDIUM,
    """
    ``--disable-security-middleware``, ``--allowed-hosts "*"`` or ``--cors-allowed-origins "*"``
    turns off MLflow 3's protection against DNS rebinding and cross-origin requests: any web
    page a user of the server opens can read and write the tracking server through the
    user's browser.
    """,
    "Keep the middleware on and list the real host names and origins explicitly.",
    refs.EXPOSURE,
)

MLFLOW_RULES: tuple[Rule, ...] = (
    EXPOSED_WITHOUT_AUTH,
    DEFAULT_ADMIN,
    WORLD_WRITABLE_ARTIFACTS,
    TIMEOUTS_DISABLED,
    TRACKING_PASSWORD,
    SECURITY_MIDDLEWARE_OFF,
)
