"""Efficacy of ``bastion scan`` on the labelled corpus: every attack blocks, no benign file does.

A sample *blocks* when the default policy (``fail_on = high``) evaluated on that sample's own
findings fails, which is exactly when ``bastion scan <file>`` exits 1. Families whose analyzer is
not registered yet (Keras, TensorFlow, ONNX, GGUF, safetensors, chat templates are being written
alongside this corpus) are skipped with the formats that lack one; the pickle, PyTorch, joblib,
NumPy and archive families never are.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from bastion.core import Finding, ScanResult
from bastion.policy.evaluate import evaluate
from bastion.policy.model import Policy
from bastion.registry import default_registry
from tests.corpus import CORE_FAMILIES, FAMILIES, Sample
from tests.corpus.conftest import BuiltCorpus

pytestmark = pytest.mark.slow


def _blocks(result: ScanResult, sample: Sample) -> tuple[bool, tuple[Finding, ...]]:
    """Whether the default policy fails on this sample alone, and the findings it reported."""
    own = tuple(f for f in result.findings if f.location.path == sample.path)
    skipped = tuple(s for s in result.skipped if s.path == sample.path)
    verdict = evaluate(dataclasses.replace(result, findings=own, skipped=skipped), Policy())
    return not verdict.passed, own


#: Formats (as detection names them) each non-core family needs an analyzer for.
_FAMILY_FORMATS: dict[str, tuple[str, ...]] = {
    "keras": ("keras", "hdf5"),
    "tensorflow": ("tf-savedmodel",),
    "onnx": ("onnx",),
    "gguf": ("gguf",),
    "safetensors": ("safetensors",),
}
#: Template files are claimed by a plugin-style sniff: (file name, head) probes.
_TEMPLATE_PROBES: tuple[tuple[str, bytes], ...] = (
    ("tokenizer_config.json", b'{"chat_template": "{{ messages }}"}'),
    ("chat_template.jinja", b"{% for m in messages %}{{ m }}{% endfor %}"),
)


def _missing_analyzers(family: str) -> list[str]:
    """What the registry lacks to analyze ``family`` (empty when its analyzers are there)."""
    registry = default_registry()
    if family == "template":
        return [
            name
            for name, head in _TEMPLATE_PROBES
            if not ((fmt := registry.sniff(head, name)) and registry.analyzers_for(fmt))
        ]
    return [f for f in _FAMILY_FORMATS.get(family, ()) if not registry.analyzers_for(f)]


def _family(corpus: BuiltCorpus, family: str, label: str) -> list[Sample]:
    samples = [s for s in corpus.samples if s.family == family and s.label == label]
    if not samples:
        pytest.skip(f"the corpus has no {label} {family} samples")
    if family not in CORE_FAMILIES:
        missing = _missing_analyzers(family)
        if missing:
            pytest.skip(f"no analyzer registered yet for {family}: {missing}")
    return samples


def _describe(sample: Sample, findings: tuple[Finding, ...]) -> str:
    shown = "; ".join(
        f"{f.rule_id} {f.severity.label} {f.location.display()}: {f.message[:140]}"
        for f in sorted(findings, key=lambda f: -f.severity)[:3]
    )
    return f"{sample.path} [{sample.technique}] -> {shown or 'no finding'}"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_malicious_sample_blocks(
    corpus: BuiltCorpus, corpus_result: ScanResult, family: str
) -> None:
    """Each attack yields a finding at or above the default threshold (``bastion scan`` exits 1)."""
    missed = []
    for sample in _family(corpus, family, "malicious"):
        blocked, findings = _blocks(corpus_result, sample)
        if not blocked:
            missed.append(_describe(sample, findings))
    assert not missed, f"{len(missed)} {family} attack(s) not blocked:\n" + "\n".join(missed)


@pytest.mark.parametrize("family", FAMILIES)
def test_no_benign_sample_blocks(
    corpus: BuiltCorpus, corpus_result: ScanResult, family: str
) -> None:
    """No benign file reaches the default threshold (``bastion scan`` exits 0 on each)."""
    flagged = []
    for sample in _family(corpus, family, "benign"):
        blocked, findings = _blocks(corpus_result, sample)
        if blocked:
            flagged.append(_describe(sample, findings))
    assert not flagged, f"{len(flagged)} benign {family} file(s) blocked:\n" + "\n".join(flagged)


def test_every_sample_was_seen(corpus: BuiltCorpus, corpus_result: ScanResult) -> None:
    """The scan walked every file of the corpus (nothing excluded or lost on the way)."""
    seen = {a.path for a in corpus_result.artifacts if a.member is None}
    assert {s.path for s in corpus.samples} <= seen


def test_corpus_is_large_and_balanced(corpus: BuiltCorpus) -> None:
    """The corpus keeps its promised size: about 100 attacks and 60 benign files or more."""
    malicious = [s for s in corpus.samples if s.malicious]
    assert len(malicious) >= 100
    assert len(corpus.samples) - len(malicious) >= 60
    assert {s.family for s in malicious} == set(FAMILIES) - {"safetensors"}


def test_marker_directory_stays_empty(corpus: BuiltCorpus, corpus_result: ScanResult) -> None:
    """Scanning ran no payload: the marker directory is still empty."""
    assert corpus_result.findings
    assert not any(corpus.markers.iterdir())


@pytest.mark.parametrize("label, exit_code", [("malicious", 1), ("benign", 0)])
def test_cli_exit_code(corpus: BuiltCorpus, label: str, exit_code: int) -> None:
    """The real command line agrees with the policy evaluation on one sample of each label."""
    sample = next(s for s in corpus.samples if s.family == "torch" and s.label == label)
    code = "from bastion.cli.app import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "scan", str(corpus.root / sample.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert not any(corpus.markers.iterdir())
