"""Shared fixtures: an inert-payload marker directory that must stay empty, and scan helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture
def marker_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory inert payloads would write into; the test fails if anything appears in it."""
    path = tmp_path_factory.mktemp("markers")
    yield path
    leaked = sorted(p.name for p in path.iterdir())
    assert not leaked, f"an inert payload ran: {leaked}"


def inert_command(marker_dir: Path, name: str = "pwned") -> str:
    """The only command a generated malicious sample may carry: create a marker file."""
    return f"touch {marker_dir / name}"
