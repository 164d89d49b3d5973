"""Lockfile and manifest readers on realistic samples of every supported format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.scan.deps.lockfiles import (
    Dependency,
    LockfileError,
    detect_format,
    find_lockfiles,
    parse_lockfile,
    poetry_to_pep440,
    read_lockfile,
)


def _by_name(deps: tuple[Dependency, ...]) -> dict[str, Dependency]:
    return {d.name: d for d in deps}


REQUIREMENTS = """\
# pip-compile output, with hashes
--index-url https://pypi.org/simple
-c constraints.txt
-r requirements-base.txt

Torch==2.3.1 \\
    --hash=sha256:AAAA1111 \\
    --hash=sha256:bbbb2222
    # via -r requirements.in
numpy==1.26.4 ; python_version < "3.13"
    # via
    #   torch
    #   transformers
transformers[torch,sentencepiece]>=4.40,<5  # comment
my_lib @ https://example.com/my_lib-1.0-py3-none-any.whl
git+https://github.com/org/tool.git@v1.2#egg=org-tool
-e ./local_pkg
"""


def test_requirements_with_includes_hashes_markers_urls(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    (tmp_path / "requirements-base.txt").write_text("requests==2.32.3\n")
    (tmp_path / "constraints.txt").write_text("urllib3<3\n")
    (tmp_path / "local_pkg").mkdir()
    lock = parse_lockfile(tmp_path / "requirements.txt")
    deps = _by_name(lock.dependencies)
    assert set(deps) == {
        "requests", "torch", "numpy", "transformers", "my-lib", "org-tool", "local-pkg",
    }  # fmt: skip
    torch = deps["torch"]
    assert torch.version == "2.3.1" and torch.line == 6 and torch.is_direct
    assert torch.hashes == ("sha256:aaaa1111", "sha256:bbbb2222")
    assert torch.purl == "pkg:pypi/torch@2.3.1"
    numpy = deps["numpy"]
    assert numpy.markers == 'python_version < "3.13"' and not numpy.is_direct
    transformers = deps["transformers"]
    assert transformers.version is None and transformers.specifier == "<5,>=4.40"
    assert transformers.extras == ("sentencepiece", "torch")
    assert deps["my-lib"].url == "https://example.com/my_lib-1.0-py3-none-any.whl"
    tool = deps["org-tool"]
    assert tool.url and tool.url.startswith("git+https://")
    assert tool.purl.startswith("pkg:pypi/org-tool?vcs_url=git%2Bhttps://")
    assert deps["requests"].source.endswith("requirements-base.txt")
    assert [c.name for c in lock.constraints] == ["urllib3"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("torch=>2\n", "1: invalid requirement"),
        ("-r /etc/passwd\n", "must be a relative path"),
        ("-r https://example.com/r.txt\n", "must be a relative path"),
        ("-r missing.txt\n", "not found"),
        ("--frobnicate\n", "unknown option"),
        ("https://example.com/x.whl\n", "without a name"),
        ("torch==2 --hash=md5\n", "is not ALG:HEX"),
    ],
)
def test_bad_requirements_name_file_line_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(content)
    with pytest.raises(LockfileError, match=problem) as info:
        read_lockfile(path)
    assert str(path) in str(info.value)


def test_include_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r other.txt\n")
    (tmp_path / "other.txt").write_text("-r requirements.txt\n")
    with pytest.raises(LockfileError, match="cycle"):
        read_lockfile(tmp_path / "requirements.txt")


PYPROJECT = """\
[project]
name = "sentiment"
version = "1.0"
dependencies = [
  "torch>=2.2",
  "Transformers[torch]==4.41.0",
  "numpy; python_version >= '3.10'",
]

[project.optional-dependencies]
gpu = ["nvidia-cudnn-cu12==8.9.2.26"]

[dependency-groups]
test = ["pytest>=8"]
dev = [{include-group = "test"}, "ruff"]

[tool.poetry.dependencies]
python = "^3.10"
scikit-learn = "^1.4.2"
pandas = { version = "~2.2", extras = ["parquet"], python = ">=3.10" }
mytool = { git = "https://github.com/org/mytool.git", tag = "v0.3" }

[tool.poetry.group.docs.dependencies]
mkdocs = "*"
"""


def test_pyproject_pep621_groups_and_poetry(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    deps = read_lockfile(path)
    names = [(d.name, d.group) for d in deps]
    assert ("torch", None) in names and ("nvidia-cudnn-cu12", "optional:gpu") in names
    assert names.count(("pytest", "test")) == 1 and ("pytest", "dev") in names
    by = _by_name(deps)
    assert by["transformers"].version == "4.41.0" and by["transformers"].extras == ("torch",)
    assert by["transformers"].line == 6
    assert by["numpy"].markers == 'python_version >= "3.10"'
    assert by["scikit-learn"].specifier == ">=1.4.2,<2.0.0"
    assert by["pandas"].specifier == ">=2.2,<2.3" and by["pandas"].extras == ("parquet",)
    assert by["pandas"].markers == 'python_full_version >= "3.10"'
    assert by["mytool"].url == "git+https://github.com/org/mytool.git@v0.3"
    assert by["mkdocs"].specifier == "" and by["mkdocs"].group == "docs"
    assert by["scikit-learn"].line == 19
    assert "python" not in by


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        (">=1.0,<2.0", ">=1.0,<2.0"),
        (">= 1.0 < 2.0", ">=1.0,<2.0"),
        ("*", ""),
        ("1.2.*", "==1.2.*"),
    ],
)
def test_poetry_constraints(poetry: str, pep440: str) -> None:
    assert poetry_to_pep440(poetry, Path("pyproject.toml"), None) == pep440


POETRY_LOCK = """\
# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.7.4"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2024.7.4-py3-none-any.whl", hash = "sha256:c198e21b"},
    {file = "certifi-2024.7.4.tar.gz", hash = "sha256:5a1e7645"},
]

[[package]]
name = "mytool"
version = "0.3.0"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "git"
url = "https://github.com/org/mytool.git"
reference = "v0.3"
resolved_reference = "0123456789abcdef0123456789abcdef01234567"

[[package]]
name = "Requests"
version = "2.32.3"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
files = [{file = "requests-2.32.3-py3-none-any.whl", hash = "sha256:70761cfe"}]

[package.dependencies]
certifi = ">=2017.4.17"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "abc"
"""


def test_poetry_lock(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text(POETRY_LOCK)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.10"\nrequests = "^2.32"\n'
    )
    deps = _by_name(read_lockfile(tmp_path / "poetry.lock"))
    assert deps["certifi"].hashes == ("sha256:c198e21b", "sha256:5a1e7645")
    assert deps["certifi"].line == 3 and not deps["certifi"].is_direct
    assert deps["requests"].is_direct and deps["requests"].version == "2.32.3"
    assert deps["mytool"].url == (
        "git+https://github.com/org/mytool.git@0123456789abcdef0123456789abcdef01234567"
    )


UV_LOCK = """\
version = 1
revision = 1
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1.0"
source = { virtual = "." }
dependencies = [{ name = "httpx" }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "httpx"
version = "0.27.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "idna" }]
sdist = { url = "https://files.example/httpx-0.27.0.tar.gz", hash = "sha256:a0cb88a4", size = 10 }
wheels = [
    { url = "https://files.example/httpx-0.27.0-py3-none-any.whl", hash = "sha256:71d5465b" },
]

[[package]]
name = "idna"
version = "3.7"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.2.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "forked"
version = "1.0"
source = { git = "https://github.com/org/forked?rev=main#abcdef" }
"""


def test_uv_lock(tmp_path: Path) -> None:
    path = tmp_path / "uv.lock"
    path.write_text(UV_LOCK)
    deps = _by_name(read_lockfile(path))
    assert "app" not in deps  # the project itself
    assert deps["httpx"].hashes == ("sha256:a0cb88a4", "sha256:71d5465b")
    assert deps["httpx"].is_direct and deps["pytest"].is_direct and not deps["idna"].is_direct
    assert deps["forked"].url == "git+https://github.com/org/forked?rev=main#abcdef"
    assert deps["idna"].line == 24


PYLOCK = """\
lock-version = "1.0"
created-by = "pip"
requires-python = ">=3.10"

[[packages]]
name = "attrs"
version = "24.2.0"
index = "https://pypi.org/simple"
marker = "python_version >= '3.10'"

[[packages.wheels]]
name = "attrs-24.2.0-py3-none-any.whl"
url = "https://files.pythonhosted.org/attrs-24.2.0-py3-none-any.whl"
hashes = {sha256 = "81921eb9"}

[[packages]]
name = "tool"
version = "0.1"
vcs = {type = "git", url = "https://github.com/org/tool.git", commit-id = "deadbeef"}
"""


def test_pylock(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(PYLOCK)
    deps = _by_name(read_lockfile(path))
    assert deps["attrs"].hashes == ("sha256:81921eb9",)
    assert deps["attrs"].markers == "python_version >= '3.10'"
    assert deps["tool"].url == "git+https://github.com/org/tool.git@deadbeef"
    assert deps["attrs"].line == 5 and deps["tool"].line == 16
    (tmp_path / "pylock.toml").write_text('lock-version = "2.0"\n')
    with pytest.raises(LockfileError, match="unsupported lock-version"):
        read_lockfile(path)


PIPFILE_LOCK = {
    "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6, "sources": []},
    "default": {
        "flask": {
            "hashes": ["sha256:34e815df", "sha256:ceb27b0a"],
            "index": "pypi",
            "markers": "python_version >= '3.8'",
            "version": "==3.0.3",
        },
        "werkzeug": {"hashes": ["sha256:097e5bfd"], "version": "==3.0.3"},
        "mylib": {"editable": True, "git": "https://github.com/org/mylib.git", "ref": "abc123"},
    },
    "develop": {"pytest": {"hashes": [], "version": "==8.2.0"}},
}


def test_pipfile_lock(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile.lock"
    path.write_text(json.dumps(PIPFILE_LOCK, indent=4))
    (tmp_path / "Pipfile").write_text('[packages]\nflask = "*"\n\n[dev-packages]\npytest = "*"\n')
    deps = _by_name(read_lockfile(path))
    assert deps["flask"].version == "3.0.3" and deps["flask"].is_direct
    assert deps["flask"].hashes == ("sha256:34e815df", "sha256:ceb27b0a")
    assert not deps["werkzeug"].is_direct
    assert deps["mylib"].url == "git+https://github.com/org/mylib.git@abc123"
    assert deps["pytest"].group == "dev"
    assert deps["flask"].line == 10
    path.write_text("[]")
    with pytest.raises(LockfileError, match=r"not a Pipfile\.lock"):
        read_lockfile(path)


ENVIRONMENT = """\
name: training
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26.4=py311h64a7726_0
  - pytorch::pytorch>=2.2
  - cudatoolkit 11.8.* h4ba93d1_12
  - pip
  - pip:
      - transformers==4.41.0
      - datasets>=2.19
"""


def test_conda_environment(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(ENVIRONMENT)
    deps = _by_name(read_lockfile(path))
    assert deps["python"].specifier == "==3.11.*" and deps["python"].ecosystem == "conda"
    assert deps["numpy"].version == "1.26.4" and deps["numpy"].purl == "pkg:conda/numpy@1.26.4"
    assert deps["pytorch"].specifier == ">=2.2"
    assert deps["cudatoolkit"].specifier == "==11.8.*"
    assert deps["pip"].specifier == ""
    assert deps["transformers"].ecosystem == "pypi" and deps["transformers"].line == 11
    assert deps["datasets"].specifier == ">=2.19"
    path.write_text("dependencies:\n  - [nested]\n")
    with pytest.raises(LockfileError, match=r"environment\.yml:2"):
        read_lockfile(path)
    path.write_text("a: &x [*x]\ndependencies: *x\n")  # a self-referencing alias
    with pytest.raises(LockfileError):
        read_lockfile(path)


def test_detection_and_discovery(tmp_path: Path) -> None:
    for name in ("uv.lock", "requirements-dev.txt", "pyproject.toml", "README.md"):
        (tmp_path / name).write_text("")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "prod.txt").write_text("")
    found = [p.name for p in find_lockfiles(tmp_path)]
    assert found == ["uv.lock", "requirements-dev.txt", "prod.txt", "pyproject.toml"]
    assert detect_format(Path("pylock.gpu.toml")) == "pylock.toml"
    assert detect_format(Path("setup.py")) is None
    with pytest.raises(LockfileError, match="unknown dependency file format"):
        read_lockfile(tmp_path / "README.md")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("uv.lock", "[[package]\n", "invalid TOML"),
        ("poetry.lock", "package = 3\n", "must be an array of tables"),
        ("Pipfile.lock", "{", "invalid JSON"),
        ("pyproject.toml", "[project]\ndependencies = 'torch'\n", "list of strings"),
        ("requirements.txt", b"\xff\xfe torch", "not UTF-8"),
    ],
)
def test_malformed_files(tmp_path: Path, name: str, content: str | bytes, problem: str) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(LockfileError, match=problem):
        read_lockfile(path)


def test_purls_match_the_reference_implementation() -> None:
    packageurl = pytest.importorskip("packageurl")
    cases = [
        Dependency("torch", "2.3.1+cu121", None, "x"),
        Dependency("tool", None, None, "x", url="git+https://github.com/o/t.git@v1#egg=tool"),
        Dependency("my-lib", None, ">=1", "x", url="https://example.com/my lib.whl"),
        Dependency("numpy", "1.26.4", None, "x", ecosystem="conda"),
    ]
    for dep in cases:
        parsed = packageurl.PackageURL.from_string(dep.purl)
        assert parsed.name == dep.name and parsed.version == dep.version
        assert parsed.type == dep.ecosystem
        if dep.url:
            assert dep.url in parsed.qualifiers.values()
        assert parsed.to_string() == dep.purl
