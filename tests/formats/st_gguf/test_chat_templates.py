"""Chat-template inspection: benign public templates stay clean, injection shapes are caught.

Templates are parsed, never rendered: the hostile ones would only ``touch`` a marker file, and a
guard makes any attempt to compile or render a template fail the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from bastion.core import Confidence, Severity
from bastion.scan.formats.template_inspect import Check, inspect_template
from tests.conftest import inert_command

from .helpers import rule_ids, scan_bytes
from .templates import BENIGN, CHATML, hostile


@pytest.fixture(autouse=True)
def never_render(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Compiling or rendering any template during a test is a failure."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a template was compiled or rendered")

    monkeypatch.setattr(jinja2.Environment, "compile", refuse)
    monkeypatch.setattr(jinja2.Environment, "from_string", refuse)
    monkeypatch.setattr(jinja2.Template, "render", refuse)
    yield


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_templates_have_no_issues(name: str) -> None:
    assert inspect_template(BENIGN[name]) == ()


@pytest.mark.parametrize("name", sorted(hostile("touch /nonexistent/marker")))
def test_hostile_templates_raise_their_rules(name: str, marker_dir: Path, tmp_path: Path) -> None:
    template, expected = hostile(inert_command(marker_dir))[name]
    result = scan_bytes(tmp_path, "chat_template.jinja", template.encode())
    assert expected <= rule_ids(result), [f.message for f in result.findings]
    assert {a.format for a in result.artifacts} == {"jinja-template"}
    assert not result.skipped


def test_llama_drama_is_critical_and_located(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["llama-drama"]
    result = scan_bytes(tmp_path, "chat_template.jinja", ("\n\n" + template).encode())
    internals = [f for f in result.findings if f.rule_id == "BST-TPL-001"]
    assert len(internals) == 1  # one finding per rule, every access listed in it
    finding = internals[0]
    assert finding.severity is Severity.CRITICAL
    assert finding.location.line == 3
    for name in ("__class__", "__subclasses__", "__builtins__", "__import__"):
        assert name in finding.evidence
    assert finding.references.cwe[0] == "CWE-1336"
    assert "LLM03:2025" in finding.references.owasp


def test_names_stored_in_variables_are_resolved() -> None:
    template = "{% set a = '__glo' %}{% set b = a ~ 'bals__' %}{{ cycler.__init__|attr(b) }}"
    evidence = {i.evidence for i in inspect_template(template) if i.check is Check.INTERNALS}
    assert "attr filter __globals__" in evidence


def test_ordinary_attr_filter_is_medium() -> None:
    (issue,) = inspect_template("{{ message|attr('content') }}")
    assert issue.check is Check.REFLECTION and issue.severity is Severity.MEDIUM


def test_constant_mentions_are_lower_severity_and_confidence(tmp_path: Path) -> None:
    (issue,) = inspect_template("{{ 'see __globals__ for details' }}")
    assert issue.check is Check.INTERNALS and issue.severity is Severity.MEDIUM
    result = scan_bytes(tmp_path, "chat_template.jinja", b"{{ 'define __init__ first' }}")
    (finding,) = result.findings
    assert finding.severity is Severity.MEDIUM and finding.confidence is Confidence.LOW


def test_local_variables_named_like_globals_are_not_globals() -> None:
    template = "{% for cycler in messages %}{{ cycler.content }}{% endfor %}"
    assert inspect_template(template) == ()


def test_self_block_calls_are_allowed() -> None:
    template = "{% block turn %}x{% endblock %}{{ self.turn() }}"
    assert inspect_template(template) == ()


def test_oversized_template_is_not_parsed() -> None:
    (issue,) = inspect_template("x" * (2 << 20))
    assert issue.check is Check.RESOURCES


def test_parser_recursion_is_a_finding_not_a_crash() -> None:
    issues = inspect_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert {i.check for i in issues} == {Check.RESOURCES}


def test_tokenizer_config_string_template(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["cycler-globals"]
    config = {"bos_token": "<s>", "chat_template": template, "model_max_length": 4096}
    result = scan_bytes(tmp_path, "tokenizer_config.json", json.dumps(config).encode())
    assert {"BST-TPL-001", "BST-TPL-003", "BST-TPL-004"} <= rule_ids(result)
    members = {f.location.member for f in result.findings}
    assert members == {"chat_template"}


def test_tokenizer_config_named_templates(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["lipsum-item"]
    config = {
        "chat_template": [
            {"name": "default", "template": CHATML},
            {"name": "tool_use", "template": template},
        ]
    }
    result = scan_bytes(tmp_path, "tokenizer_config.json", json.dumps(config).encode())
    assert {f.location.member for f in result.findings} == {"chat_template[tool_use]"}


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_tokenizer_configs_are_clean(name: str, tmp_path: Path) -> None:
    config = {"add_bos_token": True, "chat_template": BENIGN[name], "eos_token": "</s>"}
    result = scan_bytes(tmp_path, "tokenizer_config.json", json.dumps(config).encode())
    assert result.findings == () and result.skipped == ()
    assert {a.format for a in result.artifacts} == {"hf-tokenizer-config", "chat-template"}


def test_tokenizer_config_without_template_is_clean(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "tokenizer_config.json", b'{"model_max_length": 2048}')
    assert result.findings == () and result.skipped == ()


@pytest.mark.parametrize(
    "raw",
    [
        '{"chat_template": "' + "{{ x }}" + '", "chat_template": "{{ y }}"}',
        '{"chat_template": 42}',
        '{"chat_template": [{"name": "a"}]}',
        '{"chat_template": [{"name": "a", "template": "x"}, {"name": "a", "template": "y"}]}',
    ],
)
def test_malformed_template_entries(raw: str, tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "tokenizer_config.json", raw.encode())
    assert "BST-TPL-008" in rule_ids(result)


def test_duplicate_keys_inspect_every_copy(marker_dir: Path, tmp_path: Path) -> None:
    template, _ = hostile(inert_command(marker_dir))["cycler-globals"]
    raw = (
        '{"chat_template": '
        + json.dumps(CHATML)
        + ', "chat_template": '
        + json.dumps(template)
        + "}"
    )
    result = scan_bytes(tmp_path, "tokenizer_config.json", raw.encode())
    assert {"BST-TPL-008", "BST-TPL-001"} <= rule_ids(result)
    assert "chat_template#2" in {f.location.member for f in result.findings}


def test_broken_json_is_a_skip_not_a_crash(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "tokenizer_config.json", b'{"chat_template": "x",')
    assert [s.reason.value for s in result.skipped] == ["malformed"]


def test_other_json_and_text_files_are_not_claimed(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, "config.json", b'{"chat_template": "{{ ().__class__ }}"}')
    assert result.findings == ()
    result = scan_bytes(tmp_path, "notes.txt", b"{{ ().__class__ }}")
    assert result.findings == ()
