"""The static pickle machine: runs the opcodes over symbolic values, never over real objects.

It follows the stack and the memo exactly as the unpickler would, so it knows which globals are
imported (``GLOBAL``, ``STACK_GLOBAL`` with names built on the stack or fetched from the memo,
``INST``/``OBJ``, extension codes), which are called and with what (``REDUCE``, ``NEWOBJ``,
``NEWOBJ_EX``, ``INST``/``OBJ``, ``BUILD`` reaching ``__setstate__``), and what a few reviewed
helpers resolve to (``getattr`` on an imported class, NumPy's ufunc reconstructor, ``_codecs``).
Every opcode before a malformed byte is still analyzed: the real unpickler runs them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from bastion.errors import AnalysisLimitError
from bastion.scan.formats.pickle.gadgets import NESTED_LOADERS, resolve_special, valid_dotted
from bastion.scan.formats.pickle.knowledge import Usage, normalize_module, qualify
from bastion.scan.formats.pickle.knowledge_data import (
    CALLING_GADGETS,
    STATE_ARGUMENTS,
    TYPE_FACTORIES,
)
from bastion.scan.formats.pickle.reader import (
    BigBytes,
    ByteReader,
    InvalidOpcodeError,
    Op,
    TruncatedError,
    read_op,
)
from bastion.scan.formats.pickle.stack import StackOps, StackUnderflowError, _value
from bastion.scan.formats.pickle.values import (
    Call,
    Glob,
    Lit,
    Map,
    Persist,
    Seq,
    Unknown,
    Value,
    _Mark,
    args_of,
    literal,
)
from bastion.scan.limits import Deadline, Limits


@dataclass
class Observations:
    """What one or more runs of the machine saw, in stream order."""

    globs: list[Glob] = field(default_factory=list)
    dynamic: list[tuple[int, str, str]] = field(default_factory=list)
    build_on_global: list[tuple[Glob, int]] = field(default_factory=list)
    nested: list[tuple[str, object, int]] = field(default_factory=list)
    dynamic_calls: list[tuple[int, str]] = field(default_factory=list)
    protocols: list[int] = field(default_factory=list)
    persistent_ids: int = 0
    ops: int = 0
    #: What another loader would run from the same bytes (a plain unpickler where joblib
    #: reads array data); reported when it is dangerous.
    alternatives: list[Observations] = field(default_factory=list)


@dataclass
class RunResult:
    """How one pickle (up to its STOP, or up to where it broke) ended."""

    start: int
    end: int
    stopped: bool
    result: Value | None = None
    error: str | None = None
    error_pos: int | None = None


BuildHook = Callable[[Value, Value, "PickleMachine"], None]


class PickleMachine(StackOps):
    """Interprets one pickle at a time from a :class:`ByteReader`."""

    def __init__(
        self,
        reader: ByteReader,
        limits: Limits,
        deadline: Deadline,
        observations: Observations | None = None,
        build_hook: BuildHook | None = None,
    ) -> None:
        self.reader = reader
        self.limits = limits
        self.deadline = deadline
        self.obs: Observations = observations or Observations()
        self.build_hook = build_hook
        self.stack: list[Value | _Mark] = []
        self.memo: dict[int, Value] = {}
        #: Where the current FRAME ends (joblib's Python unpickler reads array data from there).
        self.frame_end = -1
        self._deferred: list[Callable[[], None]] = []
        self._deferred_at: int | None = None
        self._handlers: dict[str, Callable[[Op], None]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    # -- driving -------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Interpret opcodes until STOP, the end of data, or an error."""
        self.stack = []
        self.memo = {}
        return self.resume()

    def defer_read(self, action: Callable[[], None]) -> None:
        """Run ``action`` where the file position of a framed Python unpickler is.

        Inside a FRAME, the Python unpickler has already read the whole frame: a direct read
        of the file (joblib's array data) happens at the frame's end, while opcodes continue
        inside the frame. Outside a frame the action runs now.
        """
        if self.reader.pos < self.frame_end:
            self._deferred.append(action)
            self._deferred_at = self.frame_end
        else:
            action()

    def _run_deferred(self) -> None:
        actions, self._deferred, self._deferred_at = self._deferred, [], None
        for action in actions:
            action()

    def resume(self) -> RunResult:
        """Interpret opcodes from the current stack and memo (a fork continues a stream)."""
        start = self.reader.pos
        handlers = self._handlers
        reader = self.reader
        obs = self.obs
        max_ops = self.limits.max_opcodes
        count = 0
        try:
            while True:
                if self._deferred_at is not None and reader.pos >= self._deferred_at:
                    self._run_deferred()
                op = read_op(reader)
                if op is None:
                    return RunResult(
                        start,
                        reader.pos,
                        False,
                        error="end of data before STOP",
                        error_pos=reader.pos,
                    )
                count += 1
                if count & 0xFFFF == 0:
                    self.deadline.check()
                    if obs.ops + count > max_ops:
                        raise AnalysisLimitError("opcodes", f"more than {max_ops} opcodes")
                if op.name == "STOP":
                    value = self._pop()
                    obs.ops += count
                    return RunResult(start, reader.pos, True, result=_value(value))
                handlers[op.name](op)
        except TruncatedError as exc:
            obs.ops += count
            return RunResult(start, reader.pos, False, error=str(exc), error_pos=exc.pos)
        except InvalidOpcodeError as exc:
            obs.ops += count
            return RunResult(start, reader.pos, False, error=exc.detail, error_pos=exc.pos)
        except StackUnderflowError as exc:
            obs.ops += count
            return RunResult(start, reader.pos, False, error=str(exc), error_pos=reader.pos)

    # -- imports ---------------------------------------------------------------------------------

    def import_global(self, module: str, name: str, pos: int, via: str) -> Glob:
        module, name = normalize_module(module, name)
        glob = Glob(qualify(module, name), pos, via, name)
        if not (valid_dotted(module) and valid_dotted(name)):
            self.obs.dynamic.append(
                (pos, "invalid-name", f"imports {module!r} {name!r}, not a valid dotted name")
            )
        self.obs.globs.append(glob)
        return glob

    def op_GLOBAL(self, op: Op) -> None:
        module, name = cast("tuple[str, str]", op.arg)
        self._push(self.import_global(module, name, op.pos, "GLOBAL"))

    def op_STACK_GLOBAL(self, op: Op) -> None:
        name = self._pop_value()
        module = self._pop_value()
        m, n = literal(module), literal(name)
        if isinstance(m, str) and isinstance(n, str):
            self._push(self.import_global(m, n, op.pos, "STACK_GLOBAL"))
            return
        self.obs.dynamic.append(
            (op.pos, "computed-import", "STACK_GLOBAL with a module or name computed at load time")
        )
        self._push(Unknown("global imported by a computed name"))

    def _ext(self, op: Op) -> None:
        self.obs.dynamic.append(
            (
                op.pos,
                "extension-code",
                f"{op.name} {op.arg}: imports whatever the loading process registered under this "
                "copyreg extension code",
            )
        )
        self._push(Unknown(f"extension code {op.arg}"))

    op_EXT1 = op_EXT2 = op_EXT4 = _ext

    # -- calls -----------------------------------------------------------------------------------

    def op_REDUCE(self, op: Op) -> None:
        args = self._pop_value()
        func = self._pop_value()
        self._push(self._call(func, args, op.pos, "REDUCE"))

    def _call(self, func: Value, args: Value, pos: int, opname: str) -> Value:
        func = _persisted_class(func)
        items = args_of(args)
        if isinstance(func, Glob):
            special = resolve_special(self, func, items, args, pos)
            if special is not None:
                return special
            func.use(Usage.CALL, pos, args)
            if not (len(items) == 1 and isinstance(items[0], Lit)):
                func.nonliteral_calls += 1
            self._calls_argument(func, items, pos)
            state_index = STATE_ARGUMENTS.get(func.qualname)
            if state_index is not None and state_index < len(items):
                self._duck_methods(items[state_index], pos)
            if func.qualname in NESTED_LOADERS and items:
                self.obs.nested.append((func.qualname, _payload(items[0]), pos))
            return Call(func, args, pos, opname)
        if isinstance(func, Call | Unknown | Persist):
            self.obs.dynamic_calls.append((pos, f"calls a value computed at load time ({opname})"))
        return Call(func, args, pos, opname)

    def op_NEWOBJ(self, op: Op) -> None:
        args = self._pop_value()
        cls = self._pop_value()
        self._construct(cls, args, op.pos, "NEWOBJ")

    def op_NEWOBJ_EX(self, op: Op) -> None:
        kwargs = self._pop_value()
        args = self._pop_value()
        cls = self._pop_value()
        merged = (
            Seq("tuple", [*args_of(args), kwargs])
            if isinstance(kwargs, Map) and kwargs.items
            else args
        )
        if isinstance(kwargs, Map):
            # NOTE: keyword arguments become attributes of namespaces and the like, exactly
            # what a BUILD state does.
            self._duck_methods(kwargs, op.pos)
        elif isinstance(kwargs, Call | Unknown | Persist):
            self.obs.dynamic_calls.append(
                (op.pos, "NEWOBJ_EX with keyword arguments computed at load time")
            )
        self._construct(cls, merged, op.pos, "NEWOBJ_EX")

    def _construct(self, cls: Value, args: Value, pos: int, opname: str) -> None:
        self.construct(cls, args, pos, opname)
        self._push(Call(cls, args, pos, opname))

    def construct(self, cls: Value, args: Value, pos: int, opname: str) -> None:
        """``cls.__new__(cls, *args)``: with arguments that is a call of ``__new__``."""
        cls = _persisted_class(cls)
        items = args_of(args)
        if isinstance(cls, Glob):
            # NOTE: NEWOBJ hands its arguments to __new__, which some classes use to open
            # files (numpy.memmap): with arguments it is judged as a call of the class.
            if items:
                cls.use(Usage.CALL, pos, args)
                if not (len(items) == 1 and isinstance(items[0], Lit)):
                    cls.nonliteral_calls += 1
                self._calls_argument(cls, items, pos)
            else:
                cls.use(Usage.CONSTRUCT, pos, args)
        elif not (
            isinstance(cls, Call)
            and isinstance(cls.func, Glob)
            and cls.func.qualname in TYPE_FACTORIES
        ):
            self.obs.dynamic_calls.append((pos, f"{opname} on a class computed at load time"))

    def _calls_argument(self, func: Glob, items: list[Value], pos: int) -> None:
        """Reviewed callables that call one of their arguments (a partial's function)."""
        index = CALLING_GADGETS.get(func.qualname)
        if index is None or index >= len(items):
            return
        self.deferred_call(items[index], Seq("tuple", items[index + 1 :]), pos, func.qualname)

    def deferred_call(self, target: Value, args: Value, pos: int, via: str) -> None:
        """``target`` will be called by the loaded objects: judge it as a call."""
        if isinstance(target, Glob):
            target.use(Usage.CALL, pos, args)
            target.nonliteral_calls += 1
        elif isinstance(target, Lit) or (isinstance(target, Unknown) and target.inert):
            return  # no literal is callable (a generator's name, a partial's None)
        elif not (
            isinstance(target, Call)
            and isinstance(target.func, Glob)
            and target.func.qualname in CALLING_GADGETS
        ):
            self.obs.dynamic_calls.append(
                (pos, f"hands a value computed at load time to {via}, which calls it")
            )

    def op_INST(self, op: Op) -> None:
        module, name = cast("tuple[str, str]", op.arg)
        args = self._pop_mark()
        cls = self.import_global(module, name, op.pos, "INST")
        self._instantiate(cls, args, op.pos, "INST")

    def op_OBJ(self, op: Op) -> None:
        items = self._pop_mark()
        if not items:
            raise StackUnderflowError("OBJ without a class")
        self._instantiate(items[0], items[1:], op.pos, "OBJ")

    def _instantiate(self, cls: Value, args: list[Value], pos: int, opname: str) -> None:
        argv = Seq("tuple", args)
        if isinstance(cls, Glob):
            # NOTE: the unpickler calls klass(*args) when there are arguments, when klass is not
            # a class (a capitalized function is still a function) or defines __getinitargs__;
            # which of these holds is not knowable statically, so INST/OBJ are calls.
            cls.use(Usage.CALL, pos, argv)
            if cls.qualname in NESTED_LOADERS and args:
                self.obs.nested.append((cls.qualname, _payload(args[0]), pos))
        else:
            self.obs.dynamic_calls.append((pos, f"{opname} on a value computed at load time"))
        self._push(Call(cls, argv, pos, opname))

    def op_BUILD(self, op: Op) -> None:
        state = self._pop_value()
        obj = self._top()
        if isinstance(obj, Glob):
            self.obs.build_on_global.append((obj, op.pos))
        elif isinstance(obj, Call):
            obj.state = state  # __setstate__ runs on every BUILD: the last one counts
            func = obj.func
            if isinstance(func, Glob) and func.qualname in _PARTIALS and isinstance(state, Seq):
                # partial.__setstate__((func, args, kwds, dict)) replaces the function
                target = state.items[0] if state.items else Lit(None)
                call_args = state.items[1] if len(state.items) > 1 else Seq("tuple")
                self.deferred_call(target, call_args, op.pos, func.qualname)
            else:
                self._duck_methods(state, op.pos)
        if self.build_hook is not None:
            self.build_hook(obj, state, self)

    def _duck_methods(self, state: Value, pos: int) -> None:
        """Instance attributes that library code calls as methods.

        ``dict(x)`` calls ``x.keys()``, ``numpy.asarray(x)`` calls ``x.__array__()``,
        ``Parameter(x)`` calls ``x.detach()``: a callable stored as such an attribute (a
        SimpleNamespace's ``keys``) is called with no arguments. Functions and bound methods
        (getattr on a rebuilt object is Unknown) are judged under the names of methods that
        consumers call and under dunders, where they are never data; PyTorch stores its own
        bound methods under other names (a lazy module's hooks).
        """
        parts = state.items if isinstance(state, Seq) and len(state.items) == 2 else [state]
        for part in parts:
            if not isinstance(part, Map):
                continue
            for key, value in part.items:
                # NOTE: an array or other rebuilt value under such a name is data.
                if not isinstance(key, Lit) or not isinstance(key.value, str):
                    continue
                name = key.value
                if isinstance(value, Glob | Unknown) and (
                    name in _DUCK_METHODS or (name.startswith("__") and name.endswith("__"))
                ):
                    self.deferred_call(value, Seq("tuple"), pos, f"attribute {name!r}")

    # -- persistence, buffers --------------------------------------------------------------------

    def op_PERSID(self, op: Op) -> None:
        self.obs.persistent_ids += 1
        self._push(Persist(Lit(op.arg)))

    def op_BINPERSID(self, op: Op) -> None:
        self.obs.persistent_ids += 1
        self._push(Persist(self._pop_value()))

    def op_NEXT_BUFFER(self, op: Op) -> None:
        self._push(Unknown("out-of-band buffer", inert=True))

    def op_READONLY_BUFFER(self, op: Op) -> None:
        self._top()

    # -- framing ---------------------------------------------------------------------------------

    def op_PROTO(self, op: Op) -> None:
        proto = int(op.arg)  # type: ignore[call-overload]
        if proto > 5:
            raise InvalidOpcodeError(op.pos, f"unsupported protocol {proto}")
        self.obs.protocols.append(proto)

    def op_FRAME(self, op: Op) -> None:
        self.frame_end = self.reader.pos + int(op.arg)  # type: ignore[call-overload]


_PARTIALS = frozenset({"functools.partial", "functools.partialmethod"})
_DUCK_METHODS = frozenset(
    {
        "keys",
        "items",
        "values",
        "get",
        "read",
        "readline",
        "readinto",
        "write",
        "fileno",
        # torch.nn.Parameter(x) and torch's rebuild helpers call x.detach(); scipy's frozen
        # distributions call dist._updated_ctor_param(); array consumers x.astype/tocsr/...
        "detach",
        "_updated_ctor_param",
        "astype",
        "asformat",
        "tocsr",
        "tocoo",
        "to_numpy",
        "numpy",
        "copy",
    }
)


def _persisted_class(value: Value) -> Value:
    """What ``torch.load`` makes of a legacy checkpoint's ``("module", cls, file, source)`` id.

    Legacy ``torch.save`` stores each whole module's class as that persistent id and its loader
    returns ``cls``, so the class is judged as what is built or called; other loaders refuse the
    id, so judging the class is never less strict than what they run.
    """
    if isinstance(value, Persist) and isinstance(value.pid, Seq) and value.pid.kind == "tuple":
        items = value.pid.items
        if len(items) == 4 and _payload(items[0]) in ("module", b"module"):
            if isinstance(items[1], Glob):
                return items[1]
    return value


def _payload(value: Value) -> object:
    if isinstance(value, Lit):
        return value.value
    return None


__all__ = ["BigBytes", "Observations", "PickleMachine", "RunResult"]
