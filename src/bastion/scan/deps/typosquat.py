"""Typosquats of popular ML and data packages: names one slip away from the package meant.

>>> find_typosquat("scikitlearn").target
'scikit-learn'
>>> find_typosquat("numpy") is None       # a popular package is never a squat of another
True
>>> find_typosquat("pytorch").reason       # a known confusion, not a guess
'known-confusion'

A name is checked against :data:`~bastion.scan.deps.popular.TARGETS` (about 350 ML, data and
infrastructure packages among PyPI's most downloaded) in this order, first match wins:

1. **known confusions** (:data:`KNOWN_CONFUSIONS`): import names and placeholder projects people
   install by mistake (``sklearn``, ``pytorch``, ``cv2``, ``tensorflow-gpu``…);
2. the name is popular itself (a target, or a popular name that happens to sit close to a target,
   :data:`~bastion.scan.deps.popular.LEGITIMATE_NEIGHBOURS`): never flagged;
3. **separators**: equal once ``-``/``_``/``.`` are removed (``scikitlearn``);
4. **confusable characters**: equal once ``0``→``o``, ``1``→``l``, ``rn``→``m``, ``vv``→``w``;
5. **affixes**: a ``python-``/``py``/``py-`` prefix or ``-python``/``-py`` suffix added or removed;
6. **edits**: Damerau–Levenshtein (optimal string alignment) distance 1 from a target of 5–9
   characters, 2 from a target of 10 or more, and only an adjacent transposition for 4-character
   targets (short names have too many legitimate neighbours for more).

Only PyPI names are checked: conda's names differ on purpose (``pytorch`` is the official conda
package). The lists are data built offline from PyPI download rankings (see
``tests/deps/build_popular.py``); nothing is looked up at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bastion.scan.deps.popular import LEGITIMATE_NEIGHBOURS, TARGET_SET, TARGETS

_SEPARATORS = re.compile(r"[-_.]+")
_PREFIXES = ("python-", "python", "py-", "py")
_SUFFIXES = ("-python", "-py")


@dataclass(frozen=True)
class Confusion:
    """A name people install by mistake: what they meant and why the name is wrong."""

    target: str
    note: str
    #: ``True`` for a placeholder or deprecated dummy published by the real project's owners
    #: (installing it fails or pulls the real package): medium. ``False`` for a name nobody
    #: official owns, where anyone may publish anything: high.
    placeholder: bool


#: Names that are not the package people mean (reviewed by hand).
KNOWN_CONFUSIONS: dict[str, Confusion] = {
    "sklearn": Confusion(
        "scikit-learn",
        "a deprecated dummy that refuses to install; the project is scikit-learn",
        True,
    ),
    "pytorch": Confusion(
        "torch", "a placeholder that fails to install; PyTorch on PyPI is 'torch'", True
    ),
    "tensorflow-gpu": Confusion(
        "tensorflow", "removed from PyPI ('please install tensorflow instead')", True
    ),
    "skimage": Confusion("scikit-image", "a dummy pointing to scikit-image", True),
    "dotenv": Confusion(
        "python-dotenv", "a deprecated package; the maintained one is python-dotenv", True
    ),
    "faiss": Confusion(
        "faiss-cpu", "an old unofficial build; FAISS wheels are faiss-cpu / faiss-gpu", True
    ),
    "cv2": Confusion(
        "opencv-python", "the import name of OpenCV, not a project OpenCV publishes", False
    ),
    "pil": Confusion("pillow", "the import name of Pillow, not a project Pillow publishes", False),
    "opencv": Confusion(
        "opencv-python", "not a project OpenCV publishes (its wheels are opencv-python*)", False
    ),
    "yaml": Confusion("pyyaml", "the import name of PyYAML, not a project it publishes", False),
    "dateutil": Confusion(
        "python-dateutil", "the import name of python-dateutil, not a project it publishes", False
    ),
}


@dataclass(frozen=True)
class Typosquat:
    """Why a dependency name looks like a squat of a popular package."""

    name: str
    target: str
    reason: str  # "known-confusion" | "separators" | "confusable" | "affix" | "edit"
    detail: str
    placeholder: bool = False


def squash(name: str) -> str:
    """The name without separators (``scikit-learn`` → ``scikitlearn``)."""
    return _SEPARATORS.sub("", name.lower())


def fold_confusables(text: str) -> str:
    """Characters that read alike mapped to one form (``nurnpy`` → ``numpy``, ``t0rch``)."""
    return text.replace("rn", "m").replace("vv", "w").replace("0", "o").replace("1", "l")


def osa_distance(a: str, b: str, limit: int) -> int:
    """Damerau–Levenshtein distance (optimal string alignment), or ``limit + 1`` once above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[len(b)]


def _is_transposition(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def _strip_affixes(name: str) -> set[str]:
    found = {name[len(p) :] for p in _PREFIXES if name.startswith(p) and len(name) > len(p) + 1}
    found |= {name[: -len(s)] for s in _SUFFIXES if name.endswith(s) and len(name) > len(s) + 1}
    return {f.strip("-") for f in found if f.strip("-")}


def _edit_limit(target: str) -> int:
    if len(target) >= 10:
        return 2
    if len(target) >= 5:
        return 1
    return 0


def match_target(name: str, target: str) -> Typosquat | None:
    """How ``name`` imitates ``target`` (rules 3–6 of the module docstring), or ``None``."""
    if name == target:
        return None
    s_name, s_target = squash(name), squash(target)
    if s_name == s_target:
        return Typosquat(name, target, "separators", "differs from it only by separators")
    if fold_confusables(s_name) == fold_confusables(s_target):
        return Typosquat(name, target, "confusable", "differs from it by look-alike characters")
    if target in _strip_affixes(name) or name in _strip_affixes(target):
        return Typosquat(name, target, "affix", "adds or drops a python/py prefix or suffix")
    limit = _edit_limit(target)
    if limit == 0:
        if len(target) == 4 and _is_transposition(name, target):
            return Typosquat(name, target, "edit", "swaps two adjacent letters of it")
        return None
    distance = osa_distance(name, target, limit)
    # NOTE: squats keep the start of the name people recognize ("matiplotlib", "setuptls"); a
    # different first letter ("lumpy"/"numpy") or start ("miniconfig"/"gin-config") is most
    # often another word, so those need a closer match than an edit count gives.
    if distance == 1 and len(name) == len(target) and name[0] != target[0]:
        return None
    if distance == 2 and name[:2] != target[:2]:
        return None
    if distance <= limit:
        plural = "s" if distance > 1 else ""
        return Typosquat(name, target, "edit", f"is {distance} edit{plural} away from it")
    return None


class _Index:
    """Lookups that find every target :func:`match_target` could match, without trying all."""

    def __init__(self, targets: tuple[str, ...]) -> None:
        self.rank = {t: i for i, t in enumerate(targets)}
        self.squashed: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        self.stripped: dict[str, list[str]] = {}
        self.deletions: dict[str, set[str]] = {}
        for target in targets:
            self.squashed.setdefault(squash(target), target)
            self.folded.setdefault(fold_confusables(squash(target)), target)
            for bare in _strip_affixes(target):
                self.stripped.setdefault(bare, []).append(target)
            for variant in _deletions(target, max(_edit_limit(target), 1)):
                self.deletions.setdefault(variant, set()).add(target)

    def candidates(self, name: str) -> list[str]:
        """Targets worth checking with :func:`match_target`, most popular first."""
        found: set[str] = set()
        for key, table in (
            (squash(name), self.squashed),
            (fold_confusables(squash(name)), self.folded),
        ):
            if key in table:
                found.add(table[key])
        found.update(t for t in _strip_affixes(name) if t in self.rank)
        found.update(self.stripped.get(name, ()))
        for variant in _deletions(name, 2):
            found.update(self.deletions.get(variant, ()))
        return sorted(found, key=self.rank.__getitem__)


def _deletions(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` of its characters."""
    level, found = {word}, {word}
    for _ in range(depth):
        level = {w[:i] + w[i + 1 :] for w in level for i in range(len(w))}
        found |= level
    return found


#: Known-confusion names long enough to be imitated in turn (``pytorchh``, ``skleran``).
CONFUSION_TARGETS: tuple[str, ...] = tuple(n for n in KNOWN_CONFUSIONS if len(n) >= 5)

_INDEX: list[_Index] = []


def _index() -> _Index:
    if not _INDEX:
        _INDEX.append(_Index(TARGETS + CONFUSION_TARGETS))
    return _INDEX[0]


def find_typosquat(name: str) -> Typosquat | None:
    """The popular package a PyPI name imitates, or ``None`` (``name`` PEP 503 normalized)."""
    confusion = KNOWN_CONFUSIONS.get(name)
    if confusion is not None:
        return Typosquat(
            name, confusion.target, "known-confusion", confusion.note, confusion.placeholder
        )
    if name in TARGET_SET or name in LEGITIMATE_NEIGHBOURS or len(name) < 3 or len(name) > 100:
        return None
    for target in _index().candidates(name):
        found = match_target(name, target)
        if found is None:
            continue
        confused = KNOWN_CONFUSIONS.get(target)
        if confused is not None:
            closeness = found.detail.replace(" it", "")
            detail = f"{closeness} '{target}', a common mistake for {confused.target}"
            return Typosquat(name, confused.target, found.reason, detail)
        return found
    return None
