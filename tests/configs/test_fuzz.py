"""Property tests: hostile text never makes the parsers or checks raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.scan.configs.analyzer import shell_issues
from bastion.scan.configs.dockerfile import parse_dockerfile
from bastion.scan.configs.dockerfile_checks import check_dockerfile
from bastion.scan.configs.manifests import check_manifests
from bastion.scan.configs.shell import invocation, parse_script
from bastion.scan.configs.yamlload import YamlLimits, load_yaml

pytestmark = pytest.mark.slow  # a few hundred generated inputs per property

_SHELLISH = st.text(alphabet="ab $(){}'\"`\\|&;<>\n#=-:/*", max_size=200)
_INSTRUCTIONS = st.sampled_from(
    ["FROM", "RUN", "ENV", "ARG", "USER", "ADD", "COPY", "CMD", "ENTRYPOINT", "EXPOSE", "#"]
)


@settings(max_examples=200, deadline=None)
@given(_SHELLISH)
def test_shell_lexer_never_raises(text: str) -> None:
    for command in parse_script(text):
        invocation(command)
    shell_issues("mlflow server " + text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_INSTRUCTIONS, _SHELLISH), max_size=12))
def test_dockerfile_checks_never_raise(lines: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{keyword} {rest}" for keyword, rest in lines)
    check_dockerfile(parse_dockerfile(text))
    check_dockerfile(parse_dockerfile(text.replace("\n", " \\\n")))


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=30))
_KEYS = st.sampled_from(
    [
        "kind",
        "apiVersion",
        "spec",
        "template",
        "containers",
        "image",
        "env",
        "name",
        "value",
        "securityContext",
        "privileged",
        "volumes",
        "hostPath",
        "path",
        "resources",
        "limits",
        "requests",
        "predictor",
        "storageUri",
        "services",
        "ports",
        "templates",
        "container",
        "deploymentSpec",
        "executors",
        "command",
        "args",
        "metadata",
        "annotations",
        "items",
    ]
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_manifest_checks_never_raise_on_odd_shapes(document: dict[str, object]) -> None:
    import json

    for kind in ("Deployment", "InferenceService", "SeldonDeployment", "Workflow", "Secret"):
        shaped = {**document, "kind": kind, "apiVersion": "serving.kserve.io/argoproj.io/v1"}
        load = load_yaml(json.dumps(shaped), json=True, limits=YamlLimits(max_nodes=10000))
        assert load.problem is None
        check_manifests(load.documents)
