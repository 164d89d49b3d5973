"""Automated response (SOAR-style playbooks) and its reversal by an admin.

When a detection matches a playbook (kind, minimum severity, identity pattern), its actions run
in order: ``throttle`` (a tighter rate limit for N minutes), ``suspend_key`` (403 for N minutes),
``revoke_key``, ``quarantine_model`` (the model answers 503 until released) and ``webhook``
(POST the detection as JSON, with retries). Every action is stored, audited, and reversible
through ``POST /admin/actions/{id}/revert`` (except a webhook that was already delivered).
State is reloaded from the store periodically, so replicas converge on the same actions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import anyio.to_thread
import httpx

from bastion.core import Severity
from bastion.gateway.apikeys import KeyAuthenticator
from bastion.gateway.detections import Detection
from bastion.gateway.settings import ActionKind, ActionSettings, PlaybookSettings
from bastion.gateway.store import ActionRecord, GatewayStore

log = logging.getLogger("bastion.gateway")

AuditFn = Callable[[dict[str, Any]], Awaitable[Any]]
_DEFAULT_MINUTES = 15.0


class ActionError(Exception):
    """An action cannot be taken or reverted (message is safe to show an admin)."""


class Responder:
    """Runs playbooks and holds the active response state."""

    def __init__(
        self,
        playbooks: tuple[PlaybookSettings, ...],
        store: GatewayStore,
        keys: KeyAuthenticator,
        audit: AuditFn,
    ) -> None:
        self.playbooks = playbooks
        self._store = store
        self._keys = keys
        self._audit = audit
        self._suspended: dict[str, float] = {}
        self._throttles: dict[str, tuple[str, float]] = {}
        self.quarantined: dict[str, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- state ------------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the active state from the store (startup and periodic refresh)."""
        now = time.time()
        suspended: dict[str, float] = {}
        throttles: dict[str, tuple[str, float]] = {}
        for action in self._store.list_actions(active_at=now):
            until = action.expires_at if action.expires_at is not None else float("inf")
            if action.kind == "suspend_key":
                suspended[action.target] = max(until, suspended.get(action.target, 0.0))
            elif action.kind == "throttle":
                throttles[action.target] = (str(action.params.get("limit")), until)
        self._suspended = suspended
        self._throttles = throttles
        self.quarantined = self._store.quarantined()

    def suspended(self, identity: str) -> bool:
        """Whether an identity is suspended now."""
        until = self._suspended.get(identity)
        return until is not None and time.time() < until

    def throttle(self, identity: str) -> str | None:
        """The throttle limit applied to an identity now, if any."""
        entry = self._throttles.get(identity)
        if entry is None or time.time() >= entry[1]:
            return None
        return entry[0]

    # -- playbooks --------------------------------------------------------------------------
    def dispatch(self, detections: list[Detection]) -> None:
        """Run matching playbooks in the background (never on the request's critical path)."""
        for detection in detections:
            for playbook in self.playbooks:
                if playbook.matches(
                    detection.kind,
                    detection.severity,
                    detection.identity or detection.address or "",
                ):
                    task = asyncio.create_task(self.run(playbook, detection))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def run(self, playbook: PlaybookSettings, detection: Detection) -> list[ActionRecord]:
        """Run one playbook's actions for a detection."""
        done: list[ActionRecord] = []
        for step in playbook.actions:
            record = await self._safe_execute(playbook.name, step, detection)
            if record is not None:
                done.append(record)
        return done

    async def _safe_execute(
        self, playbook: str, step: ActionSettings, detection: Detection
    ) -> ActionRecord | None:
        try:
            return await self.execute(playbook, step, detection)
        except Exception as exc:
            log.error(
                "playbook action failed",
                extra={"playbook": playbook, "action": step.type, "error": str(exc)},
            )
            return None

    async def drain(self) -> None:
        """Wait for running playbooks (shutdown and tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _target(self, step: ActionSettings, detection: Detection) -> str:
        if step.type == "quarantine_model":
            if not detection.model:
                raise ActionError("the detection names no model to quarantine")
            return detection.model
        if step.type == "webhook":
            return str(step.url)
        if not detection.identity:
            raise ActionError("the detection names no identity")
        return detection.identity

    async def execute(
        self, playbook: str, step: ActionSettings, detection: Detection, *, actor: str = "playbook"
    ) -> ActionRecord:
        """Take one action, store and audit it."""
        now = time.time()
        target = self._target(step, detection)
        minutes = step.minutes if step.minutes is not None else _DEFAULT_MINUTES
        expires: float | None = now + minutes * 60
        params: dict[str, Any] = {"minutes": minutes}
        if step.type == "throttle":
            params["limit"] = step.limit
            self._throttles[target] = (str(step.limit), float(expires or 0))
        elif step.type == "suspend_key":
            self._suspended[target] = float(expires or 0)
        elif step.type == "revoke_key":
            expires = None
            params = {}
            if not target.startswith("key:"):
                raise ActionError(f"{target} is not an API key; suspend it instead")
            key_id = target[4:]
            await anyio.to_thread.run_sync(self._store.set_revoked, key_id, now)
            self._keys.invalidate(key_id)
        elif step.type == "quarantine_model":
            expires = None
            params = {}
            reason = f"{playbook}: {detection.kind} ({detection.id})"
            await anyio.to_thread.run_sync(self._store.set_quarantine, target, True, reason, now)
            self.quarantined[target] = reason
        else:
            expires = None
            params = {"status": await self._webhook(str(step.url), detection)}
        record = ActionRecord(
            action_id=secrets.token_hex(8),
            playbook=playbook,
            kind=step.type,
            target=target,
            params=params,
            reason=f"{detection.kind}: {detection.message}"[:1000],
            created_at=now,
            expires_at=expires,
            reverted_at=None,
            reverted_by=None,
        )
        await anyio.to_thread.run_sync(self._store.add_action, record)
        await self._audit(
            {
                "kind": "action",
                "action": f"response.{step.type}",
                "outcome": "success",
                "response": {
                    "id": record.action_id,
                    "playbook": playbook,
                    "type": step.type,
                    "target": target,
                    "params": params,
                    "expires_at": expires,
                    "detection_id": detection.id,
                    "actor": actor,
                },
                "identity": {"id": detection.identity} if detection.identity else None,
                "model": detection.model,
            }
        )
        log.warning(
            "response action taken",
            extra={"action": step.type, "target": target, "playbook": playbook},
        )
        return record

    async def _webhook(self, url: str, detection: Detection) -> int:
        payload = {"detection": detection.record()["detection"], "rule_id": detection.rule.id}
        delay = 0.5
        status = 0
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            for _attempt in range(3):
                try:
                    response = await client.post(url, json=payload)
                    status = response.status_code
                    if status < 500:
                        return status
                except httpx.HTTPError:
                    status = 0
                await asyncio.sleep(delay)
                delay *= 2
        return status

    async def manual(
        self,
        kind: ActionKind,
        target: str,
        reason: str,
        actor: str,
        minutes: float | None = None,
    ) -> ActionRecord:
        """An admin-initiated action (quarantine a model, suspend an identity): recorded,
        audited and reversible exactly like a playbook's."""
        on_model = kind == "quarantine_model"
        cause = Detection(
            "model-refused" if on_model else "insider",
            Severity.INFO,
            reason,
            identity=None if on_model else target,
            model=target if on_model else None,
        )
        return await self.execute(
            "admin", ActionSettings(type=kind, minutes=minutes), cause, actor=actor
        )

    async def revert(self, action_id: str, actor: str) -> ActionRecord:
        """Undo an action; audited."""
        record = await anyio.to_thread.run_sync(self._store.get_action, action_id)
        if record is None:
            raise ActionError(f"no action {action_id!r}")
        if record.reverted_at is not None:
            raise ActionError(f"action {action_id} was already reverted")
        if record.kind == "webhook":
            raise ActionError("a delivered webhook cannot be reverted")
        now = time.time()
        if record.kind == "suspend_key":
            self._suspended.pop(record.target, None)
        elif record.kind == "throttle":
            self._throttles.pop(record.target, None)
        elif record.kind == "revoke_key":
            key_id = record.target[4:]
            await anyio.to_thread.run_sync(self._store.set_revoked, key_id, None)
            self._keys.invalidate(key_id)
        elif record.kind == "quarantine_model":
            await anyio.to_thread.run_sync(
                self._store.set_quarantine, record.target, False, f"released by {actor}", now
            )
            self.quarantined.pop(record.target, None)
        await anyio.to_thread.run_sync(self._store.revert_action, action_id, now, actor)
        await self._audit(
            {
                "kind": "action",
                "action": "response.revert",
                "outcome": "success",
                "response": {
                    "id": action_id,
                    "type": record.kind,
                    "target": record.target,
                    "actor": actor,
                },
            }
        )
        return replace(record, reverted_at=now, reverted_by=actor)
