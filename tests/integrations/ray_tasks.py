"""Module-level task functions for the Ray tests (Ray workers import them by name)."""

from __future__ import annotations

import os

from bastion.scan.discover import Candidate
from bastion.scan.engine import FileOutcome
from bastion.scan.executors import analyze_chunk
from bastion.scan.interface import ScanSettings


def die_on_boom(chunk: list[Candidate], settings: ScanSettings) -> list[FileOutcome]:
    """Like the default task, but the worker process dies on any file named ``boom*``: what a
    segfault in a native parser looks like to Ray."""
    if any(os.path.basename(c.rel).startswith("boom") for c in chunk):
        os._exit(11)
    return analyze_chunk(chunk, settings)
