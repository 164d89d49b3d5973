"""The bounded YAML loader: lines, documents, merges, types, bombs, limits, bad input, Helm."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.scan.configs.helm import PLACEHOLDER, is_helm_template, neutralize
from bastion.scan.configs.tree import YMap, YScalar, YSeq
from bastion.scan.configs.yamlload import ProblemKind, YamlLimits, load_yaml


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_lines_are_one_based_and_per_key() -> None:
    root = load_yaml("a: 1\nb:\n  c: [x, y]\n  d: |\n    text\n").documents[0].root
    assert isinstance(root, YMap)
    assert (root.line_of("a"), root.line_of("b")) == (1, 2)
    inner = root.map("b")
    assert inner is not None and inner.line_of("c") == 3 and inner.line_of("d") == 4
    seq = inner.seq("c")
    assert seq is not None and [line for _, line in seq.texts()] == [3, 3]


def test_multi_document_indexes_and_start_lines() -> None:
    load = load_yaml("kind: A\n---\nkind: B\n---\n# nothing\n---\nkind: C\n")
    assert load.problem is None
    assert [d.index for d in load.documents] == [1, 2, 3, 4]
    roots = [d.root for d in load.documents]
    kinds = [r.text("kind") if isinstance(r, YMap) else None for r in roots]
    assert kinds == ["A", "B", None, "C"]
    assert [d.line for d in load.documents][1] == 2


def test_scalar_types_follow_yaml_1_1_core_schema() -> None:
    root = load_yaml("t: true\nf: off\nn: ~\ni: 0x1F\nx: 1.5\ns: '0'\nts: 2024-01-01\n")
    mapping = root.documents[0].root
    assert isinstance(mapping, YMap)
    assert mapping.flag("t") is True and mapping.flag("f") is False
    assert mapping.get("n") is not None and mapping.text("n") is None
    assert mapping.number("i") == 31 and mapping.number("x") == 1.5
    assert mapping.text("s") == "0" and mapping.flag("s") is None
    assert mapping.text("ts") == "2024-01-01"  # timestamps stay text: nothing is constructed


def test_merge_keys_and_shared_aliases() -> None:
    text = "base: &b {image: x, cpu: 1}\nsvc:\n  <<: *b\n  cpu: 2\nother: *b\n"
    root = load_yaml(text).documents[0].root
    assert isinstance(root, YMap)
    svc = root.map("svc")
    assert svc is not None and svc.text("image") == "x" and svc.number("cpu") == 2
    assert root.get("other") is root.get("base")  # aliases share the node, nothing is copied


def test_duplicate_keys_keep_the_last_value() -> None:
    root = load_yaml("privileged: false\nprivileged: true\n").documents[0].root
    assert isinstance(root, YMap) and root.flag("privileged") is True


def test_custom_tags_are_never_constructed() -> None:
    text = "a: !!python/object/apply:os.system ['touch x']\nb: !Ref Thing\n"
    root = load_yaml(text).documents[0].root
    assert isinstance(root, YMap)
    assert isinstance(root.get("a"), YSeq) and root.text("b") == "Thing"


def test_billion_laughs_is_stopped_quickly() -> None:
    start = time.monotonic()
    load = load_yaml(billion_laughs())
    assert time.monotonic() - start < 2
    assert load.problem is not None and load.problem.kind is ProblemKind.BOMB
    assert "billion laughs" in load.problem.detail and load.problem.line is not None


def test_recursive_alias_is_a_bomb() -> None:
    load = load_yaml("a: &a [1, *a]\n")
    assert load.problem is not None and load.problem.kind is ProblemKind.BOMB


def test_small_alias_use_is_fine() -> None:
    assert load_yaml(billion_laughs(levels=3, width=3)).problem is None


def test_nesting_node_and_document_limits() -> None:
    deep = load_yaml("[" * 100 + "]" * 100, limits=YamlLimits(max_depth=50))
    assert deep.problem is not None and deep.problem.kind is ProblemKind.LIMIT
    many = load_yaml("[" + "1," * 500 + "1]", limits=YamlLimits(max_nodes=100))
    assert many.problem is not None and many.problem.kind is ProblemKind.LIMIT
    docs = load_yaml("a: 1\n---\n" * 20, limits=YamlLimits(max_documents=5))
    assert docs.problem is not None and len(docs.documents) == 5
    big = load_yaml("a: 1\n" * 100, limits=YamlLimits(max_chars=50))
    assert big.problem is not None and big.problem.kind is ProblemKind.LIMIT and not big.documents


def test_libyaml_depth_limit_does_not_crash() -> None:
    load = load_yaml("[" * 5000)
    assert load.problem is not None and load.problem.kind in {
        ProblemKind.LIMIT,
        ProblemKind.MALFORMED,
    }


def test_malformed_keeps_the_documents_before_it() -> None:
    load = load_yaml("kind: A\n---\nkind: B\n---\na: [1\n")
    assert load.problem is not None and load.problem.kind is ProblemKind.MALFORMED
    assert load.problem.line == 6 and len(load.documents) == 2


@pytest.mark.parametrize("text", ["a: *missing\n", "a: \x01\n", "\ufeffkey: [\n", "a:\n\t- b\n"])
def test_bad_input_is_a_problem_not_an_exception(text: str) -> None:
    assert load_yaml(text).problem is not None


def test_json_with_tabs_loads() -> None:
    load = load_yaml('{\n\t"kind":\t"Pod",\n\t"spec": {"x": [1, 2]}\n}', json=True)
    assert load.problem is None
    root = load.documents[0].root
    assert isinstance(root, YMap) and root.text("kind") == "Pod" and root.line_of("spec") == 3


def test_deadline_is_consulted() -> None:
    calls = []

    def check() -> None:
        calls.append(1)
        raise TimeoutError("deadline")

    with pytest.raises(TimeoutError):
        load_yaml("[" + "1," * 10000 + "1]", check=check)
    assert calls


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab:-[]{}&*!|>'\"#\n ,?", max_size=200))
def test_fuzzed_text_never_raises(text: str) -> None:
    load = load_yaml(text, limits=YamlLimits(max_nodes=5000, max_expanded=20000))
    for document in load.documents:
        assert document.root is None or isinstance(document.root, YMap | YSeq | YScalar)


def test_helm_detection_ignores_argo_placeholders() -> None:
    assert is_helm_template("image: {{ .Values.image }}\n")
    assert is_helm_template('{{- include "x.labels" . | nindent 4 }}\n')
    assert not is_helm_template('args: ["{{inputs.parameters.message}}"]\n')
    assert not is_helm_template("run: echo ${{ secrets.TOKEN }}\n")


def test_helm_neutralize_keeps_line_numbers() -> None:
    text = (
        "spec:\n"
        "  {{- if .Values.x }}\n"
        '  image: "{{ .Values.repo }}:{{ .Values.tag }}"\n'
        "  {{/* a comment\n"
        "     on two lines */}}\n"
        "  privileged: true\n"
        "  {{- end }}\n"
    )
    out = neutralize(text)
    assert out.count("\n") == text.count("\n")
    root = load_yaml(out).documents[0].root
    assert isinstance(root, YMap)
    spec = root.map("spec")
    assert spec is not None and spec.line_of("privileged") == 6
    assert spec.text("image") == f"{PLACEHOLDER}:{PLACEHOLDER}"


def test_json_surrogate_pair_escapes() -> None:
    import json

    text = json.dumps({"note": "deploy \U0001f680", "raw": "c:\\ud83d\\ude00"})
    load = load_yaml(text, json=True)
    assert load.problem is None
    root = load.documents[0].root
    assert isinstance(root, YMap)
    assert root.text("note") == "deploy \U0001f680"
    assert root.text("raw") == "c:\\ud83d\\ude00"  # an escaped backslash is not an escape
