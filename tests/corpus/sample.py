"""The labelled sample record and the writer every corpus generator records its files through.

A :class:`Sample` names one file (relative to the corpus directory), whether it is malicious or
benign, the family (the container format a scanner has to understand: ``pickle``, ``torch``,
``joblib``, ``numpy``, ``archive``, ``keras``, ``tensorflow``, ``onnx``, ``gguf``,
``safetensors``, ``template``), the technique it exercises and the advisory it reproduces.

Malicious samples carry inert payloads only: the one command any of them could run creates a
marker file named after the sample under the marker directory the caller chose
(:meth:`CorpusWriter.marker`). Nothing written here is ever loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Label = Literal["malicious", "benign"]

#: Every family the corpus knows, in report order.
FAMILIES: tuple[str, ...] = (
    "pickle",
    "torch",
    "joblib",
    "numpy",
    "archive",
    "keras",
    "tensorflow",
    "onnx",
    "gguf",
    "safetensors",
    "template",
)

#: Families whose analyzers are part of the foundation: their samples must never be skipped.
CORE_FAMILIES: frozenset[str] = frozenset({"pickle", "torch", "joblib", "numpy", "archive"})

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Sample:
    """One labelled file of the corpus."""

    path: str
    label: Label
    family: str
    technique: str
    advisory: str | None = None

    @property
    def malicious(self) -> bool:
        """True for samples a scanner must flag."""
        return self.label == "malicious"


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (``"os.system p0"`` → ``"os-system-p0"``)."""
    return _SLUG.sub("-", text.lower()).strip("-")


@dataclass
class CorpusWriter:
    """Writes sample files under ``root`` and records one :class:`Sample` per file."""

    root: Path
    marker_dir: Path
    families: frozenset[str] | None = None
    samples: list[Sample] = field(default_factory=list)

    def wants(self, family: str) -> bool:
        """Whether samples of ``family`` were asked for."""
        return self.families is None or family in self.families

    def marker(self, name: str) -> Path:
        """The marker file an inert payload of sample ``name`` would create."""
        return self.marker_dir / slug(name)

    def touch_command(self, name: str) -> str:
        """The shell command an inert payload runs: create the sample's marker file."""
        return f"touch {self.marker(name)}"

    def touch_code(self, name: str) -> str:
        """The Python source an inert payload runs: create the sample's marker file."""
        return f"open({str(self.marker(name))!r}, 'w').close()"

    def path(self, rel: str) -> Path:
        """Absolute path of ``rel`` under the corpus root, parent directories created."""
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"{rel}: sample paths must stay inside the corpus")
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add(
        self,
        rel: str,
        data: bytes | None,
        *,
        label: Label,
        family: str,
        technique: str,
        advisory: str | None = None,
    ) -> Sample:
        """Write ``data`` to ``rel`` (``None``: the caller already wrote it) and record it."""
        if family not in FAMILIES:
            raise ValueError(f"{rel}: unknown family {family!r}")
        if any(s.path == rel for s in self.samples):
            raise ValueError(f"{rel}: two samples with the same path")
        target = self.path(rel)
        if data is not None:
            target.write_bytes(data)
        elif not target.exists():
            raise FileNotFoundError(f"{rel}: the generator did not write the file")
        sample = Sample(rel, label, family, technique, advisory)
        self.samples.append(sample)
        return sample
