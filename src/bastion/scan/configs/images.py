"""Container image references: how firmly a reference pins what will run.

>>> pin_of("python:3.11-slim@sha256:" + "a" * 64)
<Pin.DIGEST: 'digest'>
>>> pin_of("localhost:5000/team/model"), pin_of("nvcr.io/nvidia/pytorch:24.05-py3")
(<Pin.LATEST: 'latest'>, <Pin.TAG: 'tag'>)
>>> pin_of("${BASE}:${TAG}"), pin_of("scratch")
(<Pin.UNKNOWN: 'unknown'>, <Pin.DIGEST: 'digest'>)
"""

from __future__ import annotations

import re
from enum import Enum

from bastion.scan.configs.helm import PLACEHOLDER


class Pin(str, Enum):
    """What an image reference guarantees about the content it names."""

    #: ``@sha256:…``: exactly one image (or ``scratch``, which is no image at all).
    DIGEST = "digest"
    #: A tag other than ``latest``: one image today, possibly another tomorrow.
    TAG = "tag"
    #: ``:latest`` or no tag at all: whatever was pushed last.
    LATEST = "latest"
    #: Not a literal reference (variables, templates): cannot be judged.
    UNKNOWN = "unknown"


_DIGEST = re.compile(r"@[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}$")
_TEMPLATE_MARKS = ("$", "{", "}", "<", ">", "%", PLACEHOLDER)


def pin_of(reference: str) -> Pin:
    """How firmly ``reference`` (``[registry/]repo[:tag][@digest]``) pins its image."""
    ref = reference.strip()
    if not ref or any(mark in ref for mark in _TEMPLATE_MARKS) or " " in ref:
        return Pin.UNKNOWN
    if ref == "scratch":
        return Pin.DIGEST
    if _DIGEST.search(ref):
        return Pin.DIGEST
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return Pin.LATEST
    tag = last.rsplit(":", 1)[1]
    if not tag:
        return Pin.UNKNOWN
    return Pin.LATEST if tag.lower() == "latest" else Pin.TAG


def short(reference: str, limit: int = 120) -> str:
    """The reference for evidence, shortened (digests make them long)."""
    ref = reference.strip()
    return ref if len(ref) <= limit else ref[: limit - 1] + "…"
