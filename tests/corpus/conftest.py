"""Session fixtures: the corpus is built once, scanned once, and its marker directory watched."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.core import ScanResult
from bastion.scan.engine import scan
from tests.corpus import Sample, build_corpus


@dataclass(frozen=True)
class BuiltCorpus:
    """A generated corpus: where it is, its labels, and where payloads would leave markers."""

    root: Path
    markers: Path
    samples: tuple[Sample, ...]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltCorpus]:
    """The whole corpus, generated once per session; fails the session if a marker appears."""
    root = tmp_path_factory.mktemp("corpus")
    markers = tmp_path_factory.mktemp("corpus-markers")
    samples = build_corpus(root, marker_dir=markers)
    yield BuiltCorpus(root, markers, tuple(samples))
    leaked = sorted(p.name for p in markers.iterdir())
    assert not leaked, f"an inert payload ran: {leaked}"


@pytest.fixture(scope="session")
def corpus_result(corpus: BuiltCorpus) -> ScanResult:
    """One bastion scan of the whole corpus."""
    return scan(corpus.root)
