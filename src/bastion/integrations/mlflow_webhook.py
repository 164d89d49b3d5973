"""MLflow registry webhooks: which model version an event is about, whether it is authentic, and
the decision document ``bastion mlflow check`` prints.

>>> from bastion.integrations.mlflow_webhook import parse_event
>>> parse_event(b'{"entity": "model_version", "action": "created",'
...             b' "data": {"name": "fraud", "version": "3"}}').model_uri
'models:/fraud/3'

Two payload shapes are read: MLflow's own (``{"entity", "action", "timestamp", "data"}``, MLflow
3.3+; events ``model_version.created``, ``model_version_alias.created``,
``model_version_tag.set``) and Databricks workspace registry webhooks (``{"event":
"MODEL_VERSION_CREATED", "model_name", "version", …}``, also the stage-transition events). Other
events (a registered model created, a tag or alias deleted, prompts) concern no new model bytes
and are answered ``ignore``.

MLflow signs deliveries when the webhook has a secret: ``X-MLflow-Signature: v1,<base64
HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`` with ``X-MLflow-Delivery-Id`` and
``X-MLflow-Timestamp``. :func:`verify_signature` checks it in constant time and refuses stale
timestamps (replay), so a receiver can pass the headers through to the check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from bastion.core import ScanResult
from bastion.integrations.errors import WebhookError
from bastion.policy.evaluate import Verdict

MAX_PAYLOAD_BYTES = 1 << 20
DEFAULT_MAX_AGE_S = 300
_MLFLOW_EVENTS = {
    ("model_version", "created"),
    ("model_version_alias", "created"),
    ("model_version_tag", "set"),
}
_DATABRICKS_EVENTS = {
    "MODEL_VERSION_CREATED",
    "MODEL_VERSION_TRANSITIONED_STAGE",
    "MODEL_VERSION_TRANSITIONED_TO_STAGING",
    "MODEL_VERSION_TRANSITIONED_TO_PRODUCTION",
    "TRANSITION_REQUEST_CREATED",
    "TRANSITION_REQUEST_TO_STAGING_CREATED",
    "TRANSITION_REQUEST_TO_PRODUCTION_CREATED",
    "MODEL_VERSION_TAG_SET",
}
_MAX_BLOCKING = 50


@dataclass(frozen=True)
class WebhookEvent:
    """What a payload announces: the event name and, when it concerns one, the model version."""

    event: str
    name: str | None = None
    version: str | None = None

    @property
    def model_uri(self) -> str | None:
        """``models:/<name>/<version>`` for events about a model version, else ``None``."""
        if self.name and self.version:
            return f"models:/{self.name}/{self.version}"
        return None


def parse_event(body: bytes) -> WebhookEvent:
    """Read a webhook body (MLflow or Databricks shape); raise :class:`WebhookError` if invalid."""
    if len(body) > MAX_PAYLOAD_BYTES:
        raise WebhookError("webhook payload", f"larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookError("webhook payload", f"not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise WebhookError("webhook payload", "expected a JSON object")
    if "entity" in payload and "action" in payload:
        return _mlflow_event(payload)
    if "event" in payload:
        return _databricks_event(payload)
    raise WebhookError(
        "webhook payload", "neither MLflow ('entity', 'action') nor Databricks ('event') shape"
    )


def _mlflow_event(payload: dict[str, Any]) -> WebhookEvent:
    entity, action = str(payload["entity"]), str(payload["action"])
    name = f"{entity}.{action}"
    if (entity, action) not in _MLFLOW_EVENTS:
        return WebhookEvent(name)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise WebhookError("webhook payload", f"{name}: 'data' is not an object")
    return WebhookEvent(name, _text(data, "name", name), _text(data, "version", name))


def _databricks_event(payload: dict[str, Any]) -> WebhookEvent:
    name = str(payload["event"])
    if name not in _DATABRICKS_EVENTS:
        return WebhookEvent(name)
    return WebhookEvent(name, _text(payload, "model_name", name), _text(payload, "version", name))


def _text(data: dict[str, Any], key: str, event: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or "/" in value or "@" in value:
        raise WebhookError("webhook payload", f"{event}: missing or invalid {key!r}")
    return value.strip()


def verify_signature(
    body: bytes,
    *,
    secret: str,
    signature: str | None,
    delivery_id: str | None,
    timestamp: str | None,
    max_age_s: int = DEFAULT_MAX_AGE_S,
    now: float | None = None,
) -> None:
    """Check MLflow's ``v1`` HMAC signature and the timestamp's age; raise if either fails."""
    if not signature or not delivery_id or not timestamp:
        raise WebhookError(
            "webhook signature", "signature, delivery id and timestamp are all required"
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookError(
            "webhook signature", f"timestamp {timestamp!r} is not an integer"
        ) from None
    age = (time.time() if now is None else now) - sent
    if age > max_age_s or age < -max_age_s:
        raise WebhookError("webhook signature", f"timestamp is {int(age)} s off (replayed?)")
    version, _, value = signature.partition(",")
    if version != "v1" or not value:
        raise WebhookError("webhook signature", "expected 'v1,<base64 HMAC-SHA256>'")
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, value.strip().encode()):
        raise WebhookError("webhook signature", "does not match the payload and secret")


def decision(event: WebhookEvent, result: ScanResult, verdict: Verdict) -> dict[str, Any]:
    """The JSON document for a scanned model version: allow or deny, and why."""
    blocking = [
        {
            "rule_id": f.rule_id,
            "severity": f.severity.label,
            "path": f.location.path,
            "member": f.location.member,
            "message": f.message,
        }
        for f in verdict.blocking[:_MAX_BLOCKING]
    ]
    allowed = verdict.passed
    return {
        "decision": "allow" if allowed else "deny",
        "event": event.event,
        "model_uri": event.model_uri,
        "target": result.root,
        "passed": allowed,
        "exit_code": int(verdict.exit_code),
        "reason": "; ".join(verdict.reasons)
        or ("the policy gate allows this model version" if allowed else "the policy gate failed"),
        "counts": result.counts(),
        "blocking": blocking,
        "blocking_total": len(verdict.blocking),
        "skipped": len(result.skipped),
        "files": len({a.path for a in result.artifacts}),
    }


def ignored(event: WebhookEvent) -> dict[str, Any]:
    """The JSON document for an event that announces no new model bytes."""
    return {
        "decision": "ignore",
        "event": event.event,
        "model_uri": None,
        "passed": True,
        "exit_code": 0,
        "reason": "the event does not concern a model version's files",
    }
