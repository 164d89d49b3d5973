"""Hugging Face caches: snapshots scanned per repository and revision through their blob links,
links followed only inside the cache, default location, auto-detection, local_dir downloads."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.app import app
from bastion.core import ScanResult, SkipReason
from bastion.integrations import hf_cache
from bastion.integrations.errors import IntegrationError
from bastion.integrations.sources import open_source
from bastion.scan.engine import ScanOptions, scan
from tests.conftest import inert_command
from tests.formats.pickle import asm

REV_A = "a" * 40
REV_B = "b" * 40
runner = CliRunner()


def _blob(repo: Path, data: bytes, name: str) -> str:
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "blobs" / name).write_bytes(data)
    return name


def _link(repo: Path, revision: str, path: str, blob: str) -> Path:
    """snapshots/<rev>/<path> -> ../../blobs/<blob>, relative as huggingface_hub writes it."""
    target = repo / "snapshots" / revision / path
    target.parent.mkdir(parents=True, exist_ok=True)
    depth = path.count("/") + 2
    target.symlink_to(Path(*([".."] * depth)) / "blobs" / blob)
    return target


def _ref(repo: Path, name: str, revision: str) -> None:
    ref = repo / "refs" / name
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(revision)


def make_cache(hub: Path, marker_dir: Path) -> None:
    """A hub cache: a clean BERT-like model at two revisions (the newer one poisoned), and a
    dataset with a pickle."""
    bert = hub / "models--acme--bert-tiny"
    config = _blob(bert, json.dumps({"model_type": "bert"}).encode(), "c" * 40)
    clean = _blob(bert, pickle.dumps({"w": [1.0, 2.0]}), "d" * 64)
    evil = _blob(bert, asm.call("os", "system", inert_command(marker_dir)), "e" * 64)
    _link(bert, REV_A, "config.json", config)
    _link(bert, REV_A, "pytorch_model.bin", clean)
    _link(bert, REV_B, "config.json", config)
    _link(bert, REV_B, "pytorch_model.bin", evil)
    _link(bert, REV_B, "onnx/extra.pkl", clean)
    _ref(bert, "main", REV_B)
    _ref(bert, "refs/pr/1", REV_A)
    (bert / ".no_exist" / REV_A).mkdir(parents=True)
    (bert / ".no_exist" / REV_A / "tokenizer.json").write_bytes(b"")
    data = hub / "datasets--acme--reviews"
    rows = _blob(data, asm.call("builtins", "eval", "1+1"), "f" * 64)
    _link(data, REV_A, "data/train.pkl", rows)
    _ref(data, "main", REV_A)
    (hub / ".locks" / "models--acme--bert-tiny").mkdir(parents=True)
    (hub / "version.txt").write_text("1")


@pytest.fixture
def hub(tmp_path: Path, marker_dir: Path) -> Path:
    path = tmp_path / "huggingface" / "hub"
    make_cache(path, marker_dir)
    return path


def _scan_cache(path: Path) -> tuple[hf_cache.HfCache, ScanResult]:
    cache = hf_cache.open_cache(path)
    with open_source([f"hf-cache://{path}"]) as source:
        assert source is not None
        return cache, source.scan(ScanOptions(workers=1))


def test_findings_are_named_by_repo_and_revision(hub: Path) -> None:
    cache, result = _scan_cache(hub)
    assert [s.label for s in cache.snapshots] == [
        f"datasets/acme/reviews@{REV_A}",
        f"acme/bert-tiny@{REV_A}",
        f"acme/bert-tiny@{REV_B}",
    ]
    critical = sorted(f.location.path for f in result.findings if f.rule_id == "BST-PKL-001")
    assert critical == [
        f"acme/bert-tiny@{REV_B}/pytorch_model.bin",
        f"datasets/acme/reviews@{REV_A}/data/train.pkl",
    ]
    paths = {a.path for a in result.artifacts}
    assert f"acme/bert-tiny@{REV_B}/onnx/extra.pkl" in paths
    assert f"acme/bert-tiny@{REV_A}/config.json" in paths
    assert not any("blobs" in p or ".no_exist" in p for p in paths)
    assert result.root == f"hf-cache://{hub}"


def test_refs_and_summary_per_revision(hub: Path) -> None:
    cache, result = _scan_cache(hub)
    refs = {s.label: s.refs for s in cache.snapshots}
    assert refs[f"acme/bert-tiny@{REV_B}"] == ("main",)
    assert refs[f"acme/bert-tiny@{REV_A}"] == ("refs/pr/1",)
    lines = cache.summary(result)
    assert f"acme/bert-tiny@{REV_A} [refs/pr/1]: 2 file(s), no findings" in lines
    assert any(
        line.startswith(f"acme/bert-tiny@{REV_B} [main]: 3 file(s), 1 finding(s), worst critical")
        for line in lines
    )


def test_links_are_followed_only_inside_the_cache(hub: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    snap = hub / "models--acme--bert-tiny" / "snapshots" / REV_A
    (snap / "leak.txt").symlink_to(outside)
    (snap / "dangling.bin").symlink_to(Path("..") / ".." / "blobs" / ("0" * 64))
    (snap / "folder").symlink_to(hub / ".locks")
    _, result = _scan_cache(hub)
    leak = f"acme/bert-tiny@{REV_A}/leak.txt"
    assert [f.rule_id for f in result.findings if f.location.path == leak] == ["BST-SCN-003"]
    skipped = {s.path: s for s in result.skipped}
    assert skipped[leak].reason is SkipReason.UNSUPPORTED
    assert "missing blob" in skipped[f"acme/bert-tiny@{REV_A}/dangling.bin"].detail
    assert "not a regular file" in skipped[f"acme/bert-tiny@{REV_A}/folder"].detail
    assert not any(a.path == leak for a in result.artifacts)


def test_one_repository_is_its_own_boundary(hub: Path) -> None:
    """Named alone, a repository's links may not reach into another repository's blobs."""
    bert = hub / "models--acme--bert-tiny"
    other = hub / "datasets--acme--reviews" / "blobs" / ("f" * 64)
    (bert / "snapshots" / REV_A / "borrowed.pkl").symlink_to(other)
    repo = hf_cache.open_cache(bert)
    assert repo.kind is hf_cache.CacheKind.REPO
    events = list(repo.events(()))
    escapes = [e for e in events if type(e).__name__ == "LinkEscape"]
    assert [e.rel for e in escapes] == [f"acme/bert-tiny@{REV_A}/borrowed.pkl"]
    whole = hf_cache.open_cache(hub)  # the whole cache: inside the boundary, analyzed
    assert any(
        getattr(e, "rel", "") == f"acme/bert-tiny@{REV_A}/borrowed.pkl" and e.path == str(other)
        for e in whole.events(())
    )


def test_one_snapshot(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = hub / "models--acme--bert-tiny" / "snapshots" / REV_B
    cache = hf_cache.open_cache(snap)
    assert cache.kind is hf_cache.CacheKind.SNAPSHOT
    assert [s.label for s in cache.snapshots] == [f"acme/bert-tiny@{REV_B}"]
    monkeypatch.chdir(snap)
    result = runner.invoke(app, ["scan", ".", "-f", "json"])  # from inside the snapshot
    paths = {a["path"] for a in json.loads(result.stdout)["artifacts"]}
    assert f"acme/bert-tiny@{REV_B}/pytorch_model.bin" in paths
    assert result.exit_code == 1


def test_hf_home_and_default_location(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = hub.parent
    assert hf_cache.classify(home) is hf_cache.CacheKind.HOME
    assert hf_cache.open_cache(home).root == hub
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    assert hf_cache.default_cache_dir() == hub
    monkeypatch.setenv("HF_HUB_CACHE", str(hub / "elsewhere"))
    assert hf_cache.default_cache_dir() == hub / "elsewhere"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home.parent))
    assert hf_cache.default_cache_dir() == hub


def test_cli_default_cache_and_auto_detection(
    hub: Path, monkeypatch: pytest.MonkeyPatch, marker_dir: Path
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    explicit = runner.invoke(app, ["scan", "hf-cache://", "-f", "json"])
    assert explicit.exit_code == 1, explicit.output
    report = json.loads(explicit.stdout)
    assert report["target"] == f"hf-cache://{hub}"
    auto = runner.invoke(app, ["scan", str(hub / "models--acme--bert-tiny"), "-f", "json"])
    assert auto.exit_code == 1, auto.output
    paths = {f["location"]["path"] for f in json.loads(auto.stdout)["findings"]}
    assert paths == {f"acme/bert-tiny@{REV_B}/pytorch_model.bin"}
    table = runner.invoke(app, ["scan", "hf-cache://"])
    assert f"acme/bert-tiny@{REV_B} [main]: 3 file(s)" in table.stderr
    assert not (marker_dir / "pwned").exists()


def test_local_dir_download(tmp_path: Path, marker_dir: Path) -> None:
    folder = tmp_path / "bert-tiny"
    meta = folder / ".cache" / "huggingface" / "download"
    meta.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(asm.call("os", "system", inert_command(marker_dir)))
    (folder / "config.json").write_text("{}")
    for name in ("model.pkl", "config.json"):
        (meta / f"{name}.metadata").write_text(f'{REV_A}\n"etag"\n1700000000.0\n')
    cache = hf_cache.open_cache(folder)
    assert cache.kind is hf_cache.CacheKind.LOCAL_DIR
    assert cache.local_revisions == ((REV_A, 2),)
    result = runner.invoke(app, ["scan", f"hf-cache://{folder}"])
    assert result.exit_code == 1
    assert f"bert-tiny: downloaded revision(s) {REV_A[:12]} (2 files)" in result.stderr
    report = runner.invoke(app, ["scan", f"hf-cache://{folder}", "-f", "json"]).stdout
    assert {a["path"] for a in json.loads(report)["artifacts"]} == {"config.json", "model.pkl"}
    assert not hf_cache.is_cache(folder)  # a plain scan of it stays a plain scan
    assert {a.path for a in scan(folder).artifacts} >= {"config.json", "model.pkl"}


def test_not_a_cache(tmp_path: Path) -> None:
    with pytest.raises(IntegrationError, match="not a Hugging Face cache"):
        hf_cache.open_cache(tmp_path)
    result = runner.invoke(app, ["scan", f"hf-cache://{tmp_path}"])
    assert result.exit_code == 2
    assert "not a Hugging Face cache" in result.stderr
    both = runner.invoke(app, ["scan", f"hf-cache://{tmp_path}", str(tmp_path)])
    assert both.exit_code == 2 and "must be the only target" in both.stderr


def test_hostile_layouts_do_not_hang_or_crash(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    repo = hub / "models--x--loop"
    snap = repo / "snapshots" / REV_A
    snap.mkdir(parents=True)
    (snap / "self").symlink_to(snap)  # a loop: links to folders are never walked
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_bytes(os.urandom(4096))  # garbage ref
    deep = snap
    for _ in range(70):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "w.pkl").write_bytes(b"\x80\x04K\x01.")
    cache = hf_cache.open_cache(hub)
    assert cache.snapshots[0].refs == ()
    with open_source([f"hf-cache://{hub}"]) as source:
        assert source is not None
        result = source.scan(ScanOptions(workers=1))
    details = [s.detail for s in result.skipped]
    assert any("deeper than 64 folders" in d for d in details)
    assert any("not a regular file" in d for d in details)
