"""Resolving ``module:attribute`` entry points named in the ``[assess]`` table.

The modules are the project's own code (a model builder, a data loader, a training recipe),
imported with the policy file's directory first on ``sys.path`` so that ``bastion assess`` works
from any working directory. This is the one place where assessment runs user code, on purpose:
the user configured it. Model *files* are never unpickled (state dicts are read with
``weights_only=True``, scikit-learn models through skops with a type audit).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bastion.assess.errors import AssessConfigError


def load_entry(spec: str, base_dir: Path, *, what: str) -> Callable[..., Any]:
    """Import ``module:function`` (dots allowed on both sides) and return the callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AssessConfigError(str(base_dir), f"{what}: {spec!r} is not 'module:function'")
    root = str(base_dir.resolve())
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AssessConfigError(
            str(base_dir), f"{what}: cannot import module {module_name!r}: {exc}"
        ) from exc
    finally:
        if added and root in sys.path:
            sys.path.remove(root)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise AssessConfigError(
                str(base_dir), f"{what}: module {module_name!r} has no attribute {attr!r}"
            )
    if not callable(obj):
        raise AssessConfigError(str(base_dir), f"{what}: {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]
