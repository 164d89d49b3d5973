"""BST-MLF in every place a server is configured, and the container rules in Compose files."""

from __future__ import annotations

from bastion.core import Severity
from bastion.scan.configs.issues import Subject
from bastion.scan.configs.mlflow import ini_issues
from tests.configs.conftest import DIGEST, dockerfile, hits, ids, manifest, script, token


def test_mlf_001_exposed_without_auth_everywhere() -> None:
    assert ("BST-MLF-001", 2) in hits(
        script("#!/bin/sh\nexec mlflow server --host 0.0.0.0 --port 5000\n")
    )
    assert "BST-MLF-001" in ids(script("mlflow ui -h :: \n"))
    assert "BST-MLF-001" in ids(script("export MLFLOW_HOST=0.0.0.0\npython -m mlflow server\n"))
    docker = dockerfile(
        'FROM x\nUSER 1\nENTRYPOINT ["mlflow", "server"]\nCMD ["--host", "0.0.0.0"]\n'
    )
    assert ("BST-MLF-001", 3) in hits(docker)
    shell_form = dockerfile("FROM x\nUSER 1\nCMD mlflow server \\\n    --host 0.0.0.0\n")
    assert ("BST-MLF-001", 3) in hits(shell_form)
    serve = script("mlflow models serve -m models:/churn/3 -h 0.0.0.0 -p 8080\n")
    assert "BST-MLF-001" in ids(serve)


def test_mlf_001_negative() -> None:
    assert script("mlflow server --host 0.0.0.0 --app-name basic-auth\n") == []
    assert script("mlflow server --port 5000\n") == []  # binds 127.0.0.1 by default
    assert script('mlflow server --host "$HOST"\n') == []  # unknown: not reported on a guess
    assert script("mlflow server --host 0.0.0.0 $app_name_option\n") == []
    assert script("echo 'run mlflow server --host 0.0.0.0 later'\n") == []


def test_mlf_002_default_admin_credentials() -> None:
    ini = (
        "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///basic_auth.db\n"
        "admin_username = admin\nadmin_password = password1234\n"
    )
    assert [(i.rule.id, i.line) for i in ini_issues(ini, Subject("c"))] == [("BST-MLF-002", 5)]
    changed = ini.replace("password1234", token())
    assert ini_issues(changed, Subject("c")) == []
    env = script(
        "export MLFLOW_TRACKING_USERNAME=admin\nexport MLFLOW_TRACKING_PASSWORD=password1234\n"
    )
    assert hits(env) == [("BST-MLF-002", 2)]


def test_mlf_003_world_writable_artifacts() -> None:
    tmp = script("mlflow server --app-name basic-auth --artifacts-destination /tmp/mlartifacts\n")
    assert "BST-MLF-003" in ids(tmp)
    chmod = dockerfile(
        "FROM x\nUSER 1\nRUN mkdir /srv/art && chmod 777 /srv/art\n"
        'CMD ["mlflow", "server", "--app-name", "basic-auth", "--artifacts-destination", "file:///srv/art"]\n'
    )
    assert ("BST-MLF-003", 4) in hits(chmod)
    private = script(
        "mlflow server --app-name basic-auth --artifacts-destination s3://bucket/mlflow\n"
    )
    assert "BST-MLF-003" not in ids(private)
    off = script(
        "mlflow server --no-serve-artifacts --default-artifact-root /tmp/x --app-name basic-auth\n"
    )
    assert "BST-MLF-003" not in ids(off)


def test_mlf_004_timeouts() -> None:
    zero = script('mlflow server --app-name basic-auth --gunicorn-opts "--timeout 0 --workers 4"\n')
    assert "BST-MLF-004" in ids(zero)
    env = script("MLFLOW_GUNICORN_OPTS='-t=7200' mlflow server --app-name basic-auth\n")
    assert "BST-MLF-004" in ids(env)
    keep = script('mlflow server --app-name basic-auth --uvicorn-opts "--timeout-keep-alive 900"\n')
    assert [i.severity for i in keep if i.rule.id == "BST-MLF-004"] == [Severity.LOW]
    sane = script('mlflow server --app-name basic-auth --gunicorn-opts "--timeout 120"\n')
    assert "BST-MLF-004" not in ids(sane)


def test_mlf_005_tracking_password_literal() -> None:
    secret = token()
    issues = dockerfile(f"FROM x\nUSER 1\nENV MLFLOW_TRACKING_PASSWORD={secret}\n")
    assert [
        (i.rule.id, i.line) for i in issues if i.rule.id.startswith(("BST-MLF", "BST-DKR-006"))
    ] == [("BST-MLF-005", 3)]
    assert all(secret not in i.evidence for i in issues)
    assert "BST-MLF-005" in ids(script(f"export MLFLOW_TRACKING_TOKEN={secret}\n"))
    assert "BST-MLF-005" not in ids(
        script('export MLFLOW_TRACKING_PASSWORD="$(cat /run/secrets/pw)"\n')
    )


def test_mlf_006_security_middleware() -> None:
    off = script("mlflow server --app-name basic-auth --disable-security-middleware\n")
    assert "BST-MLF-006" in ids(off)
    star = script("mlflow server --app-name basic-auth --cors-allowed-origins '*'\n")
    assert "BST-MLF-006" in ids(star)
    listed = script("mlflow server --app-name basic-auth --allowed-hosts mlflow.example.com\n")
    assert "BST-MLF-006" not in ids(listed)


def test_mlflow_in_kubernetes_container() -> None:
    deployment = f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: mlflow}}
        spec:
          template:
            spec:
              containers:
              - name: mlflow
                image: ghcr.io/mlflow/mlflow:v2.16.0@{DIGEST}
                command: ["sh", "-c", "mlflow server --host 0.0.0.0 --backend-store-uri $DB"]
                env:
                - {{name: MLFLOW_TRACKING_PASSWORD, value: {token()}}}
    """
    found = hits(manifest(deployment))
    assert ("BST-MLF-001", 10) in found and ("BST-MLF-005", 12) in found
    assert "BST-K8S-010" not in {rule for rule, _ in found}  # reported once, as MLflow's


COMPOSE = f"""\
    services:
      mlflow:
        image: ghcr.io/mlflow/mlflow:v2.16.0@{DIGEST}
        command: mlflow server --host 0.0.0.0 --port 5000
        ports:
          - "5000:5000"
        environment:
          MLFLOW_TRACKING_PASSWORD: SECRET_VALUE
          POSTGRES_PASSWORD: mlflow
      trainer:
        image: trainer:latest
        privileged: true
        network_mode: host
        cap_add: [SYS_ADMIN]
        security_opt: ["seccomp:unconfined"]
        user: root
        volumes:
          - /var/run/docker.sock:/var/run/docker.sock
          - ./data:/data
        environment:
          - HF_TOKEN=HFTOKEN
"""


def test_compose_services() -> None:
    text = COMPOSE.replace("SECRET_VALUE", token()).replace("HFTOKEN", token("hf_"))
    found = hits(manifest(text))
    expected = {
        ("BST-MLF-001", 4),
        ("BST-K8S-016", 6),
        ("BST-MLF-005", 8),
        ("BST-K8S-010", 9),
        ("BST-K8S-008", 11),
        ("BST-K8S-001", 12),
        ("BST-K8S-004", 13),
        ("BST-K8S-013", 14),
        ("BST-K8S-014", 15),
        ("BST-K8S-003", 16),
        ("BST-K8S-005", 18),
        ("BST-K8S-010", 21),
    }
    assert set(found) == expected


def test_compose_negative() -> None:
    safe = f"""\
        services:
          api:
            image: registry.example.com/api:2.1.0@{DIGEST}
            ports: ["127.0.0.1:8080:8080"]
            environment:
              LOG_LEVEL: info
              API_KEY: ${{API_KEY}}
            volumes: ["./models:/models:ro", "cache:/cache"]
        volumes:
          cache: {{}}
    """
    assert manifest(safe) == []
