"""The [assess] table: validation errors name the file and the key; thresholds resolve per ε."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.assess.config import parse_assess
from bastion.assess.errors import AssessConfigError

BASE = {
    "data": {"train": "train.npz", "test": "test.npz"},
    "targets": {"forest": {"kind": "sklearn", "path": "forest.skops"}},
}


def test_minimal_table_resolves_paths(tmp_path: Path) -> None:
    settings = parse_assess(BASE, source="bastion.toml", base_dir=tmp_path)
    assert settings.data.train == tmp_path / "train.npz"
    assert settings.targets[0].path == tmp_path / "forest.skops"
    assert settings.checks == ("robustness", "privacy", "data")
    assert settings.threads == 1


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"robustness": {"attacks": ["pgd", "deepfool"]}}, "deepfool"),
        ({"robustness": {"epsilons": [0.1, -0.2]}}, "epsilons"),
        ({"targets": {"m": {"kind": "torch", "path": "m.pt"}}}, "entry"),
        ({"targets": {"api": {"kind": "http", "url": "ftp://x"}}}, "http"),
        ({"privacy": {"max_auc": 1.5}}, "max_auc"),
        ({"surprise": 1}, "surprise"),
        ({"data": {"test": "x.npz"}}, "training data"),
    ],
)
def test_invalid_tables_name_the_problem(tmp_path: Path, change: dict, needle: str) -> None:
    raw = {**BASE, **change}
    with pytest.raises(AssessConfigError) as err:
        parse_assess(raw, source="policy/bastion.toml", base_dir=tmp_path)
    assert "policy/bastion.toml" in str(err.value)
    assert needle in str(err.value)


def test_robust_thresholds_exact_then_default(tmp_path: Path) -> None:
    raw = {**BASE, "robustness": {"min_robust_accuracy": {"0.1": 0.6, "default": 0.2}}}
    spec = parse_assess(raw, source="b.toml", base_dir=tmp_path).robustness
    assert spec.robust_threshold(0.1) == 0.6
    assert spec.robust_threshold(0.3) == 0.2
    flat = parse_assess(
        {**BASE, "robustness": {"min_robust_accuracy": 0.5}}, source="b", base_dir=tmp_path
    ).robustness
    assert flat.robust_threshold(0.05) == 0.5


def test_bad_epsilon_key(tmp_path: Path) -> None:
    raw = {**BASE, "robustness": {"min_robust_accuracy": {"small": 0.6}}}
    with pytest.raises(AssessConfigError, match="small"):
        parse_assess(raw, source="b.toml", base_dir=tmp_path)
