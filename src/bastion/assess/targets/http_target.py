"""Remote prediction endpoints: black-box targets with a query budget and a request rate.

Protocol (configurable field names): ``POST url`` with ``{"inputs": [[...], ...]}`` and a JSON
reply ``{"probabilities": [[...], ...]}`` — or labels, ``[3, 1, ...]``, with ``output = "label"``.
Requests are paced by a token bucket at ``rate`` requests per second; HTTP 429 is retried after
``Retry-After`` (capped), 5xx and timeouts with exponential back-off, up to ``max_retries``;
then an :class:`EndpointError` says which. Every row counts against ``query_budget``; when it is
spent, :class:`QueryBudgetExceeded` stops the attack and the report states how far it got.
Header values come from environment variables (``headers_from_env``), never from the file.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Literal

import numpy as np

from bastion.assess.errors import EndpointError
from bastion.assess.targets.interface import NDArray, Target

MAX_RETRY_AFTER_S = 30.0
MAX_REPLY_BYTES = 64 * 1024 * 1024


class TokenBucket:
    """Paces calls to ``rate`` per second with bursts of ``burst``."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    def take(self) -> None:
        """Wait until a token is available, then use it."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)
            self._last = self._clock()
            self._tokens = 0.0
        else:
            self._tokens -= 1.0


class HttpTarget(Target):
    """A classifier behind an HTTP JSON API."""

    remote = True

    def __init__(
        self,
        name: str,
        url: str,
        n_classes: int,
        *,
        output: Literal["auto", "logits", "proba", "label"] = "auto",
        query_budget: int = 100_000,
        rate: float = 20.0,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        batch_size: int = 64,
        request_field: str = "inputs",
        response_field: str = "probabilities",
        headers_from_env: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(name, n_classes, query_budget=query_budget)
        self.url = url
        self.output = output
        self.reveals = "label" if output == "label" else "proba"
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.request_field = request_field
        self.response_field = response_field
        self.bucket = TokenBucket(rate)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for header, variable in headers_from_env:
            value = os.environ.get(variable)
            if value is None:
                raise EndpointError(name, f"header {header}: environment variable {variable} unset")
            self.headers[header] = value
        self.requests = 0
        self.retries = 0

    def _post(self, rows: NDArray) -> list[object]:
        body = json.dumps({self.request_field: rows.reshape(len(rows), -1).tolist()}).encode()
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            self.bucket.take()
            self.requests += 1
            request = urllib.request.Request(self.url, data=body, headers=self.headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                    payload = reply.read(MAX_REPLY_BYTES + 1)
                if len(payload) > MAX_REPLY_BYTES:
                    raise EndpointError(self.name, f"{self.url}: reply larger than 64 MiB")
                return self._parse(payload, len(rows))
            except urllib.error.HTTPError as exc:
                if exc.code == 429 or exc.code >= 500:
                    if attempt == self.max_retries:
                        what = "rate-limited (HTTP 429)" if exc.code == 429 else f"HTTP {exc.code}"
                        raise EndpointError(
                            self.name,
                            f"{self.url}: {what} after {self.max_retries} retries",
                            retryable=True,
                        ) from None
                    wait = self._retry_after(exc) if exc.code == 429 else None
                    self.retries += 1
                    time.sleep(wait if wait is not None else delay)
                    delay = min(delay * 2, MAX_RETRY_AFTER_S)
                    continue
                raise EndpointError(
                    self.name, f"{self.url}: HTTP {exc.code} {exc.reason}"
                ) from None
            except TimeoutError:
                if attempt == self.max_retries:
                    raise EndpointError(
                        self.name,
                        f"{self.url}: timed out after {self.timeout_s:g}s "
                        f"({self.max_retries} retries)",
                        retryable=True,
                    ) from None
                self.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_AFTER_S)
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError | socket.timeout):
                    if attempt < self.max_retries:
                        self.retries += 1
                        time.sleep(delay)
                        continue
                    raise EndpointError(
                        self.name,
                        f"{self.url}: timed out after {self.timeout_s:g}s",
                        retryable=True,
                    ) from None
                raise EndpointError(self.name, f"{self.url}: unreachable: {exc.reason}") from None
        raise EndpointError(self.name, f"{self.url}: no reply")  # pragma: no cover

    @staticmethod
    def _retry_after(exc: urllib.error.HTTPError) -> float | None:
        value = exc.headers.get("Retry-After") if exc.headers else None
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER_S) if value else None
        except ValueError:
            return None

    def _parse(self, payload: bytes, rows: int) -> list[object]:
        try:
            data = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EndpointError(self.name, f"{self.url}: reply is not JSON: {exc}") from None
        values = data.get(self.response_field) if isinstance(data, dict) else data
        if not isinstance(values, list) or len(values) != rows:
            raise EndpointError(
                self.name,
                f"{self.url}: expected {self.response_field!r} with {rows} rows in the reply",
            )
        return values

    def _proba(self, x: NDArray) -> NDArray:
        if self.reveals == "label":
            return np.asarray(np.eye(self.n_classes)[self._labels(x)])
        parts = []
        for start in range(0, len(x), self.batch_size):
            values = self._post(x[start : start + self.batch_size])
            try:
                scores = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise EndpointError(self.name, f"{self.url}: scores are not numbers") from None
            if scores.ndim != 2:
                raise EndpointError(self.name, f"{self.url}: scores must be a list of rows")
            parts.append(scores)
        scores = np.concatenate(parts)
        if self.output == "logits" or (
            self.output == "auto" and not np.allclose(scores.sum(axis=1), 1, atol=1e-3)
        ):
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def _labels(self, x: NDArray) -> NDArray:
        if self.reveals == "proba":
            return np.asarray(self._proba(x).argmax(axis=1), dtype=np.int64)
        labels: list[int] = []
        for start in range(0, len(x), self.batch_size):
            values = self._post(x[start : start + self.batch_size])
            try:
                labels.extend(int(v) for v in values)  # type: ignore[call-overload]
            except (TypeError, ValueError):
                raise EndpointError(self.name, f"{self.url}: labels are not integers") from None
        return np.asarray(labels, dtype=np.int64)

    def describe(self) -> dict[str, object]:
        """URL, budget, rate and what was spent."""
        return {
            **super().describe(),
            "url": self.url,
            "query_budget": self.query_budget,
            "rate_per_s": self.bucket.rate,
            "queries": self.queries,
            "requests": self.requests,
            "retries": self.retries,
        }
