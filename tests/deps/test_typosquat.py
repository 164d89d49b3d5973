"""Typosquat detection: each kind of slip, known confusions, no false positives on real lists."""

from __future__ import annotations

import importlib.metadata
import random
from pathlib import Path

import pytest

from bastion.scan.deps.lockfiles import normalize_name, read_lockfile
from bastion.scan.deps.popular import LEGITIMATE_NEIGHBOURS, TARGETS
from bastion.scan.deps.typosquat import (
    CONFUSION_TARGETS,
    KNOWN_CONFUSIONS,
    find_typosquat,
    match_target,
    osa_distance,
)

from .conftest import PROJECTS_DIR, ids, scan_dir


@pytest.mark.parametrize(
    ("name", "target", "reason"),
    [
        ("scikitlearn", "scikit-learn", "separators"),
        ("tensor-flow", "tensorflow", "separators"),
        ("t0rch", "torch", "confusable"),
        ("nurnpy", "numpy", "confusable"),
        ("python-numpy", "numpy", "affix"),
        ("pandas-python", "pandas", "affix"),
        ("pytransformers", "transformers", "affix"),
        ("tensorfow", "tensorflow", "edit"),
        ("reqeusts", "requests", "edit"),
        ("transformer", "transformers", "edit"),
        ("torchvison", "torchvision", "edit"),
        ("matplotlb", "matplotlib", "edit"),
        ("scikit-lern", "scikit-learn", "edit"),
        ("tqmd", "tqdm", "edit"),
        ("pytorchh", "torch", "edit"),
        ("skleran", "scikit-learn", "edit"),
    ],
)
def test_squats_are_found(name: str, target: str, reason: str) -> None:
    found = find_typosquat(name)
    assert found is not None and (found.target, found.reason) == (target, reason)


@pytest.mark.parametrize(
    ("name", "target", "placeholder"),
    [
        ("sklearn", "scikit-learn", True),
        ("pytorch", "torch", True),
        ("tensorflow-gpu", "tensorflow", True),
        ("cv2", "opencv-python", False),
        ("pil", "pillow", False),
        ("yaml", "pyyaml", False),
    ],
)
def test_known_confusions(name: str, target: str, placeholder: bool) -> None:
    found = find_typosquat(name)
    assert found is not None and found.reason == "known-confusion"
    assert (found.target, found.placeholder) == (target, placeholder)


@pytest.mark.parametrize(
    "name",
    ["numpy", "torch", "panda", "scapy", "pyyaml", "pyarrow", "arrow", "boto", "dask", "dash",
     "jax", "jaxlib", "keras", "onnx-ir", "torchx", "tdqm", "my-company-utils", "np", "x"],
)  # fmt: skip
def test_popular_and_unrelated_names_are_not_flagged(name: str) -> None:
    assert find_typosquat(name) is None


def test_popular_names_never_flag_each_other() -> None:
    for name in (*TARGETS, *LEGITIMATE_NEIGHBOURS):
        assert find_typosquat(name) is None, name


def test_index_agrees_with_the_brute_force_definition() -> None:
    """The candidate index must find every target the plain rule set would match."""
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    names = []
    for target in TARGETS[:120]:
        for _ in range(3):
            chars = list(target)
            position = rng.randrange(len(chars))
            operation = rng.choice(("swap", "drop", "add", "change"))
            if operation == "swap" and position + 1 < len(chars):
                chars[position], chars[position + 1] = chars[position + 1], chars[position]
            elif operation == "drop" and len(chars) > 3:
                del chars[position]
            elif operation == "add":
                chars.insert(position, rng.choice(alphabet))
            else:
                chars[position] = rng.choice(alphabet)
            names.append("".join(chars).strip("-"))
    for name in names:
        if name in KNOWN_CONFUSIONS or name in TARGETS or name in LEGITIMATE_NEIGHBOURS:
            continue
        brute = [t for t in (*TARGETS, *CONFUSION_TARGETS) if match_target(name, t) is not None]
        found = find_typosquat(name)
        assert (found is not None) == bool(brute), (name, brute)


def test_osa_distance() -> None:
    assert osa_distance("torch", "torch", 2) == 0
    assert osa_distance("tqdm", "tqmd", 2) == 1
    assert osa_distance("numpy", "numba", 2) == 2
    assert osa_distance("a", "abcdef", 2) == 3


def _real_names() -> list[str]:
    names = {normalize_name(str(d.metadata["Name"])) for d in importlib.metadata.distributions()}
    for file in sorted(PROJECTS_DIR.glob("*.txt")):
        names.update(d.name for d in read_lockfile(file, "requirements"))
    return sorted(n for n in names if n)


def test_no_false_positive_on_real_dependency_lists() -> None:
    """This environment's installed distributions and real projects' requirement files."""
    names = _real_names()
    assert len(names) > 100
    flagged = {n: find_typosquat(n) for n in names}
    assert {n: f for n, f in flagged.items() if f is not None} == {}


def test_real_project_files_scan_clean_of_squats(tmp_path: Path) -> None:
    for file in sorted(PROJECTS_DIR.glob("*.txt")):
        root = tmp_path / file.stem
        root.mkdir()
        (root / "requirements.txt").write_text(file.read_text())
        rules = {r for r, _, _ in ids(scan_dir(root))}
        assert not rules & {"BST-DEP-011", "BST-DEP-012"}, file.name


def test_scan_reports_squats_with_lines(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "requirements.txt").write_text("numpy==1.26.4\nreqeusts==2.31.0\nsklearn\ncv2\n")
    (root / "environment.yml").write_text("dependencies:\n  - pytorch=2.1\n  - pip:\n"
                                         "    - t0rch==2.1.0\n")  # fmt: skip
    found = {
        (r, p, line) for r, p, line in ids(scan_dir(root)) if r in ("BST-DEP-011", "BST-DEP-012")
    }
    assert found == {
        ("BST-DEP-011", "requirements.txt", 2),
        ("BST-DEP-012", "requirements.txt", 3),
        ("BST-DEP-012", "requirements.txt", 4),
        ("BST-DEP-011", "environment.yml", 4),  # conda's own "pytorch" is its real name
    }
