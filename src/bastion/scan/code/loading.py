"""Checks for code that deserializes: ``torch.load``, the pickle family, NumPy, YAML, Keras, MLflow.

The pickle-family rule asks where the data comes from. A literal local path in the code (or a file
opened from one) is the project's own artifact and is not reported; so are round trips, data that
the same function produced with ``dumps`` or a path it just wrote with ``dump``/``save``.
Everything else (parameters, attributes, downloads, URLs) is data someone else may control.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from bastion.core import Confidence, Severity
from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site, is_false, is_true, short
from bastion.scan.code.facts import (
    ModuleFacts,
    Scope,
    argument,
    element_of,
    has_kwargs_splat,
    keyword,
)

#: Deserializers of the pickle family, with the position and keyword name of their data.
PICKLE_LOADERS: dict[str, tuple[int, str]] = {
    "pickle.load": (0, "file"),
    "pickle.loads": (0, "data"),
    "pickle.Unpickler": (0, "file"),
    "dill.load": (0, "file"),
    "dill.loads": (0, "str"),
    "dill.Unpickler": (0, "file"),
    "cloudpickle.load": (0, "file"),
    "cloudpickle.loads": (0, "data"),
    "joblib.load": (0, "filename"),
    "pandas.read_pickle": (0, "filepath_or_buffer"),
    "shelve.open": (0, "filename"),
    "jsonpickle.decode": (0, "string"),
}
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
_MUTATORS = frozenset({"append", "extend", "insert", "add"})
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
        if call.tail not in _MUTATORS or not isinstance(func, ast.Attribute):
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


@TABLE.register(names=("torch.load",))
def torch_load(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``torch.load``: explicit ``weights_only=False`` or a custom ``pickle_module`` (high),
    unspecified (low), computed (medium)."""
    node = site.node
    if keyword(node, "pickle_module") is not None:
        yield Hit.at(
            node,
            R.TORCH_LOAD_UNSAFE,
            "torch.load with a custom pickle_module unpickles with that module, not the safe "
            "weights-only loader.",
            "torch.load(pickle_module=...)",
        )
        return
    value = keyword(node, "weights_only")
    if is_true(value):
        return
    if is_false(value):
        source = argument(node, 0, "f")
        if source is not None and round_trip(source, facts, site.call.scope):
            yield Hit.at(
                node,
                R.TORCH_LOAD_UNSAFE,
                "torch.load(weights_only=False) of what this function just saved itself (a "
                "round trip): not outside data, but the opt-out spreads by copy and paste.",
                "torch.load(weights_only=False) round trip",
                severity=Severity.LOW,
            )
            return
        yield Hit.at(
            node,
            R.TORCH_LOAD_UNSAFE,
            "torch.load(weights_only=False) unpickles the whole checkpoint: any callable it "
            "names runs.",
            "torch.load(weights_only=False)",
        )
    elif value is not None:
        yield Hit.at(
            node,
            R.TORCH_LOAD_DEFAULT,
            "torch.load with weights_only computed at run time; if it is False, the "
            "checkpoint's pickle runs.",
            "torch.load(weights_only=<expr>)",
            severity=Severity.MEDIUM,
        )
    else:
        splat = has_kwargs_splat(node)
        yield Hit.at(
            node,
            R.TORCH_LOAD_DEFAULT,
            "torch.load without weights_only: safe by default only on PyTorch >= 2.6."
            + (" (**kwargs may set it)" if splat else ""),
            "torch.load()",
            confidence=Confidence.LOW if splat else None,
        )


@TABLE.register(names=tuple(PICKLE_LOADERS))
def pickle_load(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """The pickle family on data that is not a trusted literal path or a round trip."""
    assert site.qual is not None
    position, name = PICKLE_LOADERS[site.qual]
    data = argument(site.node, position, name)
    if data is None or trusted(data, facts, site.call.scope):
        return
    remote = facts.string_prefix(data, site.call.scope)
    where = "a remote URL" if remote and is_remote(remote) else "data that is not a literal path"
    yield Hit.at(
        site.node,
        R.PICKLE_LOAD,
        f"{short(site.qual)} deserializes {where}; a crafted pickle runs code when loaded.",
        f"{site.qual}()",
    )


@TABLE.register(names=("numpy.load",))
def numpy_load(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``numpy.load(..., allow_pickle=True)`` of an untrusted file."""
    allow = keyword(site.node, "allow_pickle")
    if allow is None or is_false(allow):
        return
    data = argument(site.node, 0, "file")
    if data is not None and trusted(data, facts, site.call.scope):
        return
    computed = not is_true(allow)
    yield Hit.at(
        site.node,
        R.NUMPY_ALLOW_PICKLE,
        "numpy.load with allow_pickle"
        + (" computed at run time" if computed else "=True")
        + " on a file that is not a literal path: object arrays are unpickled.",
        "numpy.load(allow_pickle=True)",
        severity=Severity.MEDIUM if computed else None,
    )


_SAFE_YAML_LOADERS = frozenset(
    {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
)
_FULL_YAML_LOADERS = frozenset({"yaml.FullLoader", "yaml.CFullLoader"})
_UNSAFE_YAML_LOADERS = frozenset(
    {"yaml.Loader", "yaml.CLoader", "yaml.UnsafeLoader", "yaml.CUnsafeLoader"}
)


@TABLE.register(
    names=(
        "yaml.load",
        "yaml.load_all",
        "yaml.unsafe_load",
        "yaml.unsafe_load_all",
        "yaml.full_load",
        "yaml.full_load_all",
    )
)
def yaml_load(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``yaml.load`` without a safe loader, ``unsafe_load`` (high), ``full_load`` (medium)."""
    assert site.qual is not None
    func = site.qual.split(".", 1)[1]
    if func.startswith("unsafe_load"):
        yield Hit.at(site.node, R.YAML_UNSAFE, f"yaml.{func} builds arbitrary objects.", site.qual)
        return
    if func.startswith("full_load"):
        yield Hit.at(
            site.node,
            R.YAML_UNSAFE,
            f"yaml.{func} uses FullLoader; use safe_load.",
            site.qual,
            severity=Severity.MEDIUM,
        )
        return
    loader = argument(site.node, 1, "Loader")
    if loader is None:
        if has_kwargs_splat(site.node):
            return
        yield Hit.at(
            site.node,
            R.YAML_UNSAFE,
            f"yaml.{func} without Loader: unsafe on PyYAML < 5.1 (and an error on >= 6).",
            f"{site.qual}()",
        )
        return
    loader_name = facts.qualname(loader, site.call.scope)
    if loader_name in _UNSAFE_YAML_LOADERS:
        yield Hit.at(
            site.node,
            R.YAML_UNSAFE,
            f"yaml.{func}(Loader={short(loader_name)}) constructs arbitrary Python objects.",
            f"{site.qual}(Loader={loader_name})",
        )
    elif loader_name in _FULL_YAML_LOADERS:
        yield Hit.at(
            site.node,
            R.YAML_UNSAFE,
            f"yaml.{func}(Loader={short(loader_name)}); use SafeLoader.",
            f"{site.qual}(Loader={loader_name})",
            severity=Severity.MEDIUM,
        )


@TABLE.register(tails=("load_model",))
def model_loaders(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """Keras ``load_model(safe_mode=False)``; MLflow ``*.load_model`` of a remote URI."""
    qual = site.qual or ""
    if qual.startswith("keras.") or (not qual and "keras" in facts.imported_roots):
        if is_false(keyword(site.node, "safe_mode")):
            yield Hit.at(
                site.node,
                R.KERAS_UNSAFE_LOAD,
                "load_model(safe_mode=False) deserializes Lambda layers: their code runs.",
                "keras.load_model(safe_mode=False)",
            )
    elif qual.startswith("mlflow."):
        yield from _mlflow(site, facts, argument(site.node, 0, "model_uri"))


@TABLE.register(names=("mlflow.pyfunc.spark_udf",))
def mlflow_udf(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``mlflow.pyfunc.spark_udf(spark, model_uri)`` loads the model on every executor."""
    yield from _mlflow(site, facts, argument(site.node, 1, "model_uri"))


def _mlflow(site: Site, facts: ModuleFacts, uri: ast.expr | None) -> Iterator[Hit]:
    prefix = facts.string_prefix(uri, site.call.scope) if uri is not None else None
    if prefix and is_remote(prefix):
        scheme = prefix.split(":", 1)[0]
        yield Hit.at(
            site.node,
            R.MLFLOW_REMOTE,
            f"{short(site.name)} loads a model from a {scheme} URI; loading imports its code "
            "and unpickles its artifacts.",
            f"{site.name}({scheme}:)",
        )


@TABLE.register(tails=("enable_unsafe_deserialization",))
def keras_unsafe(site: Site, facts: ModuleFacts) -> Iterator[Hit]:
    """``keras.config.enable_unsafe_deserialization()``."""
    yield Hit.at(
        site.node,
        R.KERAS_UNSAFE_GLOBAL,
        "enable_unsafe_deserialization() turns Keras safe mode off for the whole process.",
        "keras.config.enable_unsafe_deserialization()",
    )


#: Calls recorded so round trips and container contents can be followed (no check of their own).
TABLE.register(names=tuple(DUMPERS), tails=tuple(_MUTATORS))(lambda site, facts: ())
