"""Event formats: Elastic Common Schema JSON, OCSF 1.8 (API Activity 6003, Authentication 3002,
Detection Finding 2004) and ArcSight CEF, from one audit record.

Every formatter takes the audit record body (a dict) plus its chain position, so the SIEM copy
can be matched to the hash-chained original (``event.id`` / ``metadata.uid`` /
``externalId`` = ``<log id>:<seq>``). Text that came from a client (paths, user agents) is
escaped for each format (CWE-117).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bastion import __version__

ECS_VERSION = "8.11.0"
OCSF_VERSION = "1.8.0"
_SEVERITY = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def _epoch_ms(stamp: str) -> int:
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def severity_of(rec: dict[str, Any]) -> int:
    """0 (info) … 4 (critical)."""
    det = rec.get("detection")
    if isinstance(det, dict):
        return _SEVERITY.get(str(det.get("severity")), 2)
    if rec.get("severity") in _SEVERITY:
        return _SEVERITY[str(rec["severity"])]
    if rec.get("decision") in ("denied", "limited", "rejected"):
        return 1
    if rec.get("decision") == "error":
        return 2
    return 0


def _failed(rec: dict[str, Any]) -> bool:
    return str(rec.get("outcome")) == "failure"


def event_id(rec: dict[str, Any]) -> str:
    """``<log id>:<seq>``."""
    return f"{rec.get('log_id')}:{rec.get('seq')}"


def _message(rec: dict[str, Any]) -> str:
    det = rec.get("detection")
    if isinstance(det, dict):
        return str(det.get("message", ""))
    status = rec.get("status")
    reason = rec.get("reason") or ""
    head = f"{rec.get('action')} {rec.get('method', '')} {rec.get('path', '')}".strip()
    return f"{head} -> {status} {reason}".strip() if status else head


def to_ecs(rec: dict[str, Any], row_hash: str = "") -> dict[str, Any]:
    """An ECS document."""
    kind = rec.get("kind", "request")
    action = str(rec.get("action", ""))
    event: dict[str, Any] = {
        "id": event_id(rec),
        "action": action,
        "dataset": "bastion.gateway",
        "module": "bastion",
        "provider": str(rec.get("log_id")),
        "severity": severity_of(rec),
        "created": rec.get("time"),
    }
    if row_hash:
        event["hash"] = row_hash
    if kind == "detection":
        event.update(
            kind="alert", category=["intrusion_detection"], type=["indicator"], outcome="unknown"
        )
    elif kind == "action":
        event.update(
            kind="event", category=["iam", "configuration"], type=["change"], outcome="success"
        )
    elif kind in ("checkpoint", "admin"):
        event.update(
            kind="event",
            category=["configuration"],
            type=["info" if kind == "checkpoint" else "change"],
            outcome="success",
        )
    elif action == "auth.failed":
        event.update(kind="event", category=["authentication"], type=["start"], outcome="failure")
    else:
        denied = rec.get("decision") in ("denied", "limited", "rejected")
        event.update(
            kind="event",
            category=["api", "web"],
            type=["access", "denied" if denied else "allowed"],
            outcome="failure" if _failed(rec) else "success",
        )
    if rec.get("reason"):
        event["reason"] = rec["reason"]
    if isinstance(rec.get("duration_ms"), (int, float)):
        event["duration"] = int(rec["duration_ms"] * 1_000_000)
    doc: dict[str, Any] = {
        "@timestamp": rec.get("time"),
        "ecs": {"version": ECS_VERSION},
        "message": _message(rec),
        "event": event,
        "service": {"name": "bastion-gateway", "version": __version__, "type": "gateway"},
        "labels": {"log_id": str(rec.get("log_id")), "audit_seq": str(rec.get("seq"))},
    }
    identity = rec.get("identity")
    if isinstance(identity, dict) and identity.get("id"):
        doc["user"] = {
            "id": identity["id"],
            "name": identity.get("name"),
            "roles": identity.get("roles", []),
        }
        doc["related"] = {"user": [identity["id"]]}
    client = rec.get("client")
    if isinstance(client, dict) and client.get("ip"):
        doc["source"] = {"ip": client["ip"], "port": client.get("port"), "address": client["ip"]}
        doc.setdefault("related", {})["ip"] = [client["ip"]]
    if rec.get("method"):
        doc["http"] = {
            "request": {"method": rec["method"], "id": rec.get("request_id")},
            "response": {"status_code": rec.get("status")},
        }
        doc["url"] = {"path": rec.get("path")}
    if rec.get("user_agent"):
        doc["user_agent"] = {"original": rec["user_agent"]}
    if rec.get("request_id"):
        doc["trace"] = {"id": rec["request_id"]}
    model = rec.get("model") or (rec.get("detection") or {}).get("model")
    if model:
        doc["labels"]["model"] = str(model)
    if rec.get("rule_id"):
        doc["rule"] = {
            "id": rec["rule_id"],
            "name": rec.get("rule_name"),
            "category": "runtime",
            "ruleset": "bastion",
        }
    if rec.get("atlas"):
        doc["threat"] = {"framework": "MITRE ATLAS", "technique": {"id": list(rec["atlas"])}}
    if isinstance(rec.get("input"), dict) and rec["input"].get("sha256"):
        doc.setdefault("related", {})["hash"] = [rec["input"]["sha256"]]
    return doc


def _ocsf_base(
    rec: dict[str, Any], class_uid: int, activity_id: int, activity_name: str | None = None
) -> dict[str, Any]:
    category = class_uid // 1000
    severity = severity_of(rec) + 1
    base: dict[str, Any] = {
        "class_uid": class_uid,
        "category_uid": category,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": severity,
        "time": _epoch_ms(str(rec.get("time", ""))),
        "message": _message(rec),
        "metadata": {
            "product": {"name": "bastion", "vendor_name": "bastion", "version": __version__},
            "version": OCSF_VERSION,
            "uid": event_id(rec),
            "log_name": str(rec.get("log_id")),
        },
    }
    if activity_name:
        base["activity_name"] = activity_name
    client = rec.get("client")
    if isinstance(client, dict) and client.get("ip"):
        base["src_endpoint"] = {"ip": client["ip"], "port": client.get("port")}
    return base


def _user(rec: dict[str, Any]) -> dict[str, Any]:
    identity = rec.get("identity")
    if isinstance(identity, dict) and identity.get("id"):
        return {"uid": identity["id"], "name": identity.get("name")}
    return {"uid": rec.get("subject_hint") or "anonymous"}


def to_ocsf(rec: dict[str, Any], row_hash: str = "") -> dict[str, Any]:
    """An OCSF event (3002, 6003 or 2004)."""
    kind = rec.get("kind", "request")
    if kind == "detection":
        det = rec.get("detection") or {}
        event = _ocsf_base(rec, 2004, 1)
        event.update(
            {
                "finding_info": {
                    "uid": det.get("id"),
                    "title": rec.get("rule_name") or det.get("type"),
                    "desc": det.get("message"),
                    "types": [det.get("type")],
                    "analytic": {
                        "name": det.get("type"),
                        "uid": rec.get("rule_id"),
                        "type_id": 99,
                        "type": "Behavioral",
                    },
                    "attacks": [{"technique": {"uid": t}} for t in rec.get("atlas", [])],
                },
                "is_alert": True,
                "status_id": 1,
                "confidence_id": 2,
                "evidences": [{"data": det.get("evidence", {})}],
                "resources": [{"name": det.get("model") or "gateway", "type": "AI Model"}],
                "actor": {"user": {"uid": det.get("identity") or "unknown"}},
            }
        )
        return event
    if rec.get("action") == "auth.failed":
        event = _ocsf_base(rec, 3002, 1)
        event.update(
            {
                "user": _user(rec),
                "status_id": 2,
                "status": "Failure",
                "status_detail": rec.get("reason"),
                "auth_protocol_id": 99,
                "auth_protocol": "Bearer",
                "is_mfa": False,
                "service": {"name": "bastion-gateway"},
                "disposition_id": 26 if rec.get("status") == 401 else 2,
            }
        )
        return event
    method = str(rec.get("method", ""))
    action = str(rec.get("action", ""))
    if kind != "request":
        activity, name = 99, action
    elif action == "inference.request":
        activity, name = 99, "Invoke"
    elif method == "GET":
        activity, name = 2, None
    elif method == "DELETE":
        activity, name = 4, None
    elif action.endswith(".create"):
        activity, name = 1, None
    else:
        activity, name = 3, None
    event = _ocsf_base(rec, 6003, activity, name)
    allowed = rec.get("decision", "allowed") == "allowed" and not _failed(rec)
    event.update(
        {
            "actor": {"user": _user(rec)},
            "api": {
                "operation": action,
                "request": {"uid": rec.get("request_id") or event_id(rec)},
                "service": {"name": "bastion-gateway"},
            },
            "status_id": 2 if _failed(rec) else 1,
            "action_id": 1 if allowed else 2,
            "disposition_id": 1 if allowed else 2,
        }
    )
    if rec.get("reason"):
        event["status_detail"] = rec["reason"]
    if method:
        event["http_request"] = {
            "http_method": method,
            "url": {"path": rec.get("path")},
            "user_agent": rec.get("user_agent", ""),
        }
        event["http_response"] = {"code": rec.get("status")}
    if rec.get("model"):
        event["resources"] = [{"name": rec["model"], "type": "AI Model"}]
    return event


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


def to_cef(rec: dict[str, Any], row_hash: str = "") -> str:
    """One CEF:0 line."""
    det = rec.get("detection") if isinstance(rec.get("detection"), dict) else None
    class_id = str(rec.get("rule_id") or rec.get("action") or "event")
    name = str(rec.get("rule_name") or rec.get("action") or "event")
    severity = {0: 2, 1: 4, 2: 6, 3: 8, 4: 10}[severity_of(rec)]
    ext: list[tuple[str, Any]] = [
        ("rt", _epoch_ms(str(rec.get("time", "")))),
        ("externalId", event_id(rec)),
        ("act", rec.get("decision") or rec.get("kind")),
        ("outcome", rec.get("outcome")),
    ]
    client = rec.get("client")
    if isinstance(client, dict) and client.get("ip"):
        ext += [("src", client["ip"]), ("spt", client.get("port"))]
    identity = rec.get("identity")
    if isinstance(identity, dict) and identity.get("id"):
        ext.append(("suser", identity["id"]))
    elif det is not None and det.get("identity"):
        ext.append(("suser", det["identity"]))
    if rec.get("method"):
        ext += [
            ("requestMethod", rec["method"]),
            ("request", rec.get("path")),
            ("requestClientApplication", rec.get("user_agent")),
        ]
    if rec.get("reason"):
        ext.append(("reason", rec["reason"]))
    model = rec.get("model") or (det or {}).get("model")
    ext += [("cs1Label", "model"), ("cs1", model)]
    if rec.get("atlas"):
        ext += [("cs2Label", "atlas"), ("cs2", ",".join(rec["atlas"]))]
    ext += [
        ("cs3Label", "requestId"),
        ("cs3", rec.get("request_id")),
        ("cn1Label", "auditSeq"),
        ("cn1", rec.get("seq")),
    ]
    if det is not None:
        ext.append(("msg", det.get("message")))
    if row_hash:
        ext += [("cs4Label", "auditHash"), ("cs4", row_hash)]
    extension = " ".join(f"{k}={_cef_value(str(v))}" for k, v in ext if v not in (None, ""))
    head = "|".join(_cef_header(p) for p in ("bastion", "gateway", __version__, class_id, name))
    return f"CEF:0|{head}|{severity}|{extension}"


def render(fmt: str, rec: dict[str, Any], row_hash: str = "") -> str:
    """One line in the chosen format (JSON formats are compact)."""
    if fmt == "cef":
        return to_cef(rec, row_hash)
    doc = to_ecs(rec, row_hash) if fmt == "ecs" else to_ocsf(rec, row_hash)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
