"""Notebooks: cell line mapping, magics, saved outputs (secrets, tracebacks, personal data),
malformed files; and the PII validators on their own."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from bastion.core import Finding
from bastion.scan.notebooks.magics import split_cell
from bastion.scan.notebooks.parse import parse_notebook
from bastion.scan.notebooks.pii import card_brand, find_personal_data, iban_valid, luhn_valid
from tests.code.conftest import scan_tree

_RNG = random.Random(7)


def token(prefix: str, n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in body) and body.lower() != body and body.upper() != body:
            return prefix + body


def code(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "source": source.splitlines(keepends=True),
        "outputs": outputs or [],
    }


def notebook(*cells: dict[str, Any], language: str = "python") -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "k", "language": language}},
            "cells": list(cells),
        }
    )


def scan_notebook(tmp_path: Path, text: str) -> tuple[list[Finding], list[str]]:
    (tmp_path / "nb.ipynb").write_text(text)
    result = scan_tree(tmp_path)
    return list(result.findings), [s.detail for s in result.skipped]


def test_code_rule_lines_map_to_the_cell(tmp_path: Path) -> None:
    text = notebook(
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "text\n"]},
        code("import torch\n\n\nm = torch.load('x.pt', weights_only=False)\n"),
    )
    findings, _ = scan_notebook(tmp_path, text)
    (finding,) = [f for f in findings if f.rule_id == "BST-CODE-001"]
    assert (finding.location.cell, finding.location.line, finding.location.column) == (1, 4, 5)


def test_magics_keep_line_numbers_and_feed_shell_rules(tmp_path: Path) -> None:
    text = notebook(
        code(
            "!pip install transformers torch==2.4.0\n"
            "%pip install -q 'numpy>=1.26' pandas==2.2.2\n"
            "import pickle\n"
            "%time data = pickle.loads(blob)\n"
            "!wget http://data.example.net/train.csv\n"
        )
    )
    findings, _ = scan_notebook(tmp_path, text)
    got = sorted((f.rule_id, f.location.line, f.evidence) for f in findings)
    assert got == [
        ("BST-CODE-003", 4, "pickle.loads()"),
        ("BST-CODE-011", 5, "wget downloads http://data.example.net/train.csv over plain HTTP"),
        ("BST-NB-001", 1, "install transformers"),
        ("BST-NB-001", 2, "install numpy>=1.26"),
    ]
    column = next(f.location.column for f in findings if f.rule_id == "BST-CODE-003")
    assert column == 14  # "%time " replaced by spaces: the column still points into the cell


def test_split_cell_handles_cell_magics_and_continuations() -> None:
    bash = split_cell("%%bash\nmlflow server \\\n  --host 0.0.0.0\n")
    assert bash.python is None
    assert [(c.line, c.command) for c in bash.commands] == [(2, "mlflow server  --host 0.0.0.0")]
    html = split_cell("%%html\n<b>eval(x)</b>\n")
    assert html.python is None and html.commands == ()
    timed = split_cell("%%time\nx = 1\n!ls\n")
    assert timed.python == "\nx = 1\npass\n"
    assert [(c.line, c.command) for c in timed.commands] == [(3, "ls")]
    help_line = split_cell("model.fit?\nx = 1  # why?\n")
    assert help_line.python == "pass\nx = 1  # why?\n"
    assigned = split_cell("files = !ls -la\n")
    assert assigned.python == "files = None\n" and assigned.commands[0].command == "ls -la"


def test_outputs_secrets_tracebacks_and_personal_data(tmp_path: Path) -> None:
    hf = token("hf_", 34)
    password = token("", 14)
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": [f"HF_TOKEN={hf}\n"]},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "metadata": {},
            "data": {
                "text/plain": [
                    "   name   email                     phone             card\n",
                    "0  Ana    ana.silva@acme-mail.com  +44 20 7946 0958  4539 1488 0343 6467\n",
                    "1  Bo     IBAN DE89 3704 0044 0532 0130 00\n",
                ],
                "image/png": "iVBORw0KGgo=",
            },
        },
        {
            "output_type": "error",
            "ename": "OperationalError",
            "evalue": "connection failed",
            "traceback": [
                "\x1b[0;31mOperationalError\x1b[0m Traceback (most recent call last)",
                f"engine = create_engine('postgresql://etl:{password}@db.prod.internal/dw')",
            ],
        },
    ]
    findings, _ = scan_notebook(tmp_path, notebook(code("show()\n", outputs)))
    by_rule = {f.rule_id: f for f in findings}
    assert set(by_rule) == {
        "BST-NB-002",
        "BST-NB-003",
        "BST-NB-004",
        "BST-NB-005",
        "BST-NB-006",
        "BST-NB-007",
    }
    assert by_rule["BST-NB-002"].properties["output"] == 0
    assert by_rule["BST-NB-003"].properties["output"] == 2
    assert by_rule["BST-NB-006"].evidence == "Visa •••• 6467"
    assert all(f.location.cell == 0 for f in findings)
    blob = json.dumps([(f.message, f.evidence, dict(f.properties)) for f in findings])
    for raw in (hf, password, "ana.silva@acme-mail.com", "4539 1488 0343 6467", "0532 0130"):
        assert raw not in blob


def test_secret_in_cell_source_is_located_in_the_cell(tmp_path: Path) -> None:
    hf = token("hf_", 34)
    text = notebook(code("import os\n"), code(f"x = 1\nos.environ['HF_TOKEN'] = '{hf}'\n"))
    findings, _ = scan_notebook(tmp_path, text)
    (finding,) = [f for f in findings if f.rule_id == "BST-SEC-013"]
    assert (finding.location.cell, finding.location.line) == (1, 2)


def test_env_magic_secret(tmp_path: Path) -> None:
    key = "".join(_RNG.choice("0123456789abcdef") for _ in range(40))
    findings, _ = scan_notebook(tmp_path, notebook(code(f"%env WANDB_API_KEY={key}\n")))
    assert [(f.rule_id, f.location.line) for f in findings] == [("BST-SEC-016", 1)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"cells": [', "invalid notebook JSON"),
        ("[1, 2, 3]", "not an object"),
        ('{"nbformat": 4}', "no 'cells' list"),
    ],
)
def test_malformed_notebooks_are_skipped_with_a_reason(
    tmp_path: Path, content: str, expected: str
) -> None:
    findings, skipped = scan_notebook(tmp_path, content)
    assert findings == []
    assert any(expected in detail for detail in skipped), skipped


def test_strange_cells_do_not_crash(tmp_path: Path) -> None:
    text = json.dumps(
        {
            "nbformat": 4,
            "cells": [
                "not a dict",
                {"cell_type": "code", "source": 42, "outputs": "nope"},
                {"cell_type": "code", "source": ["def f(:\n", "  eval(x)\n"], "outputs": [7]},
            ],
        }
    )
    findings, skipped = scan_notebook(tmp_path, text)
    assert findings == []
    assert any("cell 2: not valid Python" in s for s in skipped)


def test_non_python_kernel_skips_code_rules_but_checks_outputs(tmp_path: Path) -> None:
    text = notebook(
        code("x <- readRDS(url)\n", [{"output_type": "stream", "text": "mail bob@corp-x.io\n"}]),
        language="R",
    )
    findings, skipped = scan_notebook(tmp_path, text)
    assert [f.rule_id for f in findings] == ["BST-NB-004"]
    assert any("kernel language 'r'" in s for s in skipped)


def test_nbformat3_worksheets() -> None:
    raw = json.dumps(
        {
            "nbformat": 3,
            "worksheets": [
                {
                    "cells": [
                        {
                            "cell_type": "code",
                            "input": ["print(1)"],
                            "outputs": [{"output_type": "pyout", "text": ["1"]}],
                        }
                    ]
                }
            ],
        }
    ).encode()
    nb = parse_notebook(raw)
    assert nb.cells[0].source == "print(1)" and nb.cells[0].outputs[0].text == "1"


def test_pii_validators() -> None:
    assert luhn_valid("4539148803436467") and not luhn_valid("4539148803436468")
    assert card_brand("4539148803436467") == "Visa"
    assert card_brand("378282246310005") == "American Express"
    assert card_brand("1234567812345670") is None
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("XX82WEST12345698765432")


@pytest.mark.parametrize(
    "text",
    [
        "tensor([0.1234, 4539148803436467, 2.5])",  # Luhn-valid digits but no card context
        "4111 1111 1111 1111",  # processors' published test number
        "see admin@example.com or icon@2x.png",
        "version 2023-10-05, build 10.0.0.1",
        "DE89 3704 0044 0532 0130 01",  # bad checksum
    ],
)
def test_pii_negatives(text: str) -> None:
    assert find_personal_data(text) == []


def test_card_in_table_with_context_is_found() -> None:
    found = find_personal_data("credit_card: 4539148803436467")
    assert [(p.kind, p.evidence) for p in found] == [("card", "Visa •••• 6467")]
