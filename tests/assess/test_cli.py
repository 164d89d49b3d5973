"""End to end: `bastion assess` and `bastion harden` on small projects built in the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bastion.cli.app import app

runner = CliRunner()

TORCH_MODULE = """
import torch
from torch import nn


def build():
    return nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))


def train(x, y, *, seed=0):
    torch.manual_seed(seed)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast_cancer scaled to [0, 1]; a logistic regression (skops) and a small torch MLP."""
    import skops.io as sio
    import torch
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("project")
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[: len(x) // 2], order[len(x) // 2 :]
    np.savez(root / "train.npz", x=x[tr], y=y[tr])
    np.savez(root / "test.npz", x=x[te], y=y[te])
    sio.dump(LogisticRegression(max_iter=1000).fit(x[tr], y[tr]), root / "lr.skops")
    (root / "tiny_net.py").write_text(TORCH_MODULE)
    import importlib.util

    spec = importlib.util.spec_from_file_location("tiny_net", root / "tiny_net.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.save(module.train(x[tr], y[tr]).state_dict(), root / "net.pt")
    return root


def _config(root: Path, extra: str = "", **targets: str) -> Path:
    blocks = targets or {
        "lr": 'kind = "sklearn"\npath = "lr.skops"',
        "net": (
            'kind = "torch"\nentry = "tiny_net:build"\npath = "net.pt"\ntrain = "tiny_net:train"'
        ),
    }
    text = (
        '[assess]\nseed = 0\nreport_dir = "out"\n'
        '[assess.data]\ntrain = "train.npz"\ntest = "test.npz"\nbounds = [0.0, 1.0]\n'
        "[assess.robustness]\nepsilons = [0.05, 0.2]\nsamples = 60\nmax_queries = 60\n"
        "[assess.privacy]\nshadow_models = 4\ninversion_steps = 20\n"
        "[assess.poisoning]\nnetwork_epochs = 3\n"
        + extra
        + "".join(f"[assess.targets.{name}]\n{body}\n" for name, body in blocks.items())
    )
    path = root / "bastion.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_assess_all_json_sarif_html(project: Path) -> None:
    config = _config(project)
    result = runner.invoke(app, ["assess", "-c", str(config), "-q", "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    findings = report["findings"]
    assert findings and {f["category"] for f in findings} == {"assessment"}
    ids = {f["rule_id"] for f in findings}
    assert {
        "BST-ASR-001",
        "BST-ASR-002",
        "BST-ASR-003",
        "BST-ASR-004",
        "BST-ASR-005",
        "BST-APR-001",
        "BST-APR-002",
        "BST-APD-001",
        "BST-APD-005",
    } <= ids
    pgd = next(
        f for f in findings if f["rule_id"] == "BST-ASR-001" and f["properties"]["attack"] == "pgd"
    )
    assert pgd["properties"]["metrics"]["curve"][0]["epsilon"] == 0.05
    assert "min_robust_accuracy" in pgd["properties"]["thresholds"]
    html = (project / "out" / "report.html").read_text()
    assert "<script" not in html and html.count("<svg") >= 3
    metrics = json.loads((project / "out" / "metrics.json").read_text())
    assert metrics["schema"] == "bastion/assess-metrics"
    assert {r["target"] for r in metrics["robustness"]} == {"lr", "net"}
    store = f"sqlite:///{project / 'history.db'}"
    sarif = runner.invoke(
        app,
        ["assess", "robustness", "-c", str(config), "-q", "-f", "sarif", "-t", "net",
         "--store", store],
    )  # fmt: skip
    assert sarif.exit_code == 0, sarif.output
    assert "BST-ASR-001" in sarif.stdout
    from bastion.store.history import open_history
    from bastion.store.history_config import store_settings

    history = open_history(store_settings(store, None))
    try:
        run = history.latest(project.name, "assess")
        assert run is not None
        names = {m.name for m in history.metrics(run.id)}
    finally:
        history.close()
    assert any(name.startswith("BST-ASR-001/") for name in names)


@pytest.mark.slow
def test_thresholds_fail_the_gate(project: Path) -> None:
    config = _config(
        project,
        extra='[assess.robustness.min_robust_accuracy]\n"0.2" = 0.99\n',
        net='kind = "torch"\nentry = "tiny_net:build"\npath = "net.pt"',
    )
    result = runner.invoke(app, ["assess", "robustness", "-c", str(config), "-q", "-f", "json"])
    assert result.exit_code == 1
    blocking = [f for f in json.loads(result.stdout)["findings"] if f["blocking"]]
    assert blocking and all(
        f["properties"]["thresholds"]["min_robust_accuracy"]["0.2"] == 0.99 for f in blocking
    )


def test_nan_data_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    with np.load(project / "train.npz") as archive:
        x, y = archive["x"].copy(), archive["y"]
    x[5, 3] = np.nan
    np.savez(tmp_path / "train.npz", x=x, y=y)
    config = tmp_path / "bastion.toml"
    config.write_text(
        '[assess.data]\ntrain = "train.npz"\n[assess.targets.m]\nkind = "sklearn"\n'
        f'path = "{project / "lr.skops"}"\n'
    )
    result = runner.invoke(app, ["assess", "data", "-c", str(config), "-q"])
    assert result.exit_code == 2
    assert "train.npz" in result.output and "rows 5" in result.output


def test_missing_assess_table(tmp_path: Path) -> None:
    config = tmp_path / "bastion.toml"
    config.write_text('fail_on = "high"\n')
    result = runner.invoke(app, ["assess", "-c", str(config)])
    assert result.exit_code == 2 and "no [assess] table" in result.output


def test_shape_mismatch_is_reported(project: Path, tmp_path: Path) -> None:
    config = _config(project, net='kind = "torch"\nentry = "tiny_net:build"\npath = "net.pt"')
    text = config.read_text().replace(
        "bounds = [0.0, 1.0]", "bounds = [0.0, 1.0]\ninput_shape = [5, 6]"
    )
    config.write_text(text)
    result = runner.invoke(app, ["assess", "robustness", "-c", str(config), "-q"])
    assert result.exit_code == 2
    assert "does not accept inputs of shape [5, 6]" in result.output


def test_rules_are_registered_and_explained() -> None:
    result = runner.invoke(app, ["rules", "explain", "BST-APD-004"])
    assert result.exit_code == 0 and "exclusionary" in result.output.lower()
    listing = runner.invoke(app, ["rules", "--category", "assessment", "--json"])
    ids = {r["id"] for r in json.loads(listing.stdout)}
    assert {"BST-ASR-001", "BST-APR-002", "BST-APD-005"} <= ids


@pytest.mark.slow
def test_harden_dp_then_assess_states_the_guarantee(tmp_path: Path, digits: Any) -> None:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    np.savez(tmp_path / "train.npz", x=digits.x[digits.train], y=digits.y[digits.train])
    np.savez(tmp_path / "test.npz", x=digits.x[digits.test], y=digits.y[digits.test])
    sio.dump(
        RandomForestClassifier(30, random_state=0).fit(
            digits.x[digits.train], digits.y[digits.train]
        ),
        tmp_path / "rf.skops",
    )
    config = _config(tmp_path, extra="", rf='kind = "sklearn"\npath = "rf.skops"')
    result = runner.invoke(
        app,
        [
            "harden",
            "dp",
            "-c",
            str(config),
            "-t",
            "rf",
            "--epsilon",
            "1",
            "-o",
            str(tmp_path / "rf_dp.skops"),
            "-q",
            "--json",
            str(tmp_path / "harden.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "harden.json").read_text())
    assert comparison["after"]["test_accuracy"] < comparison["before"]["test_accuracy"]
    assert comparison["after"]["lira-online_auc"] < comparison["before"]["lira-online_auc"]
    assert (tmp_path / "rf_dp.skops.dp.json").is_file()
    strict = _config(tmp_path, rf='kind = "sklearn"\npath = "rf_dp.skops"')
    strict.write_text(
        strict.read_text().replace("shadow_models = 4", "shadow_models = 4\nmax_epsilon = 0.5")
    )
    assessed = runner.invoke(app, ["assess", "privacy", "-c", str(strict), "-q", "-f", "json"])
    dp = [f for f in json.loads(assessed.stdout)["findings"] if f["rule_id"] == "BST-APR-005"]
    assert dp and dp[0]["severity"] == "high" and dp[0]["properties"]["metrics"]["epsilon"] == 1.0
    assert assessed.exit_code == 1


@pytest.mark.slow
def test_harden_torch_adversarial_and_dp(project: Path, tmp_path: Path) -> None:
    config = _config(project, net='kind = "torch"\nentry = "tiny_net:build"\npath = "net.pt"')
    adv = runner.invoke(
        app,
        ["harden", "adversarial", "-c", str(config), "-t", "net", "--epsilon", "0.1",
         "--epochs", "3", "-o", str(tmp_path / "net_adv.pt"), "-q",
         "--json", str(tmp_path / "adv.json")],
    )  # fmt: skip
    assert adv.exit_code == 0, adv.output
    result = json.loads((tmp_path / "adv.json").read_text())
    assert "pgd_robust_accuracy@0.1" in result["after"] and (tmp_path / "net_adv.pt").is_file()
    dp = runner.invoke(
        app,
        ["harden", "dp", "-c", str(config), "-t", "net", "--epsilon", "3", "--epochs", "2",
         "-o", str(tmp_path / "net_dp.pt"), "-q", "--json", str(tmp_path / "dp.json")],
    )  # fmt: skip
    assert dp.exit_code == 0, dp.output
    record = json.loads((tmp_path / "net_dp.pt.dp.json").read_text())
    assert 0 < record["epsilon"] <= 3.0 + 1e-6 and "Opacus" in record["mechanism"]
    assert json.loads((tmp_path / "dp.json").read_text())["after"]["epsilon"] == record["epsilon"]


@pytest.mark.slow
def test_harden_refuses_what_it_cannot_do(project: Path, tmp_path: Path) -> None:
    config = _config(project)
    result = runner.invoke(
        app,
        ["harden", "adversarial", "-c", str(config), "-t", "lr", "--epsilon", "0.1",
         "-o", str(tmp_path / "x.pt")],
    )  # fmt: skip
    assert result.exit_code == 2 and "needs a torch target" in result.output
    linear = runner.invoke(
        app,
        ["harden", "dp", "-c", str(config), "-t", "lr", "--epsilon", "1",
         "-o", str(tmp_path / "lr_dp.skops"), "-q"],
    )  # fmt: skip
    assert linear.exit_code == 0, linear.output
    record = json.loads((tmp_path / "lr_dp.skops.dp.json").read_text())
    assert record["delta"] > 0 and "analytic Gaussian" in record["mechanism"]
    unbounded = config.read_text().replace("bounds = [0.0, 1.0]\n", "")
    config.write_text(unbounded)
    refused = runner.invoke(
        app,
        ["harden", "dp", "-c", str(config), "-t", "lr", "--epsilon", "1",
         "-o", str(tmp_path / "lr_dp2.skops")],
    )  # fmt: skip
    assert refused.exit_code == 2 and "bounds" in refused.output
