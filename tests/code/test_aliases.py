"""Import-alias resolution: the rules see through renames, and only through real ones."""

from __future__ import annotations

import ast

import pytest

from bastion.scan.code.facts import canonical
from bastion.scan.code.walk import collect
from tests.code.conftest import code_hits, rule_ids


@pytest.mark.parametrize(
    "source",
    [
        "import torch as T\nT.load(p, weights_only=False)\n",
        "from torch import load\nload(p, weights_only=False)\n",
        "from torch import load as tl\ntl(p, weights_only=False)\n",
        "import torch.serialization\ntorch.serialization.load(p, weights_only=False)\n",
        "from torch.serialization import load as l2\nl2(p, weights_only=False)\n",
        "import torch\nloader = torch.load\nloader(p, weights_only=False)\n",
        "import importlib\nT = importlib.import_module('torch')\nT.load(p, weights_only=False)\n",
        "T = __import__('torch')\nT.load(p, weights_only=False)\n",
        "import torch\nf = getattr(torch, 'load')\nf(p, weights_only=False)\n",
        "def g(p):\n    import torch as tt\n    return tt.load(p, weights_only=False)\n",
    ],
)
def test_torch_load_through_aliases(source: str) -> None:
    assert "BST-CODE-001" in rule_ids(source)


@pytest.mark.parametrize(
    "source",
    [
        "from pickle import loads as l\ndef f(b):\n    return l(b)\n",
        "import cPickle\ndef f(b):\n    return cPickle.loads(b)\n",
        "import _pickle as cp\ndef f(b):\n    return cp.loads(b)\n",
        "try:\n    import cPickle as pickle\nexcept ImportError:\n    import pickle\n"
        "def f(b):\n    return pickle.loads(b)\n",
        "from pickle import *\ndef f(b):\n    return loads(b)\n",
        "import pickle as pk\nU = pk.Unpickler\ndef f(fh):\n    return U(fh).load()\n",
        "from sklearn.externals import joblib\ndef f(p):\n    return joblib.load(p)\n",
        "import pandas as pd\ndef f(p):\n    return pd.read_pickle(p)\n",
    ],
)
def test_pickle_family_through_aliases(source: str) -> None:
    assert "BST-CODE-003" in rule_ids(source)


@pytest.mark.parametrize(
    "source",
    [
        # A parameter named like the module is not the module.
        "import pickle\ndef f(pickle, b):\n    return pickle.loads(b)\n",
        # A local rebinding to something unknown shadows the import.
        "import pickle\ndef f(b):\n    pickle = make_codec()\n    return pickle.loads(b)\n",
        # Class attributes are not visible from methods: 'torch' is the module there... but
        # here the module-level name is a local class, not torch.
        "class torch:\n    @staticmethod\n    def load(p, weights_only=False):\n        pass\n"
        "torch.load(p, weights_only=False)\n",
        # Relative imports are the project's own modules.
        "from . import pickle\ndef f(b):\n    return pickle.loads(b)\n",
        # A method called load on an unrelated object.
        "def f(cfg, p):\n    return cfg.load(p, weights_only=False)\n",
    ],
)
def test_shadowing_and_unrelated_names_are_not_reported(source: str) -> None:
    found = rule_ids(source)
    assert "BST-CODE-001" not in found and "BST-CODE-003" not in found


def test_conflicting_bindings_resolve_to_nothing() -> None:
    source = (
        "if cond:\n    import pickle as codec\nelse:\n    import json as codec\ncodec.loads(b)\n"
    )
    assert "BST-CODE-003" not in rule_ids(source)


def test_global_statement_reaches_the_module_binding() -> None:
    source = (
        "import pickle\nloader = None\n"
        "def setup():\n    global loader\n    loader = pickle.loads\n"
        "def use(b):\n    return loader(b)\n"
    )
    # 'loader' has two module-level bindings (None and pickle.loads): not provably pickle.
    assert "BST-CODE-003" not in rule_ids(source)


def test_attribute_chains_and_canonical_names() -> None:
    tree = ast.parse(
        "import tensorflow as tf\nimport os.path\nimport urllib2\n"
        "tf.keras.models.load_model(p)\nos.path.join(a)\nurllib2.urlopen(u)\n"
    )
    facts = collect(tree)
    names = sorted(
        n for s in facts.calls if (n := facts.qualname(s.node.func, s.scope)) is not None
    )
    assert names == ["keras.models.load_model", "os.path.join", "urllib.request.urlopen"]
    assert canonical("cPickle.Unpickler") == "pickle.Unpickler"
    assert canonical("keras.src.saving.saving_api.load_model") == "keras.saving.load_model"


def test_lines_point_at_the_call() -> None:
    source = "import yaml\n\n\ndata = yaml.load(\n    stream,\n    Loader=yaml.UnsafeLoader,\n)\n"
    assert code_hits(source) == [("BST-CODE-005", 4)]
