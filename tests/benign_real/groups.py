"""The benign groups: which generator writes them, what they need, and what is expected.

Each :class:`Group` names the packages its generator imports (tests skip the group when one is
missing), whether it is slow, and the findings below HIGH and the skips that are correct for its
files, each with the reason. Anything else bastion reports on a group fails its test.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from tests.benign_real import (
    gen_data,
    gen_gguf,
    gen_keras,
    gen_mlflow,
    gen_onnx,
    gen_sklearn,
    gen_torch,
    gen_transformers,
    gen_trees,
)
from tests.benign_real.base import Expected, Generator


@dataclass(frozen=True)
class AllowedSkip:
    """A skip that is correct for a benign file, with the reason."""

    pattern: str
    detail: str
    why: str

    def matches(self, path: str, member: str | None, detail: str) -> bool:
        """Whether a skip of ``path`` (``member``) with ``detail`` is this one."""
        where = f"{path}!{member}" if member else path
        return fnmatch.fnmatchcase(where, self.pattern) and self.detail in detail


@dataclass(frozen=True)
class Group:
    """One generator's artifacts and what bastion may rightly say about them."""

    name: str
    generate: Generator
    requires: tuple[str, ...]
    slow: bool = True
    expected: tuple[Expected, ...] = ()
    skips: tuple[AllowedSkip, ...] = ()


_EXPORT_WEIGHTS = AllowedSkip(
    "*.pt2!*/data/weights/weight_*",
    "no analyzer for format 'unknown'",
    "torch.export stores raw weights beside pickled ones and loads the pickled ones with "
    "weights_only=False; which is which is in the weights config, which bastion does not read "
    "yet, so a raw weight is not declared safe by name",
)

_HF_PACKAGES = (
    "transformers",
    "tokenizers",
    "sentencepiece",
    "accelerate",
    "peft",
    "sentence_transformers",
)

GROUPS: tuple[Group, ...] = (
    Group("gguf", gen_gguf.generate, ("gguf", "transformers"), slow=False),
    Group("trees", gen_trees.generate, ("xgboost", "lightgbm", "catboost", "joblib")),
    Group("keras", gen_keras.generate, ("keras", "h5py")),
    Group("data", gen_data.generate, ("pandas", "scipy", "optuna", "gensim", "nltk", "datasets")),
    Group(
        "torch",
        gen_torch.generate,
        ("torch", "safetensors"),
        skips=(_EXPORT_WEIGHTS,),
    ),
    Group("onnx", gen_onnx.generate, ("torch", "onnx", "onnxscript", "skl2onnx")),
    Group("sklearn", gen_sklearn.generate, ("sklearn", "skops", "statsmodels", "joblib")),
    Group(
        "transformers",
        gen_transformers.generate,
        _HF_PACKAGES,
    ),
    Group(
        "mlflow",
        gen_mlflow.generate,
        ("mlflow", "torch", "xgboost", "lightgbm"),
        expected=(
            Expected(
                "pyfunc/python_model.pkl",
                "BST-PKL-003",
                "the model's own PythonModel class (importable project code) is instantiated; "
                "unknown project classes are MEDIUM until allowed in the policy",
            ),
            Expected(
                "*/requirements.txt",
                "BST-DEP-013",
                "INFO: pinned dependencies not checked because no vulnerability data is loaded",
            ),
            Expected("*/conda.yaml", "BST-DEP-013", "the same note for the conda environment"),
        ),
        skips=(_EXPORT_WEIGHTS,),
    ),
)


def group(name: str) -> Group:
    """The group called ``name``."""
    for item in GROUPS:
        if item.name == name:
            return item
    raise KeyError(f"no benign group {name!r}; known: {', '.join(g.name for g in GROUPS)}")
