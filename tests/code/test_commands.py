"""Shell command lines from notebooks and literal subprocess calls: installs, servers, HTTP."""

from __future__ import annotations

import pytest

from bastion.scan.code.commands import analyze_command, split_command


def kinds(command: str) -> list[tuple[str, str]]:
    return [(issue.kind, issue.subject) for issue in analyze_command(command)]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip install torch", [("unpinned-install", "torch")]),
        ("pip install torch==2.4.0 'numpy>=1.26'", [("unpinned-install", "numpy>=1.26")]),
        ("pip install -q -U transformers==4.44.2", []),
        ("pip install -r requirements.txt", []),
        ("pip install -e .", []),
        ("pip install ./dist/pkg-1.0-py3-none-any.whl", []),
        ("python -m pip install accelerate", [("unpinned-install", "accelerate")]),
        ("sudo pip3 install --user peft", [("unpinned-install", "peft")]),
        ("uv pip install datasets", [("unpinned-install", "datasets")]),
        (
            "pip install git+https://github.com/org/repo.git",
            [("unpinned-install", "git+https://github.com/org/repo.git")],
        ),
        (
            "pip install git+https://github.com/org/repo.git@0123456789abcdef0123456789abcdef01234567",
            [],
        ),
        ("pip install 'torch==2.*'", [("unpinned-install", "torch==2.*")]),
        ("conda install -c conda-forge faiss-cpu", [("unpinned-install", "faiss-cpu")]),
        ("conda install faiss-cpu=1.8.0", []),
        (
            "pip install --index-url http://pypi.internal/simple x==1",
            [("http-index", "http://pypi.internal/simple")],
        ),
        ("pip install torch==2.4.0 && pip install xformers", [("unpinned-install", "xformers")]),
    ],
)
def test_installs(command: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(command) == expected


@pytest.mark.parametrize(
    ("command", "exposed"),
    [
        ("jupyter lab --ip=0.0.0.0 --ServerApp.token='' --allow-root", True),
        ("jupyter notebook --ip 0.0.0.0 --NotebookApp.token=", True),
        ("jupyter lab --ip=0.0.0.0", False),  # a random token is generated
        ("jupyter lab --ServerApp.token=''", False),  # localhost only
        ("mlflow server --host 0.0.0.0 --port 5000", True),
        ("mlflow ui -h 0.0.0.0", True),
        ("mlflow server --host 0.0.0.0 --app-name basic-auth", False),
        ("mlflow server --host 127.0.0.1", False),
        ("streamlit run app.py --server.address 0.0.0.0", True),
        ("streamlit run app.py", False),
        ("python -m http.server 8000", True),
        ("python3 -m http.server --bind 127.0.0.1", False),
        ("uvicorn app:app --host 0.0.0.0", True),
        ("nohup mlflow server --host=0.0.0.0 &", True),
    ],
)
def test_exposed_servers(command: str, exposed: bool) -> None:
    assert any(kind == "exposed-server" for kind, _ in kinds(command)) is exposed


@pytest.mark.parametrize(
    ("command", "downloads"),
    [
        ("wget http://data.example.net/train.tar.gz", 1),
        ("curl -L -o m.pt http://models.example.net/m.pt | tee log", 1),
        ("wget https://data.example.net/train.tar.gz", 0),
        ("curl http://localhost:8080/health", 0),
    ],
)
def test_plain_http_downloads(command: str, downloads: int) -> None:
    assert sum(kind == "http-download" for kind, _ in kinds(command)) == downloads


def test_password_in_download_url_is_not_repeated() -> None:
    (issue,) = analyze_command("wget http://bob:hunter2@files.example.net/x.bin")
    assert "hunter2" not in issue.detail


def test_splitting_is_tolerant() -> None:
    assert split_command("echo 'unterminated && pip install x") == [
        ["echo", "'unterminated"],
        ["pip", "install", "x"],
    ]
    assert split_command("") == []
    assert analyze_command("x" * 100_000) == []
