"""The registry of analyzers and rules: built-ins plus plugins from entry points.

A :class:`Registry` is an explicit object passed to whoever needs it (the engine, the CLI's
``rules`` command); nothing is registered at import time. :func:`default_registry` builds the
one the CLI uses: every built-in analyzer, then the ``bastion.analyzers`` entry points.

>>> from bastion.registry import default_registry
>>> reg = default_registry()
>>> reg.rule("BST-PKL-001").category
'models'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import entry_points

from bastion.errors import BastionError
from bastion.rules import Rule
from bastion.scan.interface import Analyzer

#: Built-in analyzers, as ``module:Class``; imported when the registry is built.
BUILTIN_ANALYZERS: tuple[str, ...] = (
    "bastion.scan.formats.pickle.analyzer:PickleAnalyzer",
    "bastion.scan.formats.archive:ZipAnalyzer",
    "bastion.scan.formats.archive:TarAnalyzer",
    "bastion.scan.formats.archive:SevenZipAnalyzer",
    "bastion.scan.formats.compression:CompressionAnalyzer",
    "bastion.scan.formats.pytorch:PyTorchZipAnalyzer",
    "bastion.scan.formats.numpy:NumpyAnalyzer",
    "bastion.scan.formats.keras:KerasAnalyzer",
    "bastion.scan.formats.keras:KerasJsonAnalyzer",
    "bastion.scan.formats.keras:KerasJsonProbe",
    "bastion.scan.formats.keras:KerasMetadataAnalyzer",
    "bastion.scan.formats.hdf5:Hdf5Analyzer",
    "bastion.scan.formats.tensorflow:SavedModelAnalyzer",
    "bastion.scan.formats.tensorflow:FingerprintAnalyzer",
    "bastion.scan.formats.onnx:OnnxAnalyzer",
    "bastion.scan.formats.safetensors:SafetensorsAnalyzer",
    "bastion.scan.formats.gguf:GgufAnalyzer",
    "bastion.scan.formats.chat_template:TokenizerConfigAnalyzer",
    "bastion.scan.formats.chat_template:JinjaTemplateAnalyzer",
    "bastion.scan.code.analyzer:PythonAnalyzer",
    "bastion.scan.notebooks.analyzer:NotebookAnalyzer",
    "bastion.scan.secrets.analyzer:SecretsAnalyzer",
    "bastion.scan.configs.analyzer:ManifestAnalyzer",
    "bastion.scan.configs.analyzer:DockerfileAnalyzer",
    "bastion.scan.configs.analyzer:ShellAnalyzer",
    "bastion.scan.configs.analyzer:MlflowAuthConfigAnalyzer",
    "bastion.scan.deps.analyzer:DependencyAnalyzer",
    "bastion.scan.deps.analyzer:PipConfigAnalyzer",
    "bastion.scan.data.analyzer:TabularDataAnalyzer",
    "bastion.scan.data.analyzer:ColumnarDataAnalyzer",
    "bastion.scan.formats.general:GeneralRules",
)

#: Extra modules whose ``RULES`` tuple adds rules without an analyzer (engine-level rules).
BUILTIN_RULE_MODULES: tuple[str, ...] = (
    "bastion.integrity.rules",
    "bastion.gateway.rules",
    "bastion.posture.rules",
    "bastion.assess.rules",
)

ENTRY_POINT_GROUP = "bastion.analyzers"


class RegistryError(BastionError):
    """An analyzer or rule could not be registered (duplicate id, bad plugin)."""


class Registry:
    """Analyzers by format and rules by id."""

    def __init__(self) -> None:
        self._by_format: dict[str, list[Analyzer]] = {}
        self._analyzers: list[Analyzer] = []
        self._rules: dict[str, Rule] = {}

    def add_analyzer(self, analyzer_cls: type[Analyzer]) -> None:
        """Register an analyzer class (instantiated once) and its rules."""
        if not (isinstance(analyzer_cls, type) and issubclass(analyzer_cls, Analyzer)):
            raise RegistryError(f"{analyzer_cls!r} is not an Analyzer subclass")
        analyzer = analyzer_cls()
        self._analyzers.append(analyzer)
        for fmt in analyzer_cls.formats:
            self._by_format.setdefault(fmt, []).append(analyzer)
        self.add_rules(analyzer_cls.rules)

    def add_rules(self, rules: Iterable[Rule]) -> None:
        """Register rules; an id may be declared twice only with the same definition."""
        for rule in rules:
            known = self._rules.get(rule.id)
            if known is not None and known != rule:
                raise RegistryError(f"rule id {rule.id} is defined twice with different content")
            self._rules[rule.id] = rule

    def analyzers_for(self, fmt: str) -> tuple[Analyzer, ...]:
        """Analyzers registered for a format id."""
        return tuple(self._by_format.get(fmt, ()))

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        """Every registered analyzer, in registration order."""
        return tuple(self._analyzers)

    @property
    def formats(self) -> tuple[str, ...]:
        """Every format id some analyzer handles."""
        return tuple(sorted(self._by_format))

    def rules(self) -> tuple[Rule, ...]:
        """Every rule, sorted by id."""
        return tuple(self._rules[k] for k in sorted(self._rules))

    def rule(self, rule_id: str) -> Rule:
        """One rule by id (case-insensitive)."""
        try:
            return self._rules[rule_id.upper()]
        except KeyError:
            raise RegistryError(f"no rule with id {rule_id!r} (see 'bastion rules')") from None

    def sniff(self, head: bytes, name: str) -> str | None:
        """Ask plugin analyzers whether they recognize the bytes."""
        for analyzer in self._analyzers:
            fmt = type(analyzer).sniff(head, name)
            if fmt:
                return fmt
        return None


def _load(spec: str) -> type[Analyzer]:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, attr)
    if not isinstance(obj, type):
        raise RegistryError(f"{spec} is not a class")
    return obj


def _load_plugin(name: str, value: str, load: Callable[[], object]) -> type[Analyzer]:
    try:
        obj = load()
    except Exception as exc:
        raise RegistryError(f"plugin {name!r} ({value}) failed to load: {exc}") from exc
    if not (isinstance(obj, type) and issubclass(obj, Analyzer)):
        raise RegistryError(f"plugin {name!r} ({value}) is not an Analyzer subclass")
    return obj


@cache
def default_registry(load_plugins: bool = True) -> Registry:
    """Built-in analyzers and rules, then third-party analyzers from entry points."""
    registry = Registry()
    for spec in BUILTIN_ANALYZERS:
        registry.add_analyzer(_load(spec))
    for module_name in BUILTIN_RULE_MODULES:
        registry.add_rules(importlib.import_module(module_name).RULES)
    if load_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            registry.add_analyzer(_load_plugin(ep.name, ep.value, ep.load))
    return registry
