"""Session cache of the benign groups: each is generated and scanned once, on first use."""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable

import pytest

from tests.benign_real.base import GroupResult, Recorder, scan_group
from tests.benign_real.groups import group

os.environ.setdefault("KERAS_BACKEND", "torch")
# Generators use the libraries offline: nothing may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def benign_group(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GroupResult]:
    """Build and scan a group on first request (skipped when a package it needs is missing)."""
    cache: dict[str, GroupResult] = {}

    def get(name: str) -> GroupResult:
        if name not in cache:
            spec = group(name)
            missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
            if missing:
                pytest.skip(f"benign group {name} needs {', '.join(missing)}")
            root = tmp_path_factory.mktemp(f"benign-{name}")
            recorder = Recorder(root / "artifacts")
            recorder.root.mkdir()
            recorder.expected.extend(spec.expected)
            with warnings.catch_warnings():
                # NOTE: the libraries warn about their own deprecations while writing files;
                # only bastion's scan below runs under the suite's warnings-as-errors.
                warnings.simplefilter("ignore")
                spec.generate(recorder)
            cache[name] = scan_group(name, recorder)
        return cache[name]

    return get
