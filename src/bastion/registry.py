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
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from bastion.errors import BastionError
from bastion.rules import Rule
from bastion.scan.interface import Analyzer


@dataclass(frozen=True)
class AnalyzerSpec:
    """A built-in analyzer, imported only when a file of one of its formats needs it.

    ``formats`` must equal the class's own (a test checks); ``sniffs`` says whether the class
    claims files by content through :meth:`Analyzer.sniff` (imported for text/unknown files).
    """

    target: str
    formats: tuple[str, ...]
    sniffs: bool = False


#: Built-in analyzers. They are imported lazily: a scan of model files never pays for the
#: code, secrets or manifest analyzers' imports, and ``bastion rules`` imports them all.
BUILTIN_ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(
        "bastion.scan.formats.pickle.analyzer:PickleAnalyzer",
        ("pickle", "pytorch-legacy"),
    ),
    AnalyzerSpec("bastion.scan.formats.archive:ZipAnalyzer", ("zip", "npz")),
    AnalyzerSpec("bastion.scan.formats.archive:TarAnalyzer", ("tar",)),
    AnalyzerSpec("bastion.scan.formats.archive:SevenZipAnalyzer", ("7z",)),
    AnalyzerSpec(
        "bastion.scan.formats.compression:CompressionAnalyzer",
        ("gzip", "bzip2", "xz", "lzma", "zlib", "zstd", "lz4", "joblib-zfile"),
    ),
    AnalyzerSpec("bastion.scan.formats.pytorch:PyTorchZipAnalyzer", ("pytorch-zip",)),
    AnalyzerSpec("bastion.scan.formats.numpy:NumpyAnalyzer", ("numpy",)),
    AnalyzerSpec("bastion.scan.formats.keras:KerasAnalyzer", ("keras",)),
    AnalyzerSpec("bastion.scan.formats.keras:KerasJsonAnalyzer", ("keras-json",), sniffs=True),
    AnalyzerSpec("bastion.scan.formats.keras:KerasJsonProbe", ("json",)),
    AnalyzerSpec("bastion.scan.formats.keras:KerasMetadataAnalyzer", ("keras-metadata",)),
    AnalyzerSpec("bastion.scan.formats.hdf5:Hdf5Analyzer", ("hdf5",)),
    AnalyzerSpec(
        "bastion.scan.formats.tensorflow:SavedModelAnalyzer",
        ("tf-savedmodel", "tf-savedmodel-text", "tf-graphdef"),
    ),
    AnalyzerSpec("bastion.scan.formats.tensorflow:FingerprintAnalyzer", ("tf-fingerprint",)),
    AnalyzerSpec("bastion.scan.formats.onnx:OnnxAnalyzer", ("onnx",)),
    AnalyzerSpec(
        "bastion.scan.formats.safetensors:SafetensorsAnalyzer",
        ("safetensors",),
        sniffs=True,
    ),
    AnalyzerSpec("bastion.scan.formats.gguf:GgufAnalyzer", ("gguf",)),
    AnalyzerSpec(
        "bastion.scan.formats.chat_template:TokenizerConfigAnalyzer",
        ("hf-tokenizer-config",),
        sniffs=True,
    ),
    AnalyzerSpec(
        "bastion.scan.formats.chat_template:JinjaTemplateAnalyzer",
        ("jinja-template",),
        sniffs=True,
    ),
    AnalyzerSpec("bastion.scan.code.analyzer:PythonAnalyzer", ("python",)),
    AnalyzerSpec("bastion.scan.notebooks.analyzer:NotebookAnalyzer", ("notebook",)),
    AnalyzerSpec("bastion.scan.secrets.analyzer:SecretsAnalyzer", ("text",)),
    AnalyzerSpec("bastion.scan.configs.analyzer:ManifestAnalyzer", ("yaml", "json")),
    AnalyzerSpec("bastion.scan.configs.analyzer:DockerfileAnalyzer", ("dockerfile",)),
    AnalyzerSpec("bastion.scan.configs.analyzer:ShellAnalyzer", ("shell",)),
    AnalyzerSpec("bastion.scan.configs.analyzer:MlflowAuthConfigAnalyzer", ("ini",)),
    AnalyzerSpec(
        "bastion.scan.deps.analyzer:DependencyAnalyzer",
        ("requirements", "pyproject", "lockfile", "conda-env"),
    ),
    AnalyzerSpec("bastion.scan.deps.analyzer:PipConfigAnalyzer", ("pip-config",)),
    AnalyzerSpec("bastion.scan.data.analyzer:TabularDataAnalyzer", ("csv", "jsonl")),
    AnalyzerSpec(
        "bastion.scan.data.analyzer:ColumnarDataAnalyzer",
        ("parquet", "arrow", "arrow-stream"),
    ),
    AnalyzerSpec("bastion.scan.formats.general:GeneralRules", ()),
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
    """Analyzers by format and rules by id; built-in analyzers are imported on first use."""

    def __init__(self) -> None:
        self._slots: list[Analyzer | AnalyzerSpec] = []
        self._by_format: dict[str, list[int]] = {}
        self._rules: dict[str, Rule] = {}
        self._rule_modules: list[str] = []

    def add_analyzer(self, analyzer_cls: type[Analyzer]) -> None:
        """Register an analyzer class (instantiated once) and its rules."""
        analyzer = self._instantiate(analyzer_cls)
        self._add_slot(analyzer, analyzer_cls.formats)

    def add_spec(self, spec: AnalyzerSpec) -> None:
        """Register a built-in analyzer to import when first needed."""
        self._add_slot(spec, spec.formats)

    def add_rule_module(self, module_name: str) -> None:
        """Register a module whose ``RULES`` are loaded when rules are listed."""
        self._rule_modules.append(module_name)

    def _add_slot(self, entry: Analyzer | AnalyzerSpec, formats: tuple[str, ...]) -> None:
        index = len(self._slots)
        self._slots.append(entry)
        for fmt in formats:
            self._by_format.setdefault(fmt, []).append(index)

    def _instantiate(self, analyzer_cls: type[Analyzer]) -> Analyzer:
        if not (isinstance(analyzer_cls, type) and issubclass(analyzer_cls, Analyzer)):
            raise RegistryError(f"{analyzer_cls!r} is not an Analyzer subclass")
        analyzer = analyzer_cls()
        self.add_rules(analyzer_cls.rules)
        return analyzer

    def _resolve(self, index: int) -> Analyzer:
        entry = self._slots[index]
        if isinstance(entry, Analyzer):
            return entry
        cls = _load(entry.target)
        if tuple(getattr(cls, "formats", ())) != entry.formats:
            raise RegistryError(
                f"{entry.target} handles {cls.formats!r}, the registry says {entry.formats!r}"
            )
        analyzer = self._instantiate(cls)
        self._slots[index] = analyzer
        return analyzer

    def _resolve_all(self) -> None:
        for index in range(len(self._slots)):
            self._resolve(index)
        while self._rule_modules:
            self.add_rules(importlib.import_module(self._rule_modules.pop(0)).RULES)

    def add_rules(self, rules: Iterable[Rule]) -> None:
        """Register rules; an id may be declared twice only with the same definition."""
        for rule in rules:
            known = self._rules.get(rule.id)
            if known is not None and known != rule:
                raise RegistryError(f"rule id {rule.id} is defined twice with different content")
            self._rules[rule.id] = rule

    def analyzers_for(self, fmt: str) -> tuple[Analyzer, ...]:
        """Analyzers registered for a format id (imported now if they were not yet)."""
        return tuple(self._resolve(i) for i in self._by_format.get(fmt, ()))

    @property
    def analyzers(self) -> tuple[Analyzer, ...]:
        """Every registered analyzer, in registration order."""
        self._resolve_all()
        return tuple(self._resolve(i) for i in range(len(self._slots)))

    @property
    def formats(self) -> tuple[str, ...]:
        """Every format id some analyzer handles."""
        return tuple(sorted(self._by_format))

    def rules(self) -> tuple[Rule, ...]:
        """Every rule, sorted by id."""
        self._resolve_all()
        return tuple(self._rules[k] for k in sorted(self._rules))

    def rule(self, rule_id: str) -> Rule:
        """One rule by id (case-insensitive)."""
        key = rule_id.upper()
        if key not in self._rules:
            self._resolve_all()
        try:
            return self._rules[key]
        except KeyError:
            raise RegistryError(f"no rule with id {rule_id!r} (see 'bastion rules')") from None

    def sniff(self, head: bytes, name: str) -> str | None:
        """Ask analyzers that claim files by content whether they recognize the bytes."""
        for index, entry in enumerate(self._slots):
            if isinstance(entry, AnalyzerSpec) and not entry.sniffs:
                continue
            analyzer = self._resolve(index)
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
        registry.add_spec(spec)
    for module_name in BUILTIN_RULE_MODULES:
        registry.add_rule_module(module_name)
    if load_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            registry.add_analyzer(_load_plugin(ep.name, ep.value, ep.load))
    return registry
