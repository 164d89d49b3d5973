"""Dockerfile parser and the BST-DKR rules: one positive and one negative case per rule."""

from __future__ import annotations

import pytest

from bastion.core import Severity
from bastion.scan.configs.dockerfile import env_pairs, parse_dockerfile, substitute
from tests.configs.conftest import DIGEST, dockerfile, hits, ids, token

SECURE = f"""\
    # syntax=docker/dockerfile:1.7
    ARG PYTHON=python:3.11-slim@{DIGEST}
    FROM ${{PYTHON}} AS build
    RUN apt-get update \\
     && apt-get install -y --no-install-recommends build-essential \\
     && rm -rf /var/lib/apt/lists/*
    COPY requirements.lock .
    RUN pip install --no-cache-dir --require-hashes -r requirements.lock

    FROM python:3.11-slim@{DIGEST}
    RUN useradd --uid 10001 --create-home app
    COPY --from=build --chown=app:app /usr/local/lib/python3.11 /usr/local/lib/python3.11
    COPY --chown=app:app src/ /app/
    RUN pip install --no-cache-dir fastapi==0.115.0 uvicorn==0.30.6
    ENV MODEL_DIR=/models PIP_DISABLE_PIP_VERSION_CHECK=1
    USER 10001
    EXPOSE 8080
    HEALTHCHECK --interval=30s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health')"
    CMD ["python", "-m", "uvicorn", "app:api", "--host", "0.0.0.0", "--port", "8080"]
"""


def test_secure_dockerfile_has_no_issue() -> None:
    assert dockerfile(SECURE) == []


# -- parser --------------------------------------------------------------------------------


def test_continuations_comments_and_lines() -> None:
    df = parse_dockerfile(
        "FROM alpine\nRUN apk add \\\n    # a comment\n\n    curl \\\n    git\nUSER 1\n"
    )
    run = df.stages[0].instructions[0]
    assert run.keyword == "RUN" and run.line == 2
    assert run.value.split() == ["apk", "add", "curl", "git"]
    assert run.line_at(run.value.index("git")) == 6
    assert df.stages[0].instructions[1].line == 7


def test_escape_directive_backtick() -> None:
    df = parse_dockerfile("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir `\n  c:\\\n")
    assert df.directives["escape"] == "`"
    assert df.stages[0].instructions[0].value.split() == ["dir", "c:\\"]


def test_heredocs_and_exec_form() -> None:
    df = parse_dockerfile(
        "FROM x\nRUN <<EOF\nset -e\npip install a\nEOF\n"
        "COPY <<-EOT /etc/app.ini\n\t[app]\n\tEOT\n"
        'CMD ["serve", "--port", "1"]\nUSER 1\n'
    )
    run, copy, cmd, user = df.stages[0].instructions
    assert run.heredocs[0].body == "set -e\npip install a" and run.heredocs[0].line == 3
    assert copy.heredocs[0].name == "EOT"
    assert cmd.exec_form == ("serve", "--port", "1")
    assert user.line == 10


def test_arg_substitution_in_from_and_stage_parents() -> None:
    df = parse_dockerfile(
        "ARG REG=docker.io\nARG TAG\nFROM ${REG}/library/python:${TAG:-3.12} AS base\n"
        "FROM base AS test\nFROM 0\n"
    )
    assert df.stages[0].base == "docker.io/library/python:3.12"
    assert (df.stages[1].parent, df.stages[2].parent) == (0, 0)
    assert substitute("${MISSING}", {}) is None


def test_env_forms() -> None:
    assert env_pairs('A=1 B="two words" C=') == [("A", "1"), ("B", "two words"), ("C", "")]
    assert env_pairs("LEGACY value with spaces") == [("LEGACY", "value with spaces")]


def test_garbage_does_not_raise() -> None:
    assert dockerfile("RUN echo\nFROM\n\x00\n[\n{{\n") is not None
    assert dockerfile("") == []


# -- rules ---------------------------------------------------------------------------------


def test_dkr_001_root_user() -> None:
    assert ("BST-DKR-001", 1) in hits(dockerfile("FROM ubuntu:22.04\n"))
    explicit = dockerfile("FROM ubuntu:22.04\nUSER app\nUSER root\n")
    assert [i.severity for i in explicit if i.rule.id == "BST-DKR-001"] == [Severity.HIGH]
    assert "BST-DKR-001" not in ids(dockerfile("FROM ubuntu:22.04\nUSER 1000:1000\n"))
    assert "BST-DKR-001" not in ids(dockerfile("FROM gcr.io/distroless/python3:nonroot\n"))
    inherited = dockerfile("FROM ubuntu:22.04 AS base\nUSER app\nFROM base\nRUN true\n")
    assert "BST-DKR-001" not in ids(inherited)


def test_dkr_002_latest_or_untagged_base() -> None:
    assert ("BST-DKR-002", 1) in hits(dockerfile("FROM python\nUSER 1\n"))
    assert ("BST-DKR-002", 2) in hits(dockerfile("ARG V=latest\nFROM python:$V\nUSER 1\n"))
    copy_from = dockerfile("FROM scratch\nCOPY --from=ghcr.io/astral-sh/uv:latest /uv /uv\n")
    assert ("BST-DKR-002", 2) in hits(copy_from)
    assert "BST-DKR-002" not in ids(dockerfile("ARG BASE\nFROM $BASE\n"))
    assert "BST-DKR-002" not in ids(dockerfile("FROM python:3.12\n"))


def test_dkr_003_tag_without_digest() -> None:
    assert ("BST-DKR-003", 1) in hits(dockerfile("FROM python:3.12-slim\n"))
    assert "BST-DKR-003" not in ids(dockerfile(f"FROM python:3.12@{DIGEST}\n"))
    assert "BST-DKR-003" not in ids(dockerfile("FROM scratch\n"))


@pytest.mark.parametrize(
    "run",
    [
        "curl -fsSL https://get.example.sh | sh",
        "wget -qO- https://x.example/install | sudo bash -s -- --yes",
        'sh -c "$(curl -fsSL https://x.example/i.sh)"',
        "bash <(curl -s https://x.example/i.sh)",
    ],
)
def test_dkr_004_remote_script_piped_to_shell(run: str) -> None:
    assert ("BST-DKR-004", 2) in hits(dockerfile(f"FROM x\nRUN {run}\n"))


def test_dkr_004_negative() -> None:
    text = (
        "FROM x\nRUN curl -fsSLo /tmp/i.sh https://x.example/i.sh"
        " && sha256sum -c s && sh /tmp/i.sh\n"
    )
    assert "BST-DKR-004" not in ids(dockerfile(text))
    assert "BST-DKR-004" not in ids(dockerfile("FROM x\nRUN curl -s https://x | tar xz\n"))


def test_dkr_005_add_remote() -> None:
    issues = dockerfile("FROM x\nADD https://example.com/weights/model.pt /models/\n")
    assert [(i.rule.id, i.severity) for i in issues if i.rule.id == "BST-DKR-005"] == [
        ("BST-DKR-005", Severity.HIGH)
    ]
    tarball = dockerfile("FROM x\nADD https://example.com/src.tar.gz /src/\n")
    assert [i.severity for i in tarball if i.rule.id == "BST-DKR-005"] == [None]
    pinned = f"FROM x\nADD --checksum={DIGEST} https://example.com/src.tar.gz /src/\n"
    assert "BST-DKR-005" not in ids(dockerfile(pinned))
    assert "BST-DKR-005" not in ids(dockerfile("FROM x\nADD src.tar.gz /src/\n"))


def test_dkr_006_secrets_in_env_and_arg() -> None:
    hf = token("hf_")
    issues = dockerfile(f"ARG HF_TOKEN={hf}\nFROM x\nENV WANDB_API_KEY={token()} A=1\n")
    secret = [i for i in issues if i.rule.id == "BST-DKR-006"]
    assert [(i.line, i.severity) for i in secret] == [(1, None), (3, None)]
    assert all(hf not in i.evidence and hf[4:12] not in i.message for i in secret)
    weak = dockerfile("FROM x\nENV POSTGRES_PASSWORD=mlflow\n")
    assert [i.severity for i in weak if i.rule.id == "BST-DKR-006"] == [Severity.MEDIUM]
    bare = dockerfile("FROM x\nARG HF_TOKEN\nENV HF_HOME=/cache\n")
    assert [i.severity for i in bare if i.rule.id == "BST-DKR-006"] == [Severity.LOW]
    baked = dockerfile("FROM x\nARG HF_TOKEN\nENV HF_TOKEN=$HF_TOKEN\n")
    assert [i.line for i in baked if i.rule.id == "BST-DKR-006"] == [2, 3]
    benign = dockerfile("FROM x\nENV TOKENIZERS_PARALLELISM=false MAX_TOKENS=512 KEY_FILE=/k\n")
    assert "BST-DKR-006" not in ids(benign)


def test_dkr_007_healthcheck() -> None:
    assert "BST-DKR-007" in ids(dockerfile("FROM x\nUSER 1\n"))
    assert "BST-DKR-007" not in ids(dockerfile("FROM x\nHEALTHCHECK NONE\n"))
    two = "FROM x AS a\nHEALTHCHECK CMD true\nFROM y\nUSER 1\n"
    assert "BST-DKR-007" in ids(dockerfile(two))  # the builder's health check is not inherited


def test_dkr_008_package_caches_in_final_image_only() -> None:
    final = dockerfile(
        "FROM x\nRUN apt-get update && apt-get install -y git\nRUN pip install a==1\n"
    )
    assert [line for rule, line in hits(final) if rule == "BST-DKR-008"] == [2, 3]
    builder = dockerfile("FROM x AS b\nRUN apt-get install -y git\nFROM y\nCOPY --from=b /a /a\n")
    assert "BST-DKR-008" not in ids(builder)
    cleaned = "FROM x\nRUN apt-get install -y git && rm -rf /var/lib/apt/lists/*\n"
    assert "BST-DKR-008" not in ids(dockerfile(cleaned))
    mounted = "FROM x\nRUN --mount=type=cache,target=/root/.cache/pip pip install a==1\n"
    assert "BST-DKR-008" not in ids(dockerfile(mounted))
    env = "FROM x\nENV PIP_NO_CACHE_DIR=1\nRUN pip install a==1\nRUN apk add --no-cache curl\n"
    assert "BST-DKR-008" not in ids(dockerfile(env))


def test_dkr_009_unpinned_pip() -> None:
    issues = dockerfile("FROM x\nRUN python3 -m pip install --no-cache-dir torch 'numpy>=1' a==1\n")
    unpinned = [i for i in issues if i.rule.id == "BST-DKR-009"]
    assert (
        len(unpinned) == 1
        and "torch" in unpinned[0].evidence
        and "a==1" not in unpinned[0].evidence
    )
    tools = dockerfile("FROM x\nRUN pip install --no-cache-dir --upgrade pip setuptools wheel\n")
    assert [i.severity for i in tools if i.rule.id == "BST-DKR-009"] == [Severity.LOW]
    fine = "FROM x\nRUN pip install --no-cache-dir -r req.txt -e . ./dist/a.whl b==2.0 -c c.txt\n"
    assert "BST-DKR-009" not in ids(dockerfile(fine))
    vcs = f"FROM x\nRUN pip install --no-cache-dir git+https://github.com/o/r.git@{'a1' * 20}\n"
    assert "BST-DKR-009" not in ids(dockerfile(vcs))


def test_dkr_010_extra_index_url() -> None:
    run = "FROM x\nRUN pip install --no-cache-dir --extra-index-url https://pkgs.example/s a==1\n"
    assert ("BST-DKR-010", 2) in hits(dockerfile(run))
    assert ("BST-DKR-010", 2) in hits(dockerfile("FROM x\nENV PIP_EXTRA_INDEX_URL=https://p/s\n"))
    single = "FROM x\nRUN pip install --no-cache-dir --index-url https://pkgs.example/simple a==1\n"
    assert "BST-DKR-010" not in ids(dockerfile(single))


def test_dkr_011_trusted_host_and_http_index() -> None:
    trusted = "FROM x\nRUN pip install --no-cache-dir --trusted-host pkgs.example a==1\n"
    assert "BST-DKR-011" in ids(dockerfile(trusted))
    http = "FROM x\nRUN pip install --no-cache-dir -i http://pkgs.example/simple a==1\n"
    assert "BST-DKR-011" in ids(dockerfile(http))
    local = "FROM x\nRUN pip install --no-cache-dir -i http://localhost:8080/simple a==1\n"
    assert "BST-DKR-011" not in ids(dockerfile(local))


def test_dkr_012_sudo() -> None:
    assert "BST-DKR-012" in ids(dockerfile("FROM x\nRUN sudo -E apt-get update\n"))
    installs = dockerfile("FROM x\nRUN apt-get install -y sudo && rm -rf /var/lib/apt/lists/*\n")
    assert [i.severity for i in installs if i.rule.id == "BST-DKR-012"] == [Severity.LOW]
    assert "BST-DKR-012" not in ids(dockerfile("FROM x\nRUN echo pseudo sudoku\n"))


def test_dkr_013_world_writable() -> None:
    assert ("BST-DKR-013", 2) in hits(dockerfile("FROM x\nRUN mkdir /m && chmod -R 777 /m\n"))
    assert "BST-DKR-013" in ids(dockerfile("FROM x\nRUN chmod a+w /models\n"))
    assert "BST-DKR-013" in ids(dockerfile("FROM x\nCOPY --chmod=777 model.pt /m/\n"))
    assert "BST-DKR-013" not in ids(dockerfile("FROM x\nRUN chmod 755 /app && chmod +x /e\n"))


def test_dkr_014_ssh() -> None:
    assert ("BST-DKR-014", 2) in hits(dockerfile("FROM x\nEXPOSE 8080 22/tcp\n"))
    assert "BST-DKR-014" not in ids(dockerfile("FROM x\nEXPOSE 2222 8022\n"))


def test_dkr_015_http_download() -> None:
    run = "FROM x\nRUN wget http://models.example/bert.bin -O /m/bert.bin\n"
    assert ("BST-DKR-015", 2) in hits(dockerfile(run))
    assert "BST-DKR-015" not in ids(dockerfile("FROM x\nRUN curl -fsSLO https://m.example/b\n"))
    assert "BST-DKR-015" not in ids(dockerfile("FROM x\nRUN curl http://localhost:8080/h\n"))


def test_heredoc_scripts_are_checked_at_their_lines() -> None:
    issues = dockerfile("FROM x\nRUN <<EOF\nset -e\ncurl -fsSL https://i.example | bash\nEOF\n")
    assert ("BST-DKR-004", 4) in hits(issues)


def test_exec_form_run_is_checked() -> None:
    issues = dockerfile('FROM x\nRUN ["pip", "install", "--no-cache-dir", "requests"]\n')
    assert ("BST-DKR-009", 2) in hits(issues)
