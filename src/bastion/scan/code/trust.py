"""Where loaded data comes from: a literal local path, this process itself, or someone else.

The pickle-family rules report loads of data someone else may control. Data is *trusted* here
when it is a literal local path (the project's own artifact), a file opened from one, or what
the same function produced: ``dumps`` output, a path or buffer it ``dump``ed/``save``d to, an
element of a container it filled with such values, or what a helper defined in the module
returns. Parameters, attributes, downloads and URLs are not. Answers are memoized per
expression, with cycles cut.
"""

from __future__ import annotations

import ast

from bastion.scan.code.facts import ModuleFacts, Scope, argument, keyword
from bastion.scan.code.walk import element_of

#: Functions whose output is data this process made (a round trip is not a load of outside data).
DUMPERS: dict[str, int] = {
    "pickle.dumps": -1,
    "dill.dumps": -1,
    "cloudpickle.dumps": -1,
    "pickle.dump": 1,
    "dill.dump": 1,
    "cloudpickle.dump": 1,
    "joblib.dump": 1,
    "torch.save": 1,
    "numpy.save": 0,
    "numpy.savez": 0,
    "numpy.savez_compressed": 0,
}
#: Calls that open or wrap a path or bytes without changing where the data comes from.
_OPENERS = frozenset(
    {
        "builtins.open",
        "io.open",
        "io.BytesIO",
        "io.StringIO",
        "gzip.open",
        "gzip.GzipFile",
        "bz2.open",
        "bz2.BZ2File",
        "lzma.open",
        "lzma.LZMAFile",
        "codecs.open",
        "pathlib.Path",
        "pathlib.PurePath",
        "os.path.join",
        "os.path.dirname",
        "os.path.abspath",
        "os.path.realpath",
        "os.path.expanduser",
    }
)
_PASS_THROUGH_METHODS = frozenset(
    {"open", "read", "read_bytes", "read_text", "getvalue", "getbuffer", "encode", "joinpath"}
)
#: Constructors of empty in-memory buffers and temporary files (hold only what is written).
_FRESH = frozenset(
    {
        "io.BytesIO",
        "tempfile.TemporaryFile",
        "tempfile.NamedTemporaryFile",
        "tempfile.SpooledTemporaryFile",
    }
)
MUTATORS = frozenset({"append", "extend", "insert", "add"})
_PATH_PARTS = frozenset({"parent", "name", "stem", "suffix"})
_REMOTE_PREFIXES = (
    "http://",
    "https://",
    "ftp://",
    "s3://",
    "gs://",
    "gcs://",
    "az://",
    "abfs://",
    "abfss://",
    "wasbs://",
    "hdfs://",
    "dbfs:/",
    "hf://",
    "runs:/",
    "models:/",
    "mlflow-artifacts:/",
)
_MAX_TRUST_DEPTH = 6


def is_remote(text: str) -> bool:
    """Whether a literal names something fetched over a network rather than a local file."""
    return text.lower().startswith(_REMOTE_PREFIXES)


def _source_key(expr: ast.expr, facts: ModuleFacts, scope: Scope) -> str:
    """What a load or a dump refers to, with ``open(...)`` wrappers peeled off."""
    while isinstance(expr, ast.Call) and expr.args:
        qual = facts.qualname(expr.func, scope)
        if qual not in _OPENERS:
            break
        expr = expr.args[0]
    return ast.dump(expr, annotate_fields=False)


def _same_object(expr: ast.expr, facts: ModuleFacts, scope: Scope) -> bool:
    """Whether ``expr`` names one thing throughout the function: its base name is bound once.

    A name bound in two branches (``buf = BytesIO()`` to send, ``buf = BytesIO(received)`` to
    load) is two objects, so writing one is no round trip for the other.
    """
    while isinstance(expr, ast.Call) and expr.args:
        if facts.qualname(expr.func, scope) not in _OPENERS:
            return False
        expr = expr.args[0]
    while isinstance(expr, ast.Attribute | ast.Subscript):
        expr = expr.value
    if isinstance(expr, ast.Constant):
        return True
    if not isinstance(expr, ast.Name):
        return False
    _, bindings = facts.lookup(expr.id, scope)
    if len(bindings) == 1:
        return True
    # Several empty buffers/temporary files: whichever is loaded holds what this scope wrote.
    return all(
        isinstance(b.value, ast.Call)
        and not b.value.args
        and facts.qualname(b.value.func, b.scope or scope) in _FRESH
        for b in bindings
    )


def wrote_here(expr: ast.expr, facts: ModuleFacts, scope: Scope) -> bool:
    """Whether this scope dumped or saved to exactly what ``expr`` refers to."""
    written = _written(facts, scope)
    return (
        bool(written)
        and _source_key(expr, facts, scope) in written
        and _same_object(expr, facts, scope)
    )


def _written(facts: ModuleFacts, scope: Scope) -> frozenset[str]:
    """Keys of destinations this scope dumps or saves to (computed once per scope)."""
    cache = facts.written_cache
    cached = cache.get(id(scope))
    if cached is not None:
        return cached
    keys = set()
    for call in facts.calls:
        if call.scope is not scope:
            continue
        position = DUMPERS.get(facts.qualname(call.node.func, scope) or "")
        if position is None or position < 0:
            continue
        target = argument(call.node, position, "file") or keyword(call.node, "f")
        if target is not None:
            keys.add(_source_key(target, facts, scope))
    frozen = frozenset(keys)
    cache[id(scope)] = frozen
    return frozen


def round_trip(expr: ast.expr, facts: ModuleFacts, scope: Scope) -> bool:
    """Whether ``expr`` is what this scope itself wrote (``dump``/``save`` to it, or ``dumps``)."""
    if wrote_here(expr, facts, scope):
        return True
    return isinstance(expr, ast.Call) and DUMPERS.get(facts.qualname(expr.func, scope) or "") == -1


def trusted(expr: ast.expr, facts: ModuleFacts, scope: Scope, depth: int = 0) -> bool:
    """Whether data comes from a literal local path, or from this very process (round trip)."""
    if depth > _MAX_TRUST_DEPTH:
        return False
    key = (id(expr), id(scope))
    known = facts.trust_memo.get(key)
    if known is not None:
        return known
    facts.trust_memo[key] = False  # while in progress: a cycle is not trusted
    answer = _trusted(expr, facts, scope, depth)
    facts.trust_memo[key] = answer
    return answer


def _trusted(expr: ast.expr, facts: ModuleFacts, scope: Scope, depth: int) -> bool:
    if wrote_here(expr, facts, scope):
        return True
    if isinstance(expr, ast.Constant):
        if isinstance(expr.value, str):
            return not is_remote(expr.value)
        return isinstance(expr.value, bytes)
    if isinstance(expr, ast.JoinedStr):
        value = facts.constant(expr, scope)
        return isinstance(value, str) and not is_remote(value)
    if isinstance(expr, ast.Name):
        if expr.id == "__file__":
            return True
        values = facts.values_of(expr.id, scope)
        return (
            values is not None
            and all(trusted(value, facts, owner, depth + 1) for value, owner in values)
            and _mutations_trusted(expr.id, facts, scope, depth)
        )
    if isinstance(expr, ast.Subscript):  # an element of a container (a loop variable too)
        return trusted(expr.value, facts, scope, depth + 1)
    if isinstance(expr, ast.List | ast.Tuple | ast.Set):
        return all(trusted(e, facts, scope, depth + 1) for e in expr.elts)
    if isinstance(expr, ast.BinOp):
        return trusted(expr.left, facts, scope, depth + 1) and trusted(
            expr.right, facts, scope, depth + 1
        )
    if isinstance(expr, ast.Call):
        return _trusted_call(expr, facts, scope, depth)
    if isinstance(expr, ast.Attribute) and expr.attr in _PATH_PARTS:
        return trusted(expr.value, facts, scope, depth + 1)
    return False


def _mutations_trusted(name: str, facts: ModuleFacts, scope: Scope, depth: int) -> bool:
    """What ``name.append(…)``/``extend``/``insert``/``add`` put into that container is trusted."""
    owner, _ = facts.lookup(name, scope)
    for call in facts.calls:
        func = call.node.func
        if call.tail not in MUTATORS or not isinstance(func, ast.Attribute):
            continue
        if not isinstance(func.value, ast.Name) or func.value.id != name:
            continue
        if facts.lookup(name, call.scope)[0] is not owner:
            continue
        for arg in call.node.args[-1:]:  # insert(i, x): the value is the last argument
            element = arg if call.tail in {"append", "insert", "add"} else element_of(arg)
            if not trusted(element, facts, call.scope, depth + 1):
                return False
    return True


def _trusted_call(call: ast.Call, facts: ModuleFacts, scope: Scope, depth: int) -> bool:
    qual = facts.qualname(call.func, scope)
    if qual is not None and DUMPERS.get(qual) == -1:
        return True
    body = facts.function_body(call.func, scope)
    if body is not None:
        # A helper defined here: what it returns decides (an in-memory buffer it filled, …).
        return bool(body.returns) and all(
            trusted(value, facts, body, depth + 1) for value in body.returns
        )
    args_ok = all(trusted(arg, facts, scope, depth + 1) for arg in call.args if not _is_mode(arg))
    if qual in _OPENERS:
        return args_ok
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in _PASS_THROUGH_METHODS:
        return args_ok and trusted(func.value, facts, scope, depth + 1)
    return False


def _is_mode(arg: ast.expr) -> bool:
    """``"rb"``-style mode strings and encodings are not data sources."""
    return isinstance(arg, ast.Constant) and arg.value in {"r", "rb", "rt", "w", "wb", "utf-8"}
