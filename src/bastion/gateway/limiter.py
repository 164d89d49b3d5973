"""Rate limits and daily query budgets with the ``limits`` package (memory or Redis).

Per identity (with per-role overrides), per client address, failed authentications per address,
and playbook throttles. Budgets count inference rows per identity in a 24-hour fixed window
(one counter, cheap even at 100k rows). With ``redis://`` every replica shares the counters, so
a limit holds across processes; the moving-window strategy is exact (no burst at window edges).
Results carry what the ``RateLimit``/``RateLimit-Policy`` headers (IETF draft -09) and
``Retry-After`` need.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerDay, WindowStats, parse, parse_many
from limits import strategies as sync_strategies
from limits.aio.storage import Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.storage import MemoryStorage as SyncMemoryStorage
from limits.storage import storage_from_string

from bastion.gateway.identity import Identity
from bastion.gateway.settings import LimitSettings
from bastion.gateway.types import Headers

_STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
}
_SYNC: dict[str, type[sync_strategies.RateLimiter]] = {
    "moving-window": sync_strategies.MovingWindowRateLimiter,
    "fixed-window": sync_strategies.FixedWindowRateLimiter,
    "sliding-window-counter": sync_strategies.SlidingWindowCounterRateLimiter,
}


class _InProcess:
    """The synchronous in-memory strategy behind the async interface.

    NOTE: the async memory storage of ``limits`` runs its expiry sweep through
    ``asyncio.to_thread`` on every call, which dominated the gateway's profile; the synchronous
    storage expires from a timer thread instead. Calls never await, so on the event loop each
    check-and-count is atomic, which keeps limits exact under concurrent requests.
    """

    def __init__(self, strategy: sync_strategies.RateLimiter) -> None:
        self._strategy = strategy

    async def hit(self, item: RateLimitItem, *ids: str, cost: int = 1) -> bool:
        """Count and check."""
        return self._strategy.hit(item, *ids, cost=cost)

    async def test(self, item: RateLimitItem, *ids: str, cost: int = 1) -> bool:
        """Check without counting."""
        return self._strategy.test(item, *ids, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        """Remaining requests and reset time."""
        return self._strategy.get_window_stats(item, *ids)


class _LoopMemoryStorage(SyncMemoryStorage):
    """Memory storage that expires old entries inline, at most once a second.

    NOTE: the stock storage starts a ``threading.Timer`` whenever none is alive, i.e. a new
    thread for almost every request under load (the largest cost in the gateway's profile).
    """

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class _InProcessStorage:
    """Health and reset of the synchronous memory storage."""

    def __init__(self, storage: SyncMemoryStorage) -> None:
        self._storage = storage

    async def check(self) -> bool:
        """Always reachable (in process)."""
        return bool(self._storage.check())

    async def reset(self) -> Any:
        """Forget every counter."""
        return self._storage.reset()


@dataclass(frozen=True)
class LimitResult:
    """The outcome of one check: allowed or not, and the numbers for the headers."""

    allowed: bool
    policy: str
    limit: int
    window: int
    remaining: int
    reset_in: float

    def headers(self) -> Headers:
        """``RateLimit-Policy``, ``RateLimit`` and, when refused, ``Retry-After``."""
        reset = max(0, math.ceil(self.reset_in))
        out: Headers = [
            (b"ratelimit-policy", f'"{self.policy}";q={self.limit};w={self.window}'.encode()),
            (b"ratelimit", f'"{self.policy}";r={max(0, self.remaining)};t={reset}'.encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, reset)).encode()))
        return out


def _items(values: tuple[str, ...]) -> tuple[RateLimitItem, ...]:
    items: list[RateLimitItem] = []
    for value in values:
        items.extend(parse_many(value))
    return tuple(items)


class Limiter:
    """Checks and counts requests against the configured limits."""

    def __init__(
        self, settings: LimitSettings, storage_uri: str | None = None, namespace: str = "bastion"
    ) -> None:
        self.settings = settings
        self.namespace = namespace
        self.storage: Storage | _InProcessStorage
        self._strategy: RateLimiter | _InProcess
        self._budget_strategy: RateLimiter | _InProcess
        if storage_uri is None:
            memory = _LoopMemoryStorage()
            self.storage = _InProcessStorage(memory)
            self._strategy = _InProcess(_SYNC[settings.strategy](memory))
            self._budget_strategy = _InProcess(sync_strategies.FixedWindowRateLimiter(memory))
        else:
            uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
            storage = storage_from_string(uri, implementation="redispy")
            if not isinstance(storage, Storage):
                raise ValueError(f"{storage_uri}: not an async rate-limit storage")
            self.storage = storage
            self._strategy = _STRATEGIES[settings.strategy](storage)
            self._budget_strategy = FixedWindowRateLimiter(storage)
        self._identity = _items(settings.per_identity)
        self._address = _items(settings.per_address)
        self._auth = _items(settings.auth_failures_per_address)
        self._roles = {
            name: (
                _items(spec.per_identity) if spec.per_identity is not None else None,
                _items(spec.per_address) if spec.per_address is not None else None,
                spec.daily_query_budget,
            )
            for name, spec in settings.roles.items()
        }

    async def healthy(self) -> bool:
        """Whether the storage answers."""
        try:
            return bool(await self.storage.check())
        except Exception:
            return False

    def _role_spec(
        self, identity: Identity
    ) -> tuple[tuple[RateLimitItem, ...] | None, tuple[RateLimitItem, ...] | None, int | None]:
        for role in identity.roles:
            if role in self._roles:
                return self._roles[role]
        return None, None, None

    async def _hit_all(
        self,
        scope: str,
        items: tuple[RateLimitItem, ...],
        key: str,
        strategy: RateLimiter | _InProcess | None = None,
        cost: int = 1,
        report: bool = False,
    ) -> LimitResult | None:
        strategy = strategy or self._strategy
        first: tuple[RateLimitItem, str] | None = None
        for index, item in enumerate(items):
            name = f"{scope}-{index}"
            if not await strategy.hit(item, self.namespace, scope, key, cost=cost):
                return await self._result(False, name, item, key, scope, strategy)
            if first is None:
                first = (item, name)
        if first is None or not report or not self.settings.headers:
            return None
        return await self._result(True, first[1], first[0], key, scope, strategy)

    async def _result(
        self,
        allowed: bool,
        name: str,
        item: RateLimitItem,
        key: str,
        scope: str,
        strategy: RateLimiter | _InProcess,
    ) -> LimitResult:
        stats = await strategy.get_window_stats(item, self.namespace, scope, key)
        return LimitResult(
            allowed=allowed,
            policy=name,
            limit=item.amount,
            window=item.get_expiry(),
            remaining=stats.remaining,
            reset_in=max(0.0, stats.reset_time - time.time()),
        )

    async def check_identity(self, identity: Identity) -> LimitResult | None:
        """Count a request of an identity; a refused result means 429."""
        per_identity, _per_address, _budget = self._role_spec(identity)
        items = per_identity if per_identity is not None else self._identity
        return await self._hit_all("identity", items, identity.id, report=True)

    async def check_address(self, address: str, identity: Identity | None) -> LimitResult | None:
        """Count a request from a client address."""
        per_address = None
        if identity is not None:
            per_address = self._role_spec(identity)[1]
        items = per_address if per_address is not None else self._address
        return await self._hit_all("address", items, address)

    async def check_throttle(self, identity: Identity, limit: str) -> LimitResult | None:
        """Count a request against a playbook throttle."""
        return await self._hit_all("throttle", (parse(limit),), identity.id)

    async def auth_blocked(self, address: str) -> LimitResult | None:
        """A refused result when the address already failed authentication too often."""
        for index, item in enumerate(self._auth):
            if not await self._strategy.test(item, self.namespace, "authfail", address):
                return await self._result(
                    False, f"auth-failures-{index}", item, address, "authfail", self._strategy
                )
        return None

    async def auth_failed(self, address: str) -> bool:
        """Count a failed authentication; ``False`` when this failure crossed the limit."""
        ok = True
        for item in self._auth:
            ok = await self._strategy.hit(item, self.namespace, "authfail", address) and ok
        return ok

    def budget_for(self, identity: Identity) -> int:
        """The identity's daily row budget."""
        budget = self._role_spec(identity)[2]
        return budget if budget is not None else self.settings.daily_query_budget

    async def charge_budget(self, identity: Identity, rows: int) -> LimitResult:
        """Charge inference rows to the daily budget (the numbers are exact only when the
        charge is refused; an allowed charge skips the extra storage round trip)."""
        budget = self.budget_for(identity)
        item = RateLimitItemPerDay(max(budget, 1))
        strategy = self._budget_strategy
        if budget <= 0:
            return LimitResult(False, "daily-budget", 0, 86400, 0, 86400.0)
        if await strategy.hit(item, self.namespace, "budget", identity.id, cost=rows):
            return LimitResult(True, "daily-budget", budget, 86400, -1, 0.0)
        return await self._result(False, "daily-budget", item, identity.id, "budget", strategy)

    async def reset(self) -> None:
        """Clear every counter (tests)."""
        await self.storage.reset()
