"""The engine: process pool, crash isolation, determinism, plugins, progress."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from pathlib import Path

import pytest

from bastion.core import Severity, SkipReason
from bastion.registry import Registry, RegistryError, _load_plugin
from bastion.rules import Rule
from bastion.scan import engine
from bastion.scan.blob import Blob
from bastion.scan.engine import ScanOptions, scan
from bastion.scan.interface import AnalysisContext, Analyzer
from tests.formats.pickle import asm


def _tree(root: Path, count: int) -> None:
    for i in range(count):
        sub = root / f"d{i % 5}"
        sub.mkdir(parents=True, exist_ok=True)
        data = asm.call("os", "system", "true") if i % 7 == 0 else pickle.dumps({"i": i})
        (sub / f"m{i}.pkl").write_bytes(data)


def test_pool_and_in_process_give_identical_results(tmp_path: Path) -> None:
    _tree(tmp_path, 60)
    single = scan(tmp_path, ScanOptions(workers=1))
    pooled = scan(tmp_path, ScanOptions(workers=2))
    assert [f.fingerprint for f in single.findings] == [f.fingerprint for f in pooled.findings]
    assert single.artifacts == pooled.artifacts
    assert len([f for f in single.findings if f.severity is Severity.CRITICAL]) == 9


def test_a_crashing_worker_costs_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, 30)
    real = engine.analyze_file

    def crashing(candidate, settings, registry=None):  # type: ignore[no-untyped-def]
        if candidate.rel.endswith("m3.pkl"):
            os._exit(13)  # what a segfault in a native parser looks like to the pool
        return real(candidate, settings, registry)

    monkeypatch.setattr(engine, "analyze_file", crashing)
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(engine, "_context", lambda: fork)
    result = scan(tmp_path, ScanOptions(workers=2))
    crashed = [s for s in result.skipped if s.reason is SkipReason.ERROR]
    assert [s.path for s in crashed] == ["d3/m3.pkl"]
    assert len({a.path for a in result.artifacts}) == 30


def test_progress_sink_sees_every_file(tmp_path: Path) -> None:
    _tree(tmp_path, 10)
    events: list[tuple[str, int]] = []

    class Sink:
        def start(self, total: int) -> None:
            events.append(("start", total))

        def advance(self, count: int) -> None:
            events.append(("advance", count))

        def finish(self) -> None:
            events.append(("finish", 0))

    scan(tmp_path, progress=Sink())
    assert events[0] == ("start", 10) and events[-1] == ("finish", 0)
    assert sum(n for kind, n in events if kind == "advance") == 10


def test_default_excludes_and_custom_excludes(tmp_path: Path) -> None:
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "objects" / "x.pkl").write_bytes(asm.call("os", "system", "x"))
    (tmp_path / "keep.pkl").write_bytes(asm.call("os", "system", "x"))
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "f.pkl").write_bytes(asm.call("os", "system", "x"))
    paths = {f.location.path for f in scan(tmp_path).findings}
    assert paths == {"keep.pkl", "fixtures/f.pkl"}
    paths = {f.location.path for f in scan(tmp_path, ScanOptions(exclude=("fixtures/",))).findings}
    assert paths == {"keep.pkl"}
    every = scan(tmp_path, ScanOptions(default_excludes=False))
    assert ".git/objects/x.pkl" in {f.location.path for f in every.findings}


class _DemoAnalyzer(Analyzer):
    """A plugin that claims files starting with DEMO."""

    name = "demo"
    formats = ("demo",)
    rules = (Rule("BST-DEMO-001", "Demo format seen", Severity.LOW, "models", doc="Demo."),)

    @classmethod
    def sniff(cls, head: bytes, name: str) -> str | None:
        return "demo" if head.startswith(b"DEMO") else None

    def analyze(self, blob: Blob, ctx: AnalysisContext) -> None:
        ctx.report(self.rules[0].finding(ctx.location(), "demo file"))


def test_plugin_analyzers_claim_formats(tmp_path: Path) -> None:
    from bastion.registry import default_registry

    registry = Registry()
    for analyzer in default_registry().analyzers:
        registry.add_analyzer(type(analyzer))
    registry.add_analyzer(_DemoAnalyzer)
    (tmp_path / "x.demo").write_bytes(b"DEMO data")
    result = scan(tmp_path, ScanOptions(workers=1), registry=registry)
    assert [f.rule_id for f in result.findings] == ["BST-DEMO-001"]


def test_bad_plugins_are_refused_clearly() -> None:
    with pytest.raises(RegistryError, match="not an Analyzer"):
        _load_plugin("bad", "pkg:thing", lambda: object)

    def broken() -> object:
        raise ImportError("no module named pkg")

    with pytest.raises(RegistryError, match="failed to load"):
        _load_plugin("bad", "pkg:thing", broken)
    registry = Registry()
    registry.add_rules([Rule("BST-X-001", "a", Severity.LOW, "models")])
    with pytest.raises(RegistryError, match="defined twice"):
        registry.add_rules([Rule("BST-X-001", "b", Severity.LOW, "models")])


def test_native_parser_crash_in_process_costs_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HDF5 files run in a child process even in single-process scans."""
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "ok.pkl").write_bytes(pickle.dumps([1]))
    real = engine.analyze_file

    def crashing(candidate, settings, registry=None):  # type: ignore[no-untyped-def]
        if candidate.rel == "model.h5":
            os._exit(11)
        return real(candidate, settings, registry)

    monkeypatch.setattr(engine, "analyze_file", crashing)
    # NOTE: the crash is injected by patching this process; only forked children inherit it
    # (threads left by other tests would otherwise make the engine pick "spawn").
    fork = multiprocessing.get_context("fork")
    monkeypatch.setattr(engine, "_context", lambda: fork)
    result = scan(tmp_path, ScanOptions(workers=1))
    assert [s.path for s in result.skipped if s.reason is SkipReason.ERROR] == ["model.h5"]
    assert "ok.pkl" in {a.path for a in result.artifacts}
