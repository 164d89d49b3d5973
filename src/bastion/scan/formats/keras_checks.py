"""What one object in a Keras config means: Lambda code, imports, gadgets, fetched resources.

Each function looks at a single Keras object (a ``{"class_name", "config", "module"}`` dict) where
:class:`~bastion.scan.formats.keras_config.ConfigWalker` found it, and returns the issues it
raises. ``Site`` says where the object sits: the layer path, the field inside that layer, the
enclosing layer (whose ``arguments`` and inbound nodes carry a gadget's parameters) and whether
it is inside a Lambda layer (whose functions run on every call).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from bastion.core import Severity
from bastion.rules import Rule
from bastion.scan.formats import keras_knowledge as kk
from bastion.scan.formats.keras_bytecode import decode_payload, inspect_code
from bastion.scan.formats.keras_rules import (
    CUSTOM_OBJECT,
    DANGEROUS_REFERENCE,
    EXTERNAL_RESOURCE,
    KERAS_GADGET,
    LAMBDA_CODE,
)
from bastion.scan.formats.pickle.knowledge import Usage, Verdict, judge

#: How each container gets Lambda code run, for the message.
LAMBDA_CONTEXT = {
    "keras": "runs when the model is loaded with safe_mode=False (or after a config switches "
    "safe mode off, CVE-2025-9906)",
    "hdf5": "runs on load: Keras 3 before 3.11.3 ignores safe_mode for .h5 files "
    "(CVE-2025-9905), older Keras always loads it (CVE-2024-3660)",
    "json": "runs when the architecture is loaded with model_from_json and safe mode is off "
    "(always before Keras 2.13, CVE-2024-3660)",
    "savedmodel": "runs when tf-keras revives the SavedModel from its Keras metadata",
}


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config; ``detail`` is content-only (no path), for evidence and dedupe."""

    rule: Rule
    path: str
    field: str
    message: str
    detail: str
    severity: Severity | None = None
    payload: bytes | None = None

    @property
    def evidence(self) -> str:
        """``layer/path: detail``: stable across edits, distinct per layer."""
        return f"{self.path}: {self.detail}" if self.path else self.detail


@dataclass(frozen=True)
class Site:
    """Where an object sits in the config."""

    path: str
    field: str
    layer: dict[str, object] | None = None
    in_lambda: bool = False

    def at(self, field: str) -> Site:
        """The same layer, another field."""
        return Site(self.path, field, self.layer, self.in_lambda)

    def issue(
        self,
        rule: Rule,
        detail: str,
        message: str,
        *,
        severity: Severity | None = None,
        payload: bytes | None = None,
    ) -> ConfigIssue:
        """An issue raised here."""
        return ConfigIssue(rule, self.path, self.field, message, detail, severity, payload)


def lambda_issue(
    site: Site, code: object, config: dict[str, object] | None, container: str
) -> ConfigIssue:
    """Lambda bytecode: always critical, with what a static reading of it shows."""
    raw = decode_payload(code)
    if raw is None:
        detail = "lambda without readable code"
        summary = "its code field is empty or not a string"
    else:
        evidence = inspect_code(raw)
        extra = []
        if config is not None:
            extra = [
                repr(v)[:80]
                for v in (config.get("defaults"), config.get("closure"))
                if v not in (None, [], ())
            ]
        summary = evidence.summary() + (f"; defaults/closure {', '.join(extra)}" if extra else "")
        detail = f"lambda {hashlib.sha256(raw).hexdigest()[:16]} ({evidence.summary()})"
    context = LAMBDA_CONTEXT.get(container, LAMBDA_CONTEXT["keras"])
    return site.issue(
        LAMBDA_CODE,
        detail,
        f"Lambda layer carries marshalled Python bytecode in {site.field}; it {context}. "
        f"Static reading: {summary}.",
    )


def reference_issue(
    site: Site,
    module: str,
    name: str,
    is_function: bool,
    *,
    allow: tuple[str, ...] = (),
    deny: tuple[str, ...] = (),
) -> ConfigIssue | None:
    """Judge a ``module`` + name reference: Keras gadget, dangerous import, or custom code."""
    qual = f"{module}.{name}"
    kind = "function" if is_function else "class"
    if kk.in_keras_namespace(module):
        gadget = kk.keras_gadget(module, name)
        return gadget_issue(site, qual, gadget) if gadget is not None else None
    if module == "tensorflow" or module.startswith("tensorflow."):
        gadget = kk.tf_gadget(qual)
        return gadget_issue(site, qual, gadget) if gadget is not None else None
    if module.split(".")[0] == "tensorflow_hub":
        return None  # KerasLayer's handle is checked with the layer's config
    if module == "builtins" and name not in kk.PYTHON_BUILTINS:
        return None  # Keras' own activation/loss names are serialized under "builtins"
    verdict = judge(qual, Usage.CALL, allow=allow, deny=deny)
    if verdict.verdict is Verdict.DANGEROUS:
        return site.issue(
            DANGEROUS_REFERENCE,
            qual,
            f"The config names {kind} {qual} ({verdict.category}: {verdict.reason}); a loader "
            "that imports config modules (Keras < 3.9, CVE-2025-1550) resolves and calls it.",
        )
    if module == "builtins":
        return site.issue(
            DANGEROUS_REFERENCE,
            qual,
            f"The config names the Python builtin {name}, which is not a Keras function; "
            "Keras < 3.9 resolves it by import (CVE-2025-1550).",
            severity=Severity.HIGH,
        )
    if verdict.verdict is Verdict.SAFE:
        return None
    called = is_function and site.in_lambda
    note = "; it is the function of a Lambda layer and runs on every call" if called else ""
    return site.issue(
        CUSTOM_OBJECT,
        qual,
        f"The config needs {kind} {qual} from outside Keras{note}. Keras < 3.9 imports the "
        "module by itself (CVE-2025-1550).",
        severity=Severity.HIGH if called else None,
    )


def gadget_issue(site: Site, qual: str, gadget: kk.Gadget) -> ConfigIssue:
    """A framework function used as a gadget, with the string arguments found near it."""
    advisory = f" ({gadget.advisory})" if gadget.advisory else ""
    args = _strings_of(site.layer) if site.layer is not None else []
    shown = f"; arguments {', '.join(repr(a) for a in args)}" if args else ""
    return site.issue(
        KERAS_GADGET,
        qual,
        f"The config calls {qual}, which {gadget.what}{advisory}{shown}.",
        severity=gadget.severity,
    )


def layer_issues(site: Site, class_name: str, config: dict[str, object]) -> list[ConfigIssue]:
    """Layers that fetch files, URLs, SavedModels or pickles when they are rebuilt."""
    where = f"{site.field}.config" if site.field else "config"
    if class_name in kk.VOCABULARY_LAYERS:
        vocabulary = config.get("vocabulary")
        if isinstance(vocabulary, str) and vocabulary:
            what = f"{class_name} reads its vocabulary from {vocabulary!r} at load time"
            return [_fetch(site.at(f"{where}.vocabulary"), f"{what} (CVE-2025-12058)", vocabulary)]
    elif class_name == "TFSMLayer":
        path = _string(config, "filepath")
        what = f"TFSMLayer loads and runs the TensorFlow SavedModel at {path!r}"
        return [_fetch(site.at(f"{where}.filepath"), what, path)]
    elif class_name == "KerasLayer" and isinstance(config.get("handle"), str):
        handle = _string(config, "handle")
        what = f"KerasLayer downloads and runs the model at {handle!r}"
        return [_fetch(site.at(f"{where}.handle"), what, handle)]
    elif class_name in {"TFOpLambda", "SlicingOpLambda"}:
        api = config.get("function")
        gadget = kk.tf_gadget(api) if isinstance(api, str) else None
        if gadget is not None:
            return [gadget_issue(site.at(f"{where}.function"), f"tf.{api}", gadget)]
    elif class_name == "TorchModuleWrapper" and isinstance(config.get("module"), str):
        return [_torch_module(site.at(f"{where}.module"), str(config["module"]))]
    return []


def _fetch(site: Site, what: str, location: str) -> ConfigIssue:
    scope = kk.resource_scope(location) if location else None
    severity = Severity.HIGH if scope or not location else Severity.MEDIUM
    where = f" ({scope} location)" if scope else ""
    key = site.field.rsplit(".", 1)[-1]
    return site.issue(
        EXTERNAL_RESOURCE, f"{key}={location!r}", f"{what}{where}.", severity=severity
    )


def _torch_module(site: Site, encoded: str) -> ConfigIssue:
    try:
        payload = base64.b64decode(encoded.encode("ascii"), validate=False)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        payload = b""
    return site.issue(
        EXTERNAL_RESOURCE,
        f"torch module {hashlib.sha256(payload).hexdigest()[:16]}",
        f"TorchModuleWrapper embeds a {len(payload)}-byte torch.save pickle that Keras loads "
        "with torch.load(weights_only=False); it is analyzed as a nested artifact.",
        severity=Severity.MEDIUM,
        payload=payload or None,
    )


def _string(obj: dict[str, object], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _strings_of(obj: dict[str, object], limit: int = 4) -> list[str]:
    """The first string arguments near a reference (``arguments``, node kwargs): URLs, paths."""
    found: list[str] = []
    config = obj.get("config")
    arguments = config.get("arguments") if isinstance(config, dict) else None
    stack: list[object] = [obj.get("inbound_nodes"), arguments]
    seen = 0
    while stack and len(found) < limit and seen < 2000:
        value = stack.pop()
        seen += 1
        if isinstance(value, str) and value and len(value) < 300:
            found.append(value)
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return found
