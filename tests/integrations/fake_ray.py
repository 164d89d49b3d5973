"""A stand-in for the ``ray`` module: runs tasks in process and records how it was driven."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any


class FakeCrash(Exception):
    """Plays ray.exceptions.WorkerCrashedError."""


class FakeRef:
    """An object reference: the call is made when ``get`` asks for it."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args


class FakeRemote:
    """What ``ray.remote(...)(fn)`` returns."""

    def __init__(self, ray: FakeRay, fn: Callable[..., Any]) -> None:
        self._ray = ray
        self._fn = fn

    def remote(self, *args: Any) -> FakeRef:
        self._ray.submitted.append([c.rel for c in args[0]])
        return FakeRef(self._fn, args)


class FakeRay:
    """``crash_on``: a task whose chunk holds a file with this name in it dies."""

    def __init__(self, crash_on: str = "\0", initialized: bool = False) -> None:
        self.crash_on = crash_on
        self.initialized = initialized
        self.init_calls: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.remote_options: dict[str, Any] = {}
        self.submitted: list[list[str]] = []
        self.max_pending = 0
        self.exceptions = SimpleNamespace(WorkerCrashedError=FakeCrash)

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.init_calls.append(kwargs)
        self.initialized = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False

    def put(self, value: Any) -> Any:
        return value

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": 2.0}

    def remote(self, **options: Any) -> Callable[[Callable[..., Any]], FakeRemote]:
        self.remote_options = options
        return lambda fn: FakeRemote(self, fn)

    def wait(self, refs: list[FakeRef], num_returns: int = 1) -> tuple[list[Any], list[Any]]:
        self.max_pending = max(self.max_pending, len(refs))
        # finish the newest first: the executor must not depend on completion order
        return refs[-num_returns:], refs[:-num_returns]

    def get(self, ref: FakeRef) -> Any:
        chunk = ref.args[0]
        if any(self.crash_on in c.rel for c in chunk):
            raise FakeCrash("worker died")
        return ref.fn(*ref.args)
