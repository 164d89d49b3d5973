"""The behaviour monitor: feeds baselines and raises detections.

Checks on every request (cheap, inline): bursts and error-rate spikes in the open interval
(robust z-score against the identity's own closed intervals, with an absolute floor), credential
sharing (distinct addresses in a window), insider misuse (a model or an hour of the day never
seen in an established history) and extraction (many rows in an interval, largely out of
distribution or near-duplicate probes). When an interval closes and enough history exists, an
isolation forest (scikit-learn) trained on the identity's intervals scores it. Each kind fires at
most once per cooldown per identity.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np

from bastion.core import Severity
from bastion.gateway.anomaly.baseline import Baseline, Observation, robust_z
from bastion.gateway.detections import Detection
from bastion.gateway.settings import AnomalySettings

_MAX_IDENTITIES = 50_000
_FOREST_REFIT = 32


class BehaviourMonitor:
    """Per-identity baselines and detectors."""

    def __init__(self, settings: AnomalySettings) -> None:
        self.settings = settings
        self._baselines: OrderedDict[str, Baseline] = OrderedDict()

    def baseline(self, identity: str) -> Baseline | None:
        """The baseline of an identity, if it has one."""
        return self._baselines.get(identity)

    def may_alert(self, identity: str, kind: str, now: float) -> bool:
        """Whether a detection of this kind may fire for the identity (cooldown)."""
        base = self._baselines.get(identity)
        if base is None:
            base = Baseline(now, self.settings.bucket_seconds)
            self._baselines[identity] = base
        return base.cooled(kind, now, self.settings.cooldown_seconds)

    def observe(self, obs: Observation) -> list[Detection]:
        """Learn from one request; returns any detections it triggers."""
        if not self.settings.enabled:
            return []
        base = self._baselines.get(obs.identity)
        if base is None:
            base = Baseline(obs.time, self.settings.bucket_seconds)
            self._baselines[obs.identity] = base
            if len(self._baselines) > _MAX_IDENTITIES:
                self._baselines.popitem(last=False)
        else:
            self._baselines.move_to_end(obs.identity)
        found: list[Detection] = []
        closed = base.roll(obs.time)
        prior = len(base.history) - len(closed)
        for row in closed:
            found.extend(self._closed(obs, base, row, prior))
        found.extend(self._insider(obs, base))
        base.add(obs)
        found.extend(self._inline(obs, base))
        return found

    def _emit(
        self,
        base: Baseline,
        obs: Observation,
        kind: str,
        severity: Severity,
        message: str,
        evidence: dict[str, Any],
    ) -> list[Detection]:
        if not base.cooled(kind, obs.time, self.settings.cooldown_seconds):
            return []
        return [
            Detection(
                kind,
                severity,
                message,
                identity=obs.identity,
                model=obs.model,
                address=obs.address,
                evidence=evidence,
            )
        ]

    def _insider(self, obs: Observation, base: Baseline) -> list[Detection]:
        s = self.settings
        if base.total < s.insider_min_requests:
            return []
        found: list[Detection] = []
        if obs.model is not None and obs.model not in base.models:
            found += self._emit(
                base,
                obs,
                "insider",
                Severity.MEDIUM,
                f"{obs.identity} reached model {obs.model!r} for the first time "
                f"after {base.total} requests",
                {"reason": "new-model", "known_models": len(base.models)},
            )
        hour = time.gmtime(obs.time).tm_hour
        if base.hours[hour] == 0:
            found += self._emit(
                base,
                obs,
                "insider",
                Severity.MEDIUM,
                f"{obs.identity} active at {hour:02d}:00 UTC, an hour it never "
                f"used in {base.total} requests",
                {"reason": "new-hour", "hour": hour},
            )
        return found

    def _inline(self, obs: Observation, base: Baseline) -> list[Detection]:
        s = self.settings
        found: list[Detection] = []
        enough = len(base.history) >= s.min_history
        if enough and base.b_requests >= s.min_burst:
            z = robust_z(base.b_requests, base.column("requests"), 1.0)
            if z >= s.z_threshold:
                found += self._emit(
                    base,
                    obs,
                    "burst",
                    Severity.HIGH,
                    f"{obs.identity}: {base.b_requests} requests this interval, "
                    f"robust z = {z:.1f} against its baseline",
                    {"requests": base.b_requests, "z": round(z, 2)},
                )
            rate = base.b_errors / base.b_requests
            ez = robust_z(rate, base.column("error_rate"), 0.05)
            if ez >= s.z_threshold and rate >= 0.5:
                found += self._emit(
                    base,
                    obs,
                    "error-rate",
                    Severity.MEDIUM,
                    f"{obs.identity}: {rate:.0%} of requests rejected this "
                    f"interval, robust z = {ez:.1f}",
                    {"error_rate": round(rate, 3), "z": round(ez, 2)},
                )
        addresses = base.recent_addresses(obs.time, s.address_window_seconds)
        if addresses > s.max_addresses:
            found += self._emit(
                base,
                obs,
                "credential-sharing",
                Severity.HIGH,
                f"{obs.identity} used from {addresses} addresses within "
                f"{s.address_window_seconds:.0f} s",
                {"addresses": addresses},
            )
        if base.b_rows >= s.extraction_min_rows:
            ood_share = base.b_ood / max(base.b_rows, 1)
            if ood_share >= 0.25 or base.b_probes >= s.probe_min_pairs:
                found += self._emit(
                    base,
                    obs,
                    "extraction",
                    Severity.HIGH,
                    f"{obs.identity}: {base.b_rows} rows this interval, "
                    f"{ood_share:.0%} out of distribution, {base.b_probes} "
                    "near-duplicate probes",
                    {
                        "rows": base.b_rows,
                        "ood_share": round(ood_share, 3),
                        "probes": base.b_probes,
                    },
                )
        return found

    def _closed(
        self, obs: Observation, base: Baseline, row: tuple[float, ...], prior: int
    ) -> list[Detection]:
        s = self.settings
        if prior < s.forest_min_buckets or row[0] == 0:
            return []
        history = np.asarray(list(base.history)[:prior], dtype=np.float64)
        if base.forest is None or prior - base.forest_fitted_at >= _FOREST_REFIT:
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(
                n_estimators=64, max_samples=min(128, len(history)), random_state=0
            ).fit(history)
            trained = forest.decision_function(history)
            base.forest = (forest, float(np.min(trained)), float(np.median(trained)))
            base.forest_fitted_at = prior
        forest, lowest, typical = base.forest
        score = float(forest.decision_function(np.asarray([row]))[0])
        # NOTE: an isolation forest cannot isolate a point beyond the range it was trained on
        # (split thresholds are drawn inside each node's range), so it is paired with robust
        # z-scores per feature: far out of range and below the typical score, or below every
        # training score and half as far out, is an outlier.
        median = np.median(history, axis=0)
        scale = np.maximum(
            np.median(np.abs(history - median), axis=0) * 1.4826,
            np.maximum(np.abs(median) * 0.1, 0.05),
        )
        z = float(np.max(np.abs(np.asarray(row) - median) / scale))
        threshold = s.z_threshold
        if (z >= threshold and score < typical) or (score < lowest and z >= threshold / 2):
            return self._emit(
                base,
                obs,
                "behaviour-outlier",
                Severity.MEDIUM,
                f"{obs.identity}: the last interval is an outlier of its own history "
                f"(isolation score {score:.3f}, max robust z {z:.1f})",
                {
                    "score": round(score, 4),
                    "z": round(z, 2),
                    "interval": [round(v, 3) for v in row],
                },
            )
        return []
