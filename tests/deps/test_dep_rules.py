"""Each pinning, hash, URL and index rule, positive and negative; bad input reported, not fatal."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bastion.core import Severity
from bastion.registry import default_registry
from bastion.scan.deps.rules import DEP_RULES

from .conftest import OSV_DIR, dep_findings, ids, scan_dir

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _tree(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "tree"
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def _rules(tmp_path: Path, files: dict[str, str | bytes]) -> list[tuple[str, str, int | None]]:
    return [x for x in ids(scan_dir(_tree(tmp_path, files), OSV_DIR)) if x[0] != "BST-DEP-014"]


def test_rules_carry_standards_and_docs() -> None:
    registry = default_registry()
    for rule in DEP_RULES:
        assert registry.rule(rule.id) is rule or registry.rule(rule.id) == rule
        assert rule.description and rule.remediation
        assert rule.references.cwe and "ML06:2023" in rule.references.owasp
        assert "LLM03:2025" in rule.references.owasp
        assert rule.references.atlas[0].startswith("AML.T0010")
        assert "NISTAML.05" in rule.references.nist


class TestPinning:
    def test_requirements_ranges_are_medium(self, tmp_path: Path) -> None:
        result = scan_dir(_tree(tmp_path, {"requirements.txt": "numpy>=1.2\ntorch==2.3.1\nrich\n"}))
        unpinned = [f for f in dep_findings(result) if f.rule_id == "BST-DEP-003"]
        assert [(f.location.line, f.severity) for f in unpinned] == [
            (1, Severity.MEDIUM), (3, Severity.MEDIUM)
        ]  # fmt: skip

    def test_dev_requirements_and_pip_compile_inputs_are_low_or_silent(
        self, tmp_path: Path
    ) -> None:
        found = _rules(tmp_path, {
            "requirements-dev.txt": "pytest\n",
            "docs/requirements.txt": "sphinx\n",
            "requirements.in": "flask\n",
            "requirements.txt": "flask==3.0.3\n",
            "tools/requirements.in": "black\n",
        })  # fmt: skip
        assert found == [("BST-DEP-003", "docs/requirements.txt", 1),
                         ("BST-DEP-003", "requirements-dev.txt", 1),
                         ("BST-DEP-003", "tools/requirements.in", 1)]  # fmt: skip
        result = scan_dir(_tree(tmp_path / "b", {"requirements-test.txt": "pytest\n"}))
        assert all(f.severity is Severity.LOW for f in dep_findings(result, "BST-DEP-003"))

    def test_constraints_files_are_not_requirements(self, tmp_path: Path) -> None:
        assert _rules(tmp_path, {"constraints.txt": "urllib3<3\n"}) == []

    def test_conda_environment(self, tmp_path: Path) -> None:
        env = ("name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
               "  - numpy=1.26.4=py311h0\n  - scipy>=1.11\n  - pip:\n    - rich\n"
               "    - torch==2.3.1\n")  # fmt: skip
        assert _rules(tmp_path, {"environment.yml": env}) == [
            ("BST-DEP-003", "environment.yml", 6), ("BST-DEP-003", "environment.yml", 8)
        ]  # fmt: skip

    def test_pyproject_only_without_a_lock_and_low(self, tmp_path: Path) -> None:
        pyproject = ('[project]\nname = "app"\nversion = "1"\n'
                     'dependencies = ["numpy>=1.26", "rich==13.7.1"]\n'
                     '[project.optional-dependencies]\ndev = ["pytest"]\n')  # fmt: skip
        result = scan_dir(_tree(tmp_path, {"pyproject.toml": pyproject}))
        (finding,) = dep_findings(result, "BST-DEP-003")
        assert finding.severity is Severity.LOW and finding.location.line == 4
        assert "numpy" in finding.message and "pytest" not in finding.message
        locked = _rules(tmp_path / "b", {"pyproject.toml": pyproject, "uv.lock": "version = 1\n"})
        assert locked == []


class TestHashes:
    def test_some_hashed_others_not(self, tmp_path: Path) -> None:
        text = f"torch==2.3.1 --hash=sha256:{'a' * 64}\nrich==13.7.1\n"
        assert _rules(tmp_path, {"requirements.txt": text}) == [
            ("BST-DEP-004", "requirements.txt", 2)
        ]

    def test_require_hashes_option_applies_to_included_files(self, tmp_path: Path) -> None:
        found = _rules(tmp_path, {
            "requirements.txt": "--require-hashes\n-r requirements-base.txt\n",
            "requirements-base.txt": "rich==13.7.1\n",
        })  # fmt: skip
        assert found == [("BST-DEP-004", "requirements-base.txt", 1)]

    def test_all_hashed_is_clean(self, tmp_path: Path) -> None:
        text = f"--require-hashes\nrich==13.7.1 \\\n    --hash=sha256:{'b' * 64}\n"
        assert _rules(tmp_path, {"requirements.txt": text}) == []

    def test_lock_file_entries(self, tmp_path: Path) -> None:
        lock = ('version = 1\n\n[[package]]\nname = "rich"\nversion = "13.7.1"\n'
                'sdist = { url = "https://x/rich.tar.gz", hash = "sha256:aa" }\n\n'
                '[[package]]\nname = "numpy"\nversion = "1.26.4"\n\n'
                '[[package]]\nname = "tool"\nversion = "1.0"\n'
                f'source = {{ git = "https://h.example/o/tool?rev=main#{COMMIT}" }}\n')  # fmt: skip
        assert _rules(tmp_path, {"uv.lock": lock}) == [("BST-DEP-004", "uv.lock", 8)]


class TestUrls:
    def test_vcs_without_commit_and_plain_http(self, tmp_path: Path) -> None:
        text = (
            "git+https://github.com/o/a.git@main#egg=a\n"
            f"git+https://github.com/o/b.git@{COMMIT}#egg=b\n"
            "git+http://example.org/o/c.git#egg=c\n"
            "d @ http://example.org/d-1.0.tar.gz\n"
            "e @ https://example.org/e-1.0.tar.gz\n"
            f"f @ https://example.org/f-1.0.tar.gz#sha256={'c' * 64}\n"
            "-e ./local\n"
        )
        assert _rules(tmp_path, {"requirements.txt": text, "local/setup.py": ""}) == [
            ("BST-DEP-005", "requirements.txt", 1),
            ("BST-DEP-005", "requirements.txt", 3),
            ("BST-DEP-006", "requirements.txt", 3),
            ("BST-DEP-006", "requirements.txt", 4),
            ("BST-DEP-007", "requirements.txt", 4),
            ("BST-DEP-007", "requirements.txt", 5),
        ]

    def test_credentials_in_urls_are_not_repeated(self, tmp_path: Path) -> None:
        text = "x @ https://user:s3cr3tT0ken@example.org/x-1.0.tar.gz\n"
        result = scan_dir(_tree(tmp_path, {"requirements.txt": text}))
        (finding,) = dep_findings(result, "BST-DEP-007")
        assert "s3cr3tT0ken" not in finding.message + finding.evidence


class TestIndexes:
    def test_requirements_index_options(self, tmp_path: Path) -> None:
        text = ("--index-url http://mirror.local/simple\n"
                "--extra-index-url https://download.pytorch.org/whl/cu121\n"
                "--trusted-host mirror.local\n-f https://download.pytorch.org/whl/torch\n"
                "torch==2.3.1\n")  # fmt: skip
        assert _rules(tmp_path, {"requirements.txt": text}) == [
            ("BST-DEP-009", "requirements.txt", 1),
            ("BST-DEP-008", "requirements.txt", 2),
            ("BST-DEP-010", "requirements.txt", 3),
        ]

    def test_extra_index_is_low_when_everything_is_hashed(self, tmp_path: Path) -> None:
        text = f"--extra-index-url https://pkgs.example/simple\nrich==1 --hash=sha256:{'d' * 64}\n"
        result = scan_dir(_tree(tmp_path, {"requirements.txt": text}))
        (finding,) = dep_findings(result, "BST-DEP-008")
        assert finding.severity is Severity.LOW

    def test_pip_conf(self, tmp_path: Path) -> None:
        conf = ("[global]\ntimeout = 60\nindex-url = https://pypi.org/simple\n"
                "extra-index-url = http://pkgs.internal/simple\n"
                "trusted-host = pkgs.internal\n")  # fmt: skip
        assert _rules(tmp_path, {"pip.conf": conf, "pip.ini": "[global]\nno-cache-dir = 1\n"}) == [
            ("BST-DEP-008", "pip.conf", 4),
            ("BST-DEP-009", "pip.conf", 4),
            ("BST-DEP-010", "pip.conf", 5),
        ]

    def test_uv_and_poetry_settings(self, tmp_path: Path) -> None:
        pyproject = ('[project]\nname = "a"\nversion = "1"\ndependencies = []\n'
                     '[tool.uv]\nextra-index-url = ["https://pkgs.example/simple"]\n'
                     '[[tool.uv.index]]\nurl = "http://plain.example/simple"\n'
                     '[[tool.poetry.source]]\nname = "corp"\n'
                     'url = "https://corp.example/simple"\n')  # fmt: skip
        assert _rules(tmp_path, {"pyproject.toml": pyproject}) == [
            ("BST-DEP-009", "pyproject.toml", 8)  # uv's first-index default: no confusion
        ]
        unsafe = pyproject.replace(
            "[tool.uv]\n", '[tool.uv]\nindex-strategy = "unsafe-best-match"\n'
        )
        found = _rules(tmp_path / "b", {"pyproject.toml": unsafe})
        assert ("BST-DEP-008", "pyproject.toml", 7) in found


class TestBadInput:
    def test_invalid_files_are_skips_naming_file_and_line(self, tmp_path: Path) -> None:
        root = _tree(tmp_path, {
            "pyproject.toml": "[project\nname = 1\n",
            "environment.yml": "dependencies: [unclosed\n",
            "requirements.txt": "numpy==1.26.4\n-r missing.txt\n",
            "poetry.lock": "[[package]]\nname = 3\n",
            "requirements-x.txt": "not a valid == requirement ==\n",
            "pdm.lock": "# pdm\n",
        })  # fmt: skip
        result = scan_dir(root, OSV_DIR)
        details = {s.path: s.detail for s in result.skipped}
        assert "invalid TOML" in details["pyproject.toml"]
        assert "invalid YAML" in details["environment.yml"]
        assert "requirements.txt:2" in details["requirements.txt"]
        assert "missing.txt" in details["requirements.txt"]
        assert "requirements-x.txt:1" in details["requirements-x.txt"]
        assert "no reader" in details["pdm.lock"]
        assert "poetry.lock" in details
        assert not dep_findings(result)

    def test_binary_with_a_requirements_name(self, tmp_path: Path) -> None:
        result = scan_dir(_tree(tmp_path, {"requirements.txt": b"\x00\x01\x02numpy\x00" * 100}))
        assert not dep_findings(result)

    def test_enormous_line_and_include_cycle(self, tmp_path: Path) -> None:
        root = _tree(tmp_path, {
            "requirements.txt": "numpy==1.26.4 ; python_version >= '3' " + "#" * 2_000_000 + "\n",
            "requirements-a.txt": "-r requirements-b.txt\n",
            "requirements-b.txt": "-r requirements-a.txt\n",
        })  # fmt: skip
        result = scan_dir(root, OSV_DIR)
        assert any(n.startswith("requirements.txt: ") for n in result.notes)
        assert any("cycle" in s.detail for s in result.skipped)

    def test_requirements_inside_an_archive(self, tmp_path: Path) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("app/requirements.txt", "reqeusts==2.0\ntorch==1.12.1\n")
        result = scan_dir(_tree(tmp_path, {"bundle.zip": buffer.getvalue()}), OSV_DIR)
        found = {(f.rule_id, f.location.member, f.location.line) for f in dep_findings(result)}
        assert ("BST-DEP-011", "app/requirements.txt", 1) in found
        assert ("BST-DEP-001", "app/requirements.txt", 2) in found
