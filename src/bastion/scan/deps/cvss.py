"""CVSS vectors to scores and severities, for advisories that carry no rating of their own.

>>> base_score_v3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
9.8
>>> severity_from_vector("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H").label
'medium'

CVSS v3.0/v3.1 and v2 base scores are computed with the specification's formulas (FIRST, CVSS
v3.1 specification section 7 and appendix A for ``Roundup``; CVSS v2 guide section 3.2.1). CVSS
v4.0 scores come from a large lookup table of macro-vectors that bastion does not ship, so a v4
vector is rated qualitatively from its impact and exploitability metrics
(:func:`_v4_severity`), which agrees with the v4 calculator on the common cases (all-high
network attacks are critical, availability-only impacts are medium…) but is an approximation.
"""

from __future__ import annotations

import math

from bastion.core import Severity

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}

_V2_AV = {"L": 0.395, "A": 0.646, "N": 1.0}
_V2_AC = {"H": 0.35, "M": 0.61, "L": 0.71}
_V2_AU = {"M": 0.45, "S": 0.56, "N": 0.704}
_V2_CIA = {"N": 0.0, "P": 0.275, "C": 0.660}


def _metrics(vector: str) -> dict[str, str]:
    parts = vector.strip().split("/")
    metrics: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition(":")
        if sep and key != "CVSS":
            metrics[key] = value
    return metrics


def _roundup(value: float) -> float:
    """CVSS v3.1 ``Roundup``: the smallest one-decimal number >= value, float-error safe."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def base_score_v3(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector, or ``None`` when a base metric is missing."""
    m = _metrics(vector)
    try:
        changed = m["S"] == "C"
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[m["PR"]]
        exploitability = 8.22 * _AV[m["AV"]] * _AC[m["AC"]] * pr * _UI[m["UI"]]
        iss = 1 - (1 - _CIA[m["C"]]) * (1 - _CIA[m["I"]]) * (1 - _CIA[m["A"]])
    except KeyError:
        return None
    if m["S"] not in ("U", "C"):
        return None
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _roundup(min(total, 10.0))


def base_score_v2(vector: str) -> float | None:
    """The CVSS v2 base score of a vector, or ``None`` when a base metric is missing."""
    m = _metrics(vector.removeprefix("(").removesuffix(")"))
    try:
        impact = 10.41 * (1 - (1 - _V2_CIA[m["C"]]) * (1 - _V2_CIA[m["I"]]) * (1 - _V2_CIA[m["A"]]))
        exploitability = 20 * _V2_AV[m["AV"]] * _V2_AC[m["AC"]] * _V2_AU[m["Au"]]
    except KeyError:
        return None
    factor = 0.0 if impact == 0 else 1.176
    return round(((0.6 * impact) + (0.4 * exploitability) - 1.5) * factor, 1)


def severity_of_score(score: float) -> Severity:
    """The qualitative rating of a v3/v4 score (0.1–3.9 low … 9.0–10 critical; 0 is info)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


def _v4_severity(m: dict[str, str]) -> Severity | None:
    impacts = [m.get(k) for k in ("VC", "VI", "VA", "SC", "SI", "SA")]
    if None in impacts[:3] or m.get("AV") is None:
        return None
    vulnerable = impacts[:3]
    easy = m.get("AV") == "N" and m.get("AC") == "L" and m.get("AT", "N") == "N"
    unauthenticated = m.get("PR") == "N" and m.get("UI") == "N"
    if vulnerable.count("H") == 3 and easy and unauthenticated:
        return Severity.CRITICAL
    if "H" in vulnerable[:2] or vulnerable.count("H") >= 2:
        return Severity.HIGH
    if "H" in impacts or "L" in impacts:
        return Severity.MEDIUM
    return Severity.LOW


def severity_from_vector(vector: str) -> Severity | None:
    """The severity a CVSS vector (v2, v3.x or v4.0) implies, or ``None`` if unreadable."""
    text = vector.strip()
    if text.startswith("CVSS:4"):
        return _v4_severity(_metrics(text))
    if text.startswith("CVSS:3"):
        score = base_score_v3(text)
        return None if score is None else severity_of_score(score)
    score = base_score_v2(text)
    if score is None:
        return None
    return Severity.HIGH if score >= 7.0 else Severity.MEDIUM if score >= 4.0 else Severity.LOW
