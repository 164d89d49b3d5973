"""Posture baselines: record the accepted security posture of a project, report every deviation.

>>> from pathlib import Path
>>> from bastion.posture.check import check_posture                  # doctest: +SKIP
>>> outcome = check_posture(baseline, observation, settings)         # doctest: +SKIP
>>> [f.rule_id for f in outcome.result.findings]                     # doctest: +SKIP
['BST-POS-003', 'BST-POS-001', 'BST-POS-008']

Modules: ``model`` (the ``.bastion-posture.json`` document), ``config`` (the ``[posture]``
table), ``collect`` (measure a project now: scan, digests, dependencies, gateway digest),
``metrics`` (assessment metrics from a JSON document or the history store), ``compare`` (the
deviations) and ``check`` (deviations → ``ScanResult`` + ``Verdict`` for the usual reporters),
``rules`` (``BST-POS``).
"""

from __future__ import annotations

from bastion.posture.model import FILE_NAME, Posture, PostureFileError

__all__ = ["FILE_NAME", "Posture", "PostureFileError"]
