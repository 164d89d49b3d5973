"""The bounded walk over a parsed Keras config that finds code, imports, gadgets and fetches.

Keras configs are trees of ``{"class_name", "config", "module", "registered_name"}`` objects:
models hold layers, wrappers hold layers (``TimeDistributed``, ``Bidirectional``), layers hold
functions, initializers and nested models. The walk visits every dict and list, whatever key it
hangs under, so a Lambda hidden in an unusual place (a wrapper's ``layer``, a loss, a shared
object) is found like one in ``layers``. Each issue names the layer path
(``model/sequential_1/lambda_3``) and the field inside the layer (``config.function``); what an
object means is decided in :mod:`~bastion.scan.formats.keras_checks`.

>>> walker = ConfigWalker()
>>> issues = walker.walk({"class_name": "Sequential", "config": {"name": "seq", "layers": [
...     {"module": "subprocess", "class_name": "function", "config": "run"}]}})
>>> [(i.rule.id, i.path, i.detail) for i in issues]
[('BST-KRS-002', 'seq', 'subprocess.run')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bastion.core import Severity
from bastion.scan.formats import keras_knowledge as kk
from bastion.scan.formats.keras_checks import (
    ConfigIssue,
    Site,
    lambda_issue,
    layer_issues,
    reference_issue,
)
from bastion.scan.formats.keras_rules import OVERSIZED_CONFIG

__all__ = ["ConfigIssue", "ConfigWalker", "WalkBounds"]

#: Keys under which one layer holds another (besides the ``layers`` lists of models).
_LAYER_KEYS = frozenset({"layers", "layer", "forward_layer", "backward_layer", "cell", "cells"})
#: Lambda fields that hold a callable, with the legacy ``*_type`` / ``*module`` keys beside them.
_CALLABLE_FIELDS = (
    ("function", "function_type", "module"),
    ("output_shape", "output_shape_type", "output_shape_module"),
    ("mask", "mask_type", "mask_module"),
)


@dataclass(frozen=True)
class WalkBounds:
    """How deep and how wide a config walk may go."""

    max_depth: int = 100
    max_nodes: int = 2_000_000


@dataclass(frozen=True)
class _Frame:
    value: object
    site: Site
    depth: int
    parent_key: str


class ConfigWalker:
    """Walks one parsed config; ``allow``/``deny`` are the project's global-name patterns."""

    def __init__(
        self,
        *,
        container: str = "keras",
        allow: tuple[str, ...] = (),
        deny: tuple[str, ...] = (),
        bounds: WalkBounds | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.container = container
        self.allow = allow
        self.deny = deny
        self.bounds = bounds or WalkBounds()
        self.tick = tick
        self._issues: dict[tuple[str, str, str, str], ConfigIssue] = {}

    def walk(self, root: object, root_path: str = "") -> list[ConfigIssue]:
        """Every issue in ``root`` (deduplicated, in walk order)."""
        self._issues = {}
        stack = [_Frame(root, Site(root_path, ""), 0, "layers")]
        nodes = 0
        too_deep = False
        while stack:
            frame = stack.pop()
            nodes += 1
            if nodes > self.bounds.max_nodes:
                # NOTE: fail closed. Keras ignores keys it does not know, so junk placed before
                # a Lambda would otherwise push it past the bound unseen.
                self._add(
                    frame.site.issue(
                        OVERSIZED_CONFIG,
                        "too-many-objects",
                        f"The config holds more than {self.bounds.max_nodes} objects and lists; "
                        "the rest was not checked and could hide code.",
                        severity=Severity.HIGH,
                    )
                )
                break
            if self.tick is not None and nodes % 4096 == 0:
                self.tick()
            if frame.depth > self.bounds.max_depth and not too_deep:
                # NOTE: reported, but the walk goes on: it is iterative and bounded by
                # max_nodes, while Keras deserializes far deeper nesting than real models use.
                too_deep = True
                self._add(
                    frame.site.issue(
                        OVERSIZED_CONFIG,
                        "too-deep",
                        f"The config nests deeper than {self.bounds.max_depth} levels, far "
                        "deeper than real models.",
                    )
                )
            stack.extend(reversed(self._children(frame)))
        return list(self._issues.values())

    def _children(self, frame: _Frame) -> list[_Frame]:
        value, site = frame.value, frame.site
        if isinstance(value, list):
            # Scalars hold nothing to check; only containers become frames (and count).
            return [
                _Frame(item, site.at(f"{site.field}[{i}]"), frame.depth + 1, frame.parent_key)
                for i, item in enumerate(value)
                if isinstance(item, dict | list)
            ]
        if not isinstance(value, dict):
            return []
        class_name = value.get("class_name")
        if isinstance(class_name, str):
            name = _layer_name(value, frame.parent_key)
            if name is not None:
                path = f"{site.path}/{name}" if site.path else name
                site = Site(path, "", value, site.in_lambda)
            self._inspect(value, class_name, site)
        in_lambda = site.in_lambda or class_name == "Lambda"
        children = []
        for key, child in value.items():
            if isinstance(child, dict | list):
                field = f"{site.field}.{key}" if site.field else str(key)
                child_site = Site(site.path, field, site.layer, in_lambda)
                children.append(_Frame(child, child_site, frame.depth + 1, str(key)))
        return children

    def _inspect(self, obj: dict[str, object], class_name: str, site: Site) -> None:
        config = obj.get("config")
        if class_name == "__lambda__" and isinstance(config, dict):
            where = site.at(site.field or "config")
            self._add(lambda_issue(where, config.get("code"), config, self.container))
        module = obj.get("module")
        if isinstance(module, str) and module and class_name not in kk.VALUE_CLASSES:
            if class_name != "function":
                self._reference(site, module, class_name, False)
            elif isinstance(config, str):
                self._reference(site, module, config, True)
        if isinstance(config, dict):
            self._legacy_callables(config, site)
            self._add_all(layer_issues(site, class_name, config))

    def _legacy_callables(self, config: dict[str, object], site: Site) -> None:
        """Keras 2 Lambda fields: ``function`` + ``function_type`` (+ ``module``), and kin."""
        for key, type_key, module_key in _CALLABLE_FIELDS:
            kind = config.get(type_key)
            payload = config.get(key)
            where = site.at(f"{site.field}.config.{key}" if site.field else f"config.{key}")
            if kind == "lambda" and payload is not None:
                self._add(lambda_issue(where, payload, None, self.container))
            elif kind == "function" and isinstance(payload, str):
                module = config.get(module_key)
                module_name = module if isinstance(module, str) and module else "__main__"
                callee = Site(where.path, where.field, where.layer, True)
                self._reference(callee, module_name, payload, True)

    def _reference(self, site: Site, module: str, name: str, is_function: bool) -> None:
        self._add(
            reference_issue(site, module, name, is_function, allow=self.allow, deny=self.deny)
        )

    def _add(self, issue: ConfigIssue | None) -> None:
        if issue is None:
            return
        key = (issue.rule.id, issue.path, issue.field, issue.detail)
        self._issues.setdefault(key, issue)

    def _add_all(self, issues: Iterable[ConfigIssue]) -> None:
        for issue in issues:
            self._add(issue)


def _layer_name(obj: dict[str, object], parent_key: str) -> str | None:
    """The path segment of a layer-like object (``None`` for initializers, dtypes, …)."""
    config = obj.get("config")
    if not isinstance(config, dict):
        return None
    name = config.get("name")
    if not isinstance(name, str) or not name:
        name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    layer_like = (
        parent_key in _LAYER_KEYS
        or "trainable" in config
        or "inbound_nodes" in obj
        or "build_config" in obj
    )
    return name.replace("/", "_")[:120] if layer_like else None
