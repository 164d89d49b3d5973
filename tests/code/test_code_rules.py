"""One positive and one negative case per BST-CODE rule (and the edge the rule documents)."""

from __future__ import annotations

import pytest

from bastion.core import Severity
from bastion.registry import default_registry
from bastion.scan.code.analyzer import check_python
from bastion.scan.code.rules import CODE_RULES
from tests.code.conftest import code_hits, rule_ids

# (rule id, source that must raise it, source that must not)
CASES: list[tuple[str, str, str]] = [
    (
        "BST-CODE-001",
        "import torch\ntorch.load(path, weights_only=False)\n",
        "import torch\ntorch.load(path, weights_only=True)\n",
    ),
    (
        "BST-CODE-002",
        "import torch\nmodel = torch.load(path)\n",
        "import torch\nmodel = torch.load(path, weights_only=True)\n",
    ),
    (
        "BST-CODE-003",
        "import pickle\ndef f(blob):\n    return pickle.loads(blob)\n",
        "import pickle\nwith open('models/model.pkl', 'rb') as fh:\n    m = pickle.load(fh)\n",
    ),
    (
        "BST-CODE-004",
        "import numpy as np\ndef f(p):\n    return np.load(p, allow_pickle=True)\n",
        "import numpy as np\ndef f(p):\n    return np.load(p)\n",
    ),
    (
        "BST-CODE-005",
        "import yaml\ncfg = yaml.load(stream, Loader=yaml.Loader)\n",
        "import yaml\ncfg = yaml.load(stream, Loader=yaml.SafeLoader)\n",
    ),
    (
        "BST-CODE-006",
        "from transformers import AutoModel\n"
        "AutoModel.from_pretrained('org/m', revision='0123456789abcdef0123456789abcdef01234567',"
        " trust_remote_code=True)\n",
        "from transformers import AutoModel\n"
        "AutoModel.from_pretrained('org/m', revision='0123456789abcdef0123456789abcdef01234567',"
        " trust_remote_code=False)\n",
    ),
    (
        "BST-CODE-007",
        "from huggingface_hub import hf_hub_download\nhf_hub_download('org/model', 'w.bin')\n",
        "from huggingface_hub import hf_hub_download\n"
        "hf_hub_download('org/model', 'w.bin',\n"
        "                revision='0123456789abcdef0123456789abcdef01234567')\n",
    ),
    (
        "BST-CODE-008",
        "def run(expr):\n    return eval(expr)\n",
        "x = eval('1 + 2')\n",
    ),
    (
        "BST-CODE-009",
        "import subprocess\ndef f(name):\n    subprocess.run(f'ls {name}', shell=True)\n",
        "import subprocess\ndef f(name):\n    subprocess.run(['ls', name])\n",
    ),
    (
        "BST-CODE-010",
        "import requests\nrequests.get(url, verify=False)\n",
        "import requests\nrequests.get(url, verify='/etc/ssl/ca.pem')\n",
    ),
    (
        "BST-CODE-011",
        "import urllib.request as u\nu.urlretrieve('http://models.example.net/m.pt', 'm.pt')\n",
        "import urllib.request as u\nu.urlretrieve('https://models.example.net/m.pt', 'm.pt')\n",
    ),
    (
        "BST-CODE-012",
        "import tarfile\nwith tarfile.open(path) as tar:\n    tar.extractall('data')\n",
        "import tarfile\nwith tarfile.open(path) as tar:\n    tar.extractall('d', filter='data')\n",
    ),
    (
        "BST-CODE-013",
        "import zipfile\nzipfile.ZipFile(path).extractall('out')\n",
        "import zipfile\nzipfile.ZipFile(path).extract('one.txt', 'out')\n",
    ),
    (
        "BST-CODE-014",
        "import keras\nkeras.models.load_model('m.keras', safe_mode=False)\n",
        "import keras\nkeras.models.load_model('m.keras')\n",
    ),
    (
        "BST-CODE-015",
        "import keras\nkeras.config.enable_unsafe_deserialization()\n",
        "import keras\nkeras.config.disable_interactive_logging()\n",
    ),
    (
        "BST-CODE-016",
        "import mlflow\nm = mlflow.pyfunc.load_model('models:/churn/Production')\n",
        "import mlflow\nm = mlflow.pyfunc.load_model('./mlruns/0/abc/artifacts/model')\n",
    ),
    (
        "BST-CODE-017",
        "import gradio as gr\ngr.Interface(fn=f, inputs='text').launch(share=True)\n",
        "import gradio as gr\ngr.Interface(fn=f, inputs='text').launch()\n",
    ),
    (
        "BST-CODE-018",
        "import uvicorn\nuvicorn.run(app, host='0.0.0.0', port=8000)\n",
        "import uvicorn\nuvicorn.run(app, host='127.0.0.1', port=8000)\n",
    ),
    (
        "BST-CODE-020",
        "import torch\nm = torch.hub.load('pytorch/vision', 'resnet18')\n",
        "import torch\nm = torch.hub.load('./hub', 'resnet18', source='local')\n",
    ),
]


@pytest.mark.parametrize(("rule", "positive", "negative"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_and_stays_quiet(rule: str, positive: str, negative: str) -> None:
    assert rule in rule_ids(positive)
    assert rule not in rule_ids(negative)


def test_every_code_rule_has_a_case_and_complete_metadata() -> None:
    covered = {c[0] for c in CASES} | {"BST-CODE-019"}  # 019: tests/code/test_suppress.py
    registry = default_registry()
    for rule in CODE_RULES:
        assert rule.id in covered
        assert registry.rule(rule.id) is rule
        assert rule.description and rule.remediation
        refs = rule.references
        assert refs.cwe and refs.nist, rule.id
        if rule.id != "BST-CODE-019":  # a governance rule: no ML/LLM threat of its own
            assert refs.owasp and refs.atlas, rule.id
            assert all(":20" in item for item in refs.owasp), rule.id


def test_locations_are_one_based_lines_and_character_columns() -> None:
    result = check_python("import pickle\n\nx = 'é'; y = pickle.loads(data)\n")
    (hit,) = result.hits
    assert hit.line == 3
    # the analyzer converts the AST's UTF-8 byte offset to a character column
    from bastion.scan.code.source import char_column

    assert char_column("x = 'é'; y = pickle.loads(data)", hit.col_offset) == 14


def test_torch_load_severity_levels() -> None:
    hits = check_python(
        "import torch, io\n"
        "a = torch.load(p)\n"
        "b = torch.load(p, weights_only=flag)\n"
        "c = torch.load(p, pickle_module=dill)\n"
        "buf = io.BytesIO()\n"
        "torch.save(model, buf)\n"
        "d = torch.load(buf, weights_only=False)\n"
        "e = torch.load(other, weights_only=False)\n"
        "def f(send, data):\n"
        "    if send:\n"
        "        b = io.BytesIO()\n"
        "        torch.save(x, b)\n"
        "    else:\n"
        "        b = io.BytesIO(data)\n"
        "        return torch.load(b, weights_only=False)\n"
    ).hits
    by_line = {h.line: (h.rule.id, h.severity or h.rule.severity) for h in hits}
    assert by_line == {
        2: ("BST-CODE-002", Severity.LOW),
        3: ("BST-CODE-002", Severity.MEDIUM),
        4: ("BST-CODE-001", Severity.HIGH),
        7: ("BST-CODE-001", Severity.LOW),  # a round trip through a buffer it just wrote
        8: ("BST-CODE-001", Severity.HIGH),
        15: ("BST-CODE-001", Severity.HIGH),  # 'b' is two buffers: the loaded one came in
    }


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\ns = pickle.dumps(obj)\nback = pickle.loads(s)\n",
        "import pickle\nback = pickle.loads(pickle.dumps(obj))\n",
        "import joblib\ndef t(tmp):\n    p = tmp / 'm.joblib'\n"
        "    joblib.dump(m, p)\n    joblib.load(p)\n",
        "import pickle, io\nbuf = io.BytesIO(pickle.dumps(x))\npickle.load(buf)\n",
        "import pickle\nfrom pathlib import Path\npickle.loads(Path('cache/x.pkl').read_bytes())\n",
        "import pickle\nout = []\nfor r in runs:\n    out.append(pickle.dumps(r))\n"
        "back = [pickle.loads(b) for b in out]\n",
        "import pickle\nfor name in ['a.pkl', 'b.pkl']:\n    pickle.load(open(name, 'rb'))\n",
    ],
)
def test_round_trips_and_literal_paths_are_not_reported(source: str) -> None:
    assert "BST-CODE-003" not in rule_ids(source)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("import pandas as pd\ndf = pd.read_pickle('https://host/x.pkl')\n", "BST-CODE-003"),
        ("import dill\ndef f(b):\n    dill.loads(b)\n", "BST-CODE-003"),
        ("import cloudpickle\ndef f(b):\n    cloudpickle.loads(b)\n", "BST-CODE-003"),
        ("import shelve\ndef f(n):\n    shelve.open(n)\n", "BST-CODE-003"),
        ("import joblib\ndef f(n):\n    joblib.load(n)\n", "BST-CODE-003"),
        ("import yaml\nyaml.unsafe_load(s)\n", "BST-CODE-005"),
        ("import yaml\nyaml.load(s)\n", "BST-CODE-005"),
        ("import os\ndef f(x):\n    os.popen('ls ' + x)\n", "BST-CODE-009"),
        (
            "import ssl\nctx = ssl.create_default_context()\nctx.verify_mode = ssl.CERT_NONE\n",
            "BST-CODE-010",
        ),
        (
            "import ssl\nssl._create_default_https_context = ssl._create_unverified_context\n",
            "BST-CODE-010",
        ),
        ("import httpx\nhttpx.Client(verify=False)\n", "BST-CODE-010"),
        ("import aiohttp\naiohttp.TCPConnector(ssl=False)\n", "BST-CODE-010"),
        ("s = requests.Session()\ns.verify = False\n", "BST-CODE-010"),
        ("import pandas as pd\npd.read_csv('http://data.example.net/train.csv')\n", "BST-CODE-011"),
        (
            "URL = 'http://data.example.net/w.pt'\nimport torch\n"
            "torch.hub.load_state_dict_from_url(URL)\n",
            "BST-CODE-011",
        ),
        ("import shutil\nshutil.unpack_archive(p, 'out')\n", "BST-CODE-012"),
        (
            "import tensorflow as tf\ntf.keras.models.load_model(p, safe_mode=False)\n",
            "BST-CODE-014",
        ),
        (
            "from flask import Flask\napp = Flask(__name__)\napp.run(host='0.0.0.0')\n",
            "BST-CODE-018",
        ),
        ("import gradio as gr\ndemo.launch(server_name='0.0.0.0')\n", "BST-CODE-018"),
        (
            "import os\nos.system('jupyter lab --ip=0.0.0.0 --ServerApp.token=\"\"')\n",
            "BST-CODE-018",
        ),
        (
            "import subprocess\nsubprocess.run(['mlflow', 'server', '--host', '0.0.0.0'])\n",
            "BST-CODE-018",
        ),
        (
            "from http.server import HTTPServer\nHTTPServer(('', 8000), H).serve_forever()\n",
            "BST-CODE-018",
        ),
        ("import datasets\ndatasets.load_dataset('squad')\n", "BST-CODE-007"),
        (
            "from transformers import pipeline\npipeline('ner', model='dslim/bert-base-NER')\n",
            "BST-CODE-007",
        ),
        ("import torch\ntorch.hub.load('owner/repo', 'm', trust_repo=True)\n", "BST-CODE-020"),
        (
            "import pickle\nout = [pickle.dumps(x)]\nout.append(sock.recv(4096))\n"
            "[pickle.loads(b) for b in out]\n",
            "BST-CODE-003",
        ),
        (
            "import pickle, sys\nfor p in sys.argv[1:]:\n    pickle.load(open(p, 'rb'))\n",
            "BST-CODE-003",
        ),
    ],
)
def test_more_positive_forms(source: str, rule: str) -> None:
    assert rule in rule_ids(source)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        (
            "from transformers import AutoModel\nAutoModel.from_pretrained('./checkpoints/best')\n",
            "BST-CODE-007",
        ),
        (
            "from transformers import AutoModel\n"
            "AutoModel.from_pretrained('org/m', local_files_only=True)\n",
            "BST-CODE-007",
        ),
        ("import datasets\ndatasets.load_dataset('csv', data_files='train.csv')\n", "BST-CODE-007"),
        (
            "def f(name):\n    from transformers import AutoModel\n"
            "    AutoModel.from_pretrained(name)\n",
            "BST-CODE-007",
        ),
        ("import os\nos.system('nvidia-smi')\n", "BST-CODE-009"),
        ("import subprocess\nsubprocess.run('make all', shell=True)\n", "BST-CODE-009"),
        ("x = compile('a + b', '<s>', 'eval')\n", "BST-CODE-008"),
        ("def f(tarfile):\n    tarfile.extractall()\n", "BST-CODE-012"),
        ("import requests\nrequests.get('http://localhost:8080/model')\n", "BST-CODE-011"),
        ("import sklearn\nsklearn.utils.check(verify=False)\n", "BST-CODE-010"),
        ("class A:\n    def run(self, host='0.0.0.0'):\n        pass\n", "BST-CODE-018"),
        ("import yaml\nyaml.safe_load(s)\n", "BST-CODE-005"),
    ],
)
def test_more_negative_forms(source: str, rule: str) -> None:
    assert rule not in rule_ids(source)


def test_exec_of_compile_is_reported_once_at_compile() -> None:
    hits = code_hits("def f(src):\n    exec(compile(src, 'x', 'exec'))\n")
    assert hits == [("BST-CODE-008", 2)]
    assert check_python("def f(s):\n    exec(compile(s, 'x', 'exec'))\n").hits[0].severity == (
        Severity.LOW
    )


def test_syntax_errors_are_reported_not_raised() -> None:
    result = check_python("import pickle\ndef broken(:\n    pickle.loads(x)\n")
    assert result.syntax_error is not None and "line 2" in result.syntax_error
    assert result.hits == ()


def test_files_without_trigger_words_are_not_parsed() -> None:
    # Invalid Python, but nothing any rule looks for: the prefilter skips the parse.
    assert check_python("def broken(:\n    return 1\n").syntax_error is None
