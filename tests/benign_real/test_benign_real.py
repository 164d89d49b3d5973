"""Real benign artifacts from real libraries: bastion must not block any of them.

Every group is generated with the library itself (``save_pretrained``, ``joblib.dump``,
``torch.save``, ``mlflow.<flavor>.save_model``…), scanned once with the default settings, and
checked three ways: no finding at or above HIGH (the default policy would block the file), no
finding below HIGH that the group does not declare with a reason, and no skip it does not allow.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.benign_real.base import GroupResult, describe
from tests.benign_real.groups import GROUPS, group

_PARAMS = [
    pytest.param(g.name, marks=[pytest.mark.slow] if g.slow else [], id=g.name) for g in GROUPS
]


@pytest.mark.parametrize("name", _PARAMS)
def test_no_blocking_findings(name: str, benign_group: Callable[[str], GroupResult]) -> None:
    result = benign_group(name)
    blocking = [describe(rel, f) for rel, f in result.blocking()]
    assert not blocking, "benign files blocked:\n" + "\n".join(blocking)


@pytest.mark.parametrize("name", _PARAMS)
def test_only_declared_findings(name: str, benign_group: Callable[[str], GroupResult]) -> None:
    result = benign_group(name)
    unexpected = [describe(rel, f) for rel, f in result.unexpected()]
    assert not unexpected, "undeclared findings on benign files:\n" + "\n".join(unexpected)
    for expected in result.expected:
        assert any(expected.matches(r.rel, f) for r in result.files for f in r.findings), (
            f"declared finding no longer raised (remove it): {expected}"
        )


@pytest.mark.parametrize("name", _PARAMS)
def test_only_allowed_skips(name: str, benign_group: Callable[[str], GroupResult]) -> None:
    result = benign_group(name)
    allowed = group(name).skips
    bad = [
        f"{s.path}!{s.member}: {s.reason.value}: {s.detail}"
        for s in result.skips()
        if not any(a.matches(s.path, s.member, s.detail) for a in allowed)
    ]
    assert not bad, "benign files skipped:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", _PARAMS)
def test_every_entry_has_files(name: str, benign_group: Callable[[str], GroupResult]) -> None:
    """Each recorded artifact holds at least one scanned file (no empty directory slips by)."""
    result = benign_group(name)
    empty = [e.rel for e in result.entries if not any(r.entry == e for r in result.files)]
    assert not empty, f"recorded artifacts without files: {empty}"
    assert len(result.files) >= 10
