"""The stack, memo, literal and container opcodes of the static pickle machine.

Split from :mod:`bastion.scan.formats.pickle.machine`, which adds imports, calls, persistence
and framing on top: :class:`StackOps` is the part that only moves symbolic values around.
"""

from __future__ import annotations

from typing import Protocol

from bastion.errors import AnalysisLimitError
from bastion.scan.formats.pickle.reader import InvalidOpcodeError, Op
from bastion.scan.formats.pickle.values import MARK, Glob, Lit, Map, Seq, Value, _Mark
from bastion.scan.limits import Limits


class StackUnderflowError(Exception):
    """The pickle pops more than it pushed: the unpickler fails here."""


class _Obs(Protocol):
    build_on_global: list[tuple[Glob, int]]


class StackOps:
    """Opcodes that build values on the stack and in the memo."""

    stack: list[Value | _Mark]
    memo: dict[int, Value]
    limits: Limits
    obs: _Obs

    # -- stack helpers ---------------------------------------------------------------------------

    def _push(self, value: Value | _Mark) -> None:
        if len(self.stack) >= self.limits.max_stack_items:
            raise AnalysisLimitError("stack", f"more than {self.limits.max_stack_items} items")
        self.stack.append(value)

    def _pop(self) -> Value | _Mark:
        if not self.stack:
            raise StackUnderflowError("pops from an empty stack")
        return self.stack.pop()

    def _pop_value(self) -> Value:
        return _value(self._pop())

    def _pop_mark(self) -> list[Value]:
        stack = self.stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is MARK:
                items = [_value(v) for v in stack[i + 1 :]]
                del stack[i:]
                return items
        raise StackUnderflowError("no MARK on the stack")

    def _top(self) -> Value:
        if not self.stack:
            raise StackUnderflowError("reads the top of an empty stack")
        return _value(self.stack[-1])

    # -- literals --------------------------------------------------------------------------------

    def _lit(self, op: Op) -> None:
        self._push(Lit(op.arg))

    op_INT = op_BININT = op_BININT1 = op_BININT2 = op_LONG = op_LONG1 = op_LONG4 = _lit
    op_STRING = op_BINSTRING = op_SHORT_BINSTRING = op_BINBYTES = op_SHORT_BINBYTES = _lit
    op_BINBYTES8 = op_BYTEARRAY8 = op_UNICODE = op_SHORT_BINUNICODE = op_BINUNICODE = _lit
    op_BINUNICODE8 = op_FLOAT = op_BINFLOAT = _lit

    def op_NONE(self, op: Op) -> None:
        self._push(Lit(None))

    def op_NEWTRUE(self, op: Op) -> None:
        self._push(Lit(True))

    def op_NEWFALSE(self, op: Op) -> None:
        self._push(Lit(False))

    # -- containers ------------------------------------------------------------------------------

    def op_EMPTY_LIST(self, op: Op) -> None:
        self._push(Seq("list"))

    def op_EMPTY_TUPLE(self, op: Op) -> None:
        self._push(Seq("tuple"))

    def op_EMPTY_DICT(self, op: Op) -> None:
        self._push(Map())

    def op_EMPTY_SET(self, op: Op) -> None:
        self._push(Seq("set"))

    def op_LIST(self, op: Op) -> None:
        self._push(_seq("list", self._pop_mark()))

    def op_TUPLE(self, op: Op) -> None:
        self._push(_seq("tuple", self._pop_mark()))

    def op_FROZENSET(self, op: Op) -> None:
        self._push(_seq("frozenset", self._pop_mark()))

    def op_TUPLE1(self, op: Op) -> None:
        self._push(Seq("tuple", [self._pop_value()]))

    def op_TUPLE2(self, op: Op) -> None:
        b = self._pop_value()
        a = self._pop_value()
        self._push(Seq("tuple", [a, b]))

    def op_TUPLE3(self, op: Op) -> None:
        c = self._pop_value()
        b = self._pop_value()
        a = self._pop_value()
        self._push(Seq("tuple", [a, b, c]))

    def op_DICT(self, op: Op) -> None:
        items = self._pop_mark()
        result = Map()
        for i in range(0, len(items) - 1, 2):
            result.put(items[i], items[i + 1])
        self._push(result)

    def _mutated(self, target: Value, pos: int) -> None:
        """APPEND(S)/SETITEM(S)/ADDITEMS on an imported object changes a module-level registry
        (global hooks, dispatch tables): the same as BUILD on it."""
        if isinstance(target, Glob):
            self.obs.build_on_global.append((target, pos))

    def op_APPEND(self, op: Op) -> None:
        value = self._pop_value()
        target = self._top()
        self._mutated(target, op.pos)
        if isinstance(target, Seq):
            target.add(value)

    def op_APPENDS(self, op: Op) -> None:
        items = self._pop_mark()
        target = self._top()
        self._mutated(target, op.pos)
        if isinstance(target, Seq):
            for item in items:
                target.add(item)

    op_ADDITEMS = op_APPENDS

    def op_SETITEM(self, op: Op) -> None:
        value = self._pop_value()
        key = self._pop_value()
        target = self._top()
        self._mutated(target, op.pos)
        if isinstance(target, Map):
            target.put(key, value)

    def op_SETITEMS(self, op: Op) -> None:
        items = self._pop_mark()
        target = self._top()
        self._mutated(target, op.pos)
        if isinstance(target, Map):
            for i in range(0, len(items) - 1, 2):
                target.put(items[i], items[i + 1])

    # -- stack and memo --------------------------------------------------------------------------

    def op_MARK(self, op: Op) -> None:
        self._push(MARK)

    def op_POP(self, op: Op) -> None:
        self._pop()

    def op_POP_MARK(self, op: Op) -> None:
        self._pop_mark()

    def op_DUP(self, op: Op) -> None:
        self._push(self._top())

    def _put(self, key: int) -> None:
        if len(self.memo) >= self.limits.max_stack_items and key not in self.memo:
            raise AnalysisLimitError(
                "memo", f"more than {self.limits.max_stack_items} memo entries"
            )
        self.memo[key] = self._top()

    def op_PUT(self, op: Op) -> None:
        self._put(int(op.arg))  # type: ignore[call-overload]

    op_BINPUT = op_LONG_BINPUT = op_PUT

    def op_MEMOIZE(self, op: Op) -> None:
        self._put(len(self.memo))

    def op_GET(self, op: Op) -> None:
        key = int(op.arg)  # type: ignore[call-overload]
        if key not in self.memo:
            raise InvalidOpcodeError(op.pos, f"memo key {key} was never stored")
        self._push(self.memo[key])

    op_BINGET = op_LONG_BINGET = op_GET


def _value(item: Value | _Mark) -> Value:
    if isinstance(item, _Mark):
        raise StackUnderflowError("uses a MARK as a value")
    return item


def _seq(kind: str, items: list[Value]) -> Seq:
    seq = Seq(kind)
    for item in items:
        seq.add(item)
    return seq
