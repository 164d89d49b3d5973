"""Reviewed helpers whose effect on the stack is known statically.

``getattr`` on an imported class, NumPy's ufunc reconstructor and dill's module import resolve to
new globals that are judged like any other; ``copyreg`` reconstructors say which class is built;
``_codecs.encode`` and the usual decoders (base64, zlib, hex) are folded so a nested payload hidden
behind them is still found. Anything else is left to the generic call handling.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import codecs
import zlib
from collections.abc import Callable
from typing import Protocol

from bastion.scan.formats.pickle.knowledge import Usage
from bastion.scan.formats.pickle.knowledge_data import (
    CALLING_GADGETS,
    DILL_TYPE_NAMES,
    GETATTR_GADGETS,
    IMPORT_GADGETS,
    MODULE_ATTR_GADGETS,
    MODULE_IMPORT_GADGETS,
    TYPE_LOADERS,
)
from bastion.scan.formats.pickle.values import (
    Call,
    Glob,
    Lit,
    Persist,
    Seq,
    Unknown,
    Value,
    literal,
)


class _Obs(Protocol):
    globs: list[Glob]
    dynamic: list[tuple[int, str, str]]
    dynamic_calls: list[tuple[int, str]]


class MachineState(Protocol):
    """What the helpers need from the machine."""

    @property
    def obs(self) -> _Obs:
        """The observations being collected."""
        ...

    def import_global(self, module: str, name: str, pos: int, via: str) -> Glob:
        """Record an import and return its value."""
        ...

    def construct(self, cls: Value, args: Value, pos: int, opname: str) -> None:
        """Record ``cls.__new__(cls, *args)`` (NEWOBJ semantics)."""
        ...

    def deferred_call(self, target: Value, args: Value, pos: int, via: str) -> None:
        """Record that loaded objects will call ``target``."""
        ...


NESTED_LOADERS = frozenset(
    {
        "pickle.loads",
        "pickle.load",
        "_pickle.loads",
        "_pickle.load",
        "cPickle.loads",
        "dill.loads",
        "dill.load",
        "cloudpickle.loads",
        "cloudpickle.load",
        "joblib.load",
        "numpy.load",
        "torch.load",
        "torch.serialization.load",
        "torch.storage._load_from_bytes",
        "marshal.loads",
        "pandas.read_pickle",
        "dill._dill.loads",
        "pickle._loads",
    }
)
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.a85decode": base64.a85decode,
    "base64.b85decode": base64.b85decode,
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "builtins.bytes.fromhex": lambda b: bytes.fromhex(b.decode("latin-1")),
    "zlib.decompress": lambda b: zlib.decompressobj().decompress(b, 64 << 20),
}


BUILTIN_BASES = frozenset(
    {
        "builtins.object",
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.tuple",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bytes",
        "builtins.frozenset",
        "builtins.complex",
        "builtins.bytearray",
        "builtins.Exception",
        "builtins.BaseException",
        "builtins.ValueError",
    }
)


def benign_type_arg(value: Value) -> bool:
    """``type(None)``, ``type(NotImplemented)``, ``type(...)``: how pickle saves those types."""
    if isinstance(value, Lit):
        return value.value is None
    return isinstance(value, Glob) and value.qualname in (
        "builtins.NotImplemented",
        "builtins.Ellipsis",
    )


def resolve_special(
    machine: MachineState, func: Glob, items: list[Value], args: Value, pos: int
) -> Value | None:
    """Reviewed helpers whose effect is known statically."""
    qual = func.qualname
    if qual in MODULE_IMPORT_GADGETS and items:
        module = literal(items[0])
        func.use(Usage.CALL, pos, args)
        if isinstance(module, str):
            glob = Glob(module, pos, qual)
            if not valid_dotted(module):
                machine.obs.dynamic.append((pos, "invalid-name", f"imports module {module!r}"))
            machine.obs.globs.append(glob)
            return glob
        machine.obs.dynamic.append((pos, "computed-import", f"{qual} with a computed name"))
        return Unknown("module imported by a computed name")
    if qual in GETATTR_GADGETS and len(items) >= 2:
        base, attr = items[0], items[1]
        name = literal(attr)
        if isinstance(name, str) and isinstance(base, Glob):
            func.resolved_uses += 1
            func.total_calls += 1
            path = f"{base.attributes}.{name}" if base.attributes else name
            resolved = Glob(f"{base.qualname}.{name}", pos, "getattr", path)
            machine.obs.globs.append(resolved)
            return resolved
        if isinstance(name, str) and isinstance(base, Call | Unknown | Persist):
            if _dunder(name):
                # NOTE: a dunder of a rebuilt object is the way to its class, globals or
                # builtins, whichever getattr-like helper fetches it.
                func.use(Usage.CALL, pos, args)
                machine.obs.dynamic.append(
                    (
                        pos,
                        "introspection",
                        f"{qual} fetches {name!r} of a value computed at load time",
                    )
                )
                return Unknown(f"attribute {name!r} of an object rebuilt at load time")
            # NOTE: a bound method of an object the pickle rebuilt (PyTorch stores hooks this
            # way). Fetching it runs nothing; calling it is judged as a call of a computed value.
            func.resolved_uses += 1
            func.total_calls += 1
            return Unknown(f"attribute {name!r} of an object rebuilt at load time")
        return None
    if qual in TYPE_LOADERS and items:
        return _load_type(machine, func, items, args, pos)
    module_of = MODULE_ATTR_GADGETS.get(qual)
    if module_of is not None and len(items) == 1:
        name = literal(items[0])
        if isinstance(name, str):
            func.resolved_uses += 1
            func.total_calls += 1
            return machine.import_global(module_of, name, pos, qual)
        return None
    if qual in IMPORT_GADGETS and len(items) >= 2:
        module, name = literal(items[0]), literal(items[1])
        func.use(Usage.CALL, pos, args)
        if isinstance(module, str) and isinstance(name, str):
            return machine.import_global(module, name, pos, qual)
        machine.obs.dynamic.append((pos, "computed-import", f"{qual} with computed names"))
        return Unknown("import by computed name")
    if qual == "builtins.type":
        if len(items) == 1 and benign_type_arg(items[0]):
            func.resolved_uses += 1
            func.total_calls += 1
            return Unknown("builtin singleton type", inert=True)
        return None
    if qual in ("copyreg._reconstructor",) and len(items) >= 2:
        func.use(Usage.CALL, pos, args)
        cls, base = items[0], items[1]
        if isinstance(cls, Glob):
            cls.use(Usage.CONSTRUCT, pos, args)
        if isinstance(base, Glob) and base.qualname not in BUILTIN_BASES:
            base.use(Usage.CALL, pos, args)
            if base.qualname in CALLING_GADGETS and len(items) > 2:
                # base(state): functools.partial(state) wraps the state as the function to call
                machine.deferred_call(items[2], Seq("tuple"), pos, base.qualname)
        elif not isinstance(base, Glob | Lit):
            # NOTE: the base's __new__ and __init__ run with the state: a base produced at load
            # time (an import gadget's result) is a call nobody can judge.
            machine.obs.dynamic_calls.append(
                (pos, "reconstructs an object on a base class computed at load time")
            )
        return Call(cls, args, pos, "NEWOBJ")
    if qual in ("copyreg.__newobj__", "copyreg.__newobj_ex__") and items:
        func.use(Usage.CALL, pos, args)
        machine.construct(items[0], Seq("tuple", items[1:]), pos, "copyreg.__newobj__")
        return Call(items[0], args, pos, "NEWOBJ")
    if qual in ("_codecs.encode", "codecs.encode") and items:
        text, encoding = literal(items[0]), literal(items[1]) if len(items) > 1 else "utf-8"
        if isinstance(text, str) and isinstance(encoding, str):
            func.use(Usage.CALL, pos, args)
            try:
                return Lit(codecs.encode(text, encoding))
            except (LookupError, ValueError, TypeError):
                return Call(func, args, pos, "REDUCE")
        return None
    decoder = DECODERS.get(qual)
    if decoder is not None and items:
        data = literal(items[0])
        func.use(Usage.CALL, pos, args)
        if isinstance(data, str):
            data = data.encode("latin-1", "replace")
        if isinstance(data, bytes | bytearray):
            try:
                return Lit(decoder(bytes(data)))
            except (ValueError, TypeError, zlib.error, binascii.Error):
                pass
        return Call(func, args, pos, "REDUCE")
    return None


def _load_type(
    machine: MachineState, func: Glob, items: list[Value], args: Value, pos: int
) -> Value:
    """dill's ``_load_type(name)`` / ``_create_namedtuple(name, fields, module)``: the class they
    return is judged as the import it is, so constructing or calling it is judged too."""
    qual = func.qualname
    func.use(Usage.CALL, pos, args)
    name = literal(items[0])
    if qual == "dill._dill._load_type":
        if isinstance(name, str) and name.isidentifier():
            target = DILL_TYPE_NAMES.get(name)
            if target is None:
                target = f"builtins.{name}" if hasattr(builtins, name) else f"types.{name}"
            module, attr = target.rsplit(".", 1)
            return machine.import_global(module, attr, pos, qual)
    elif len(items) >= 3:
        module_name = literal(items[2])
        if isinstance(name, str) and isinstance(module_name, str):
            return machine.import_global(module_name, name, pos, qual)
    machine.obs.dynamic.append((pos, "computed-import", f"{qual} with a computed name"))
    return Unknown("class loaded by a computed name")


def valid_dotted(text: str) -> bool:
    """A dotted Python identifier."""
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")
