"""OSV range evaluation on PEP 440 versions, alias merging, withdrawn records, severities."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from bastion.core import Severity
from bastion.scan.deps.cvss import base_score_v2, base_score_v3, severity_from_vector
from bastion.scan.deps.osv import Advisory, advisory_from_osv, primary_id
from bastion.scan.deps.osv_export import build_index, iter_records
from bastion.scan.deps.vulndb import VulnDatabase, open_database
from bastion.scan.deps.vulns import find_vulnerabilities

from .conftest import OSV_DIR


def _record(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OSV_DIR / f"{name}.json").read_text())
    return data


def _synthetic(events: list[dict[str, str]], versions: list[str] | None = None) -> Advisory:
    record = {
        "id": "OSV-TEST-1",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": versions or [],
            }
        ],
    }
    advisory = advisory_from_osv(record)
    assert advisory is not None
    return advisory


def _affected(advisory: Advisory, version: str) -> bool:
    return bool(advisory.matches("demo-pkg", version))


@pytest.fixture(scope="module")
def database() -> VulnDatabase:
    return VulnDatabase(build_index(iter_records(OSV_DIR), "fixture"), "fixture")


class TestRangeEvaluation:
    def test_introduced_zero_and_fixed(self) -> None:
        advisory = advisory_from_osv(_record("GHSA-47fc-vmwq-366v"))
        assert advisory is not None
        assert advisory.matches("torch", "0.1.2")
        assert advisory.matches("torch", "1.13.0")[0].fixed == ("1.13.1",)
        assert not advisory.matches("torch", "1.13.1")
        assert not advisory.matches("torch", "2.0.0")
        assert not advisory.matches("torchvision", "0.1.0")

    def test_last_affected_is_inclusive(self) -> None:
        advisory = advisory_from_osv(_record("GHSA-w596-4wvx-j9j6"))
        assert advisory is not None
        assert advisory.matches("py", "1.11.0")
        assert advisory.matches("py", "1.4.0")
        assert not advisory.matches("py", "1.11.1")
        assert advisory.matches("py", "1.11.0")[0].fixed == ()

    def test_introduced_after_zero(self) -> None:
        advisory = advisory_from_osv(_record("PYSEC-2022-42980"))
        assert advisory is not None
        assert not advisory.matches("pillow", "9.1.1")
        assert advisory.matches("pillow", "9.2.0")
        assert not advisory.matches("pillow", "9.3.0")

    def test_several_affected_entries_are_several_ranges(self) -> None:
        advisory = advisory_from_osv(_record("GHSA-9j4v-pp28-mxv7"))
        assert advisory is not None
        fixed = {v: [m.fixed for m in advisory.matches("tensorflow", v)] for v in
                 ("2.7.1", "2.7.2", "2.8.0", "2.8.1", "2.9.0", "2.9.1", "2.10.0")}  # fmt: skip
        assert fixed == {
            "2.7.1": [("2.7.2",)], "2.7.2": [], "2.8.0": [("2.8.1",)], "2.8.1": [],
            "2.9.0": [("2.9.1",)], "2.9.1": [], "2.10.0": [],
        }  # fmt: skip
        assert advisory.matches("tensorflow-gpu", "2.9.0")

    def test_multiple_ranges_in_one_event_list(self) -> None:
        events = [{"introduced": "1.0.0"}, {"fixed": "1.0.2"}]
        advisory = _synthetic([*events, {"introduced": "3.0.0"}, {"fixed": "3.2.5"}])
        expected = {"0.9": False, "1.0.0": True, "1.0.1": True, "1.0.2": False, "2.0": False,
                    "3.0.0": True, "3.2.4": True, "3.2.5": False, "4.0": False}  # fmt: skip
        assert {v: _affected(advisory, v) for v in expected} == expected

    def test_events_out_of_order_are_sorted(self) -> None:
        advisory = _synthetic([{"fixed": "2.0"}, {"introduced": "1.0"}])
        assert _affected(advisory, "1.5") and not _affected(advisory, "2.0")
        assert not _affected(advisory, "0.5")

    def test_pre_releases(self) -> None:
        advisory = _synthetic([{"introduced": "2.0.0"}, {"fixed": "2.1.0"}])
        assert not _affected(advisory, "2.0.0rc1")  # before the introducing release
        assert _affected(advisory, "2.1.0rc2")  # before the fix
        assert _affected(advisory, "2.1.0.dev1")
        assert not _affected(advisory, "2.1.0")

    def test_post_releases(self) -> None:
        advisory = _synthetic([{"introduced": "0"}, {"fixed": "1.0.1"}])
        assert _affected(advisory, "1.0.0.post1")
        assert not _affected(advisory, "1.0.1.post1")

    def test_local_versions(self) -> None:
        advisory = advisory_from_osv(_record("PYSEC-2022-43015"))
        assert advisory is not None
        assert advisory.matches("torch", "1.13.0+cu117")  # range and listed public version
        assert not advisory.matches("torch", "1.13.1+cpu")
        listed_only = _synthetic([], versions=["1.2.3"])
        assert _affected(listed_only, "1.2.3+local")
        assert not _affected(listed_only, "1.2.4")

    def test_epochs(self) -> None:
        advisory = _synthetic([{"introduced": "0"}, {"fixed": "3.0"}])
        assert _affected(advisory, "2.9")
        assert not _affected(advisory, "1!1.0")  # epoch 1 sorts after every epoch-0 version
        in_epoch = _synthetic([{"introduced": "1!1.0"}, {"fixed": "1!2.0"}])
        assert _affected(in_epoch, "1!1.5") and not _affected(in_epoch, "9.0")

    def test_limit_bounds_the_range(self) -> None:
        advisory = _synthetic([{"introduced": "0"}, {"limit": "2.0"}])
        assert _affected(advisory, "1.9") and not _affected(advisory, "2.0")
        starred = _synthetic([{"introduced": "0"}, {"limit": "*"}])
        assert _affected(starred, "99.0")

    def test_versions_list_with_prereleases_and_post_releases(self) -> None:
        advisory = advisory_from_osv(_record("PYSEC-2020-107"))
        assert advisory is not None
        for version in ("0.14a1", "0.22rc2.post1", "0.22.2.post1", "0.23.0rc1", "0.23.0"):
            assert advisory.matches("scikit-learn", version), version
        assert not advisory.matches("scikit-learn", "0.23.1")

    def test_unreadable_bounds_only_widen(self) -> None:
        advisory = _synthetic([{"introduced": "not a version"}, {"fixed": "also bad"}])
        assert _affected(advisory, "5.0")
        assert _affected(_synthetic([{"introduced": "1.0"}, {"fixed": "zzz"}]), "9.9")
        assert not _affected(_synthetic([{"introduced": "1.0"}, {"fixed": "2.0"}]), "0.1")

    def test_non_pep440_pin_matches_the_versions_list_only(self) -> None:
        advisory = _synthetic([{"introduced": "0"}], versions=["weird-1"])
        assert _affected(advisory, "weird-1")
        assert not _affected(advisory, "weird-2")

    def test_git_ranges_and_other_ecosystems_are_ignored(self) -> None:
        record = {
            "id": "OSV-TEST-2",
            "affected": [
                {"package": {"ecosystem": "npm", "name": "demo-pkg"},
                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
                {"package": {"ecosystem": "PyPI", "name": "demo-pkg"},
                 "ranges": [{"type": "GIT", "events": [{"introduced": "0"}]}]},
            ],
        }  # fmt: skip
        assert advisory_from_osv(record) is None


class TestRecords:
    def test_withdrawn_record_is_skipped(self, database: VulnDatabase) -> None:
        assert advisory_from_osv(_record("MAL-2026-4750")) is None
        assert find_vulnerabilities(database, "fastapi", "0.136.3") == ()
        assert database.advisories_for("fastapi") == ()

    def test_alias_pair_merges_into_one_hit(self, database: VulnDatabase) -> None:
        (hit,) = find_vulnerabilities(database, "torch", "1.12.1")
        assert hit.ids == ("CVE-2022-45907", "GHSA-47fc-vmwq-366v", "PYSEC-2022-43015")
        assert hit.records == ("GHSA-47fc-vmwq-366v", "PYSEC-2022-43015")
        assert hit.primary == "CVE-2022-45907"
        assert hit.severity is Severity.CRITICAL  # the GHSA rating; the PYSEC has none
        assert hit.fix == "1.13.1"

    def test_aliases_through_a_ghsa_in_the_alias_list(self, database: VulnDatabase) -> None:
        hits = find_vulnerabilities(database, "numpy", "1.9.3")
        assert [h.primary for h in hits] == ["CVE-2021-33430", "CVE-2021-34141"]
        assert "GHSA-6p56-wp2h-9hxr" in hits[0].ids

    def test_related_is_not_an_alias(self, database: VulnDatabase) -> None:
        hits = find_vulnerabilities(database, "pillow", "9.1.1")
        primaries = sorted(h.primary for h in hits)
        assert primaries == ["CVE-2022-45198", "PYSEC-2023-175"]
        merged = next(h for h in hits if h.primary == "CVE-2022-45198")
        assert merged.records == ("GHSA-m2vv-5vj5-2hm7", "PYSEC-2022-42979")
        assert merged.severity is Severity.HIGH

    def test_fix_covers_every_merged_record(self, database: VulnDatabase) -> None:
        hits = find_vulnerabilities(database, "pillow", "9.2.0")
        assert {h.primary: h.fix for h in hits} == {"CVE-2022-45199": "9.3.0",
                                                    "PYSEC-2023-175": "10.0.1"}  # fmt: skip

    def test_malicious_record(self, database: VulnDatabase) -> None:
        (hit,) = find_vulnerabilities(database, "pytorchh", "0.0.1")
        assert hit.malicious and hit.severity is Severity.CRITICAL and hit.fix is None

    def test_database_specific_severity_wins_over_vector(self) -> None:
        advisory = advisory_from_osv(_record("GHSA-37q5-v5qm-c9v8"))
        assert advisory is not None and advisory.severity is Severity.LOW
        unrated = advisory_from_osv(_record("PYSEC-2024-51"))
        assert unrated is not None and unrated.severity is None
        assert unrated.summary.startswith("A broken access control vulnerability")

    def test_index_round_trip(self, database: VulnDatabase) -> None:
        for name in ("torch", "pillow", "tensorflow", "scikit-learn"):
            for advisory in database.advisories_for(name):
                assert Advisory.from_json(advisory.to_json()) == advisory
        assert database.stats.advisories == 14  # 15 records, one withdrawn
        assert database.stats.newest == "2026-05-26T13:04:03Z"

    def test_primary_id_order(self) -> None:
        assert primary_id(["PYSEC-1", "GHSA-x", "CVE-2"]) == "CVE-2"
        assert primary_id(["PYSEC-1", "GHSA-x"]) == "GHSA-x"
        assert primary_id(["OTHER-1"]) == "OTHER-1"

    def test_open_database_is_cached_per_process(self, tmp_path: Path) -> None:
        assert open_database(OSV_DIR) is open_database(OSV_DIR)


class TestCvss:
    @pytest.mark.parametrize(
        ("vector", "score", "severity"),
        [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "high"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, "medium"),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", 5.9, "medium"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"),
            ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "critical"),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "high"),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, "low"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "info"),
        ],
    )
    def test_v3_base_scores(self, vector: str, score: float, severity: str) -> None:
        assert base_score_v3(vector) == score
        found = severity_from_vector(vector)
        assert found is not None and found.label == severity

    def test_v2_and_v4_and_garbage(self) -> None:
        assert base_score_v2("AV:N/AC:L/Au:N/C:C/I:C/A:C") == 10.0
        assert base_score_v2("AV:N/AC:M/Au:N/C:P/I:N/A:N") == 4.3
        v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
        assert severity_from_vector(v4) is Severity.CRITICAL
        v4_dos = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N"
        assert severity_from_vector(v4_dos) is Severity.MEDIUM
        assert severity_from_vector("CVSS:3.1/AV:N") is None
        assert base_score_v3("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") is None


_POOL = sorted(
    {f"{a}.{b}.{c}" for a in range(3) for b in range(3) for c in range(3)}
    | {"1.0.0rc1", "1.0.0.post1", "2.1.0.dev3", "1!0.1"},
    key=Version,
)


@settings(max_examples=150, deadline=None)
@given(
    cuts=st.lists(st.sampled_from(_POOL), min_size=1, max_size=6, unique=True),
    shuffle=st.randoms(use_true_random=False),
)
def test_ranges_match_an_interval_model(cuts: list[str], shuffle: random.Random) -> None:
    """Alternating introduced/fixed events, in any order, mean half-open intervals."""
    ordered = sorted(cuts, key=Version)
    events = [{"introduced" if i % 2 == 0 else "fixed": v} for i, v in enumerate(ordered)]
    shuffle.shuffle(events)
    advisory = _synthetic(events)
    intervals = [
        (Version(ordered[i]), Version(ordered[i + 1]) if i + 1 < len(ordered) else None)
        for i in range(0, len(ordered), 2)
    ]
    for version in _POOL:
        v = Version(version)
        expected = any(lo <= v and (hi is None or v < hi) for lo, hi in intervals)
        assert _affected(advisory, version) == expected, (version, ordered)
