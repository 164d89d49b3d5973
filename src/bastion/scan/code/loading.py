"""Checks for code that deserializes: ``torch.load``, the pickle family, NumPy, YAML, Keras, MLflow.

The pickle-family rules ask where the data comes from (:mod:`.trust`): literal local paths and
round trips are not reported; everything else (parameters, attributes, downloads, URLs) is data
someone else may control.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from bastion.core import Confidence, Severity
from bastion.scan.code import rules as R
from bastion.scan.code.base import TABLE, Hit, Site, is_false, is_true, short
from bastion.scan.code.facts import ModuleFacts, argument, has_kwargs_splat, keyword
from bastion.scan.code.trust import DUMPERS, MUTATORS, is_remote, round_trip, trusted

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
TABLE.register(names=tuple(DUMPERS), tails=tuple(MUTATORS))(lambda site, facts: ())
