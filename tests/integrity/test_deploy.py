"""The deployment gate: one decision, every reason, and it fails closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import load_config
from bastion.errors import ConfigError
from bastion.integrity.attestation import AttestInputs, attest_model
from bastion.integrity.deploy import (
    DeploymentDecision,
    DeploymentPolicy,
    load_deployment_policy,
    verify_for_deployment,
)
from bastion.integrity.keys import KeyPair
from bastion.integrity.signing import KeySigner, sign_model


@pytest.fixture
def released(model_dir: Path, key: KeyPair) -> Path:
    """A model signed and attested with the release key."""
    signer = KeySigner(key.private)
    sign_model(model_dir, signer)
    attest_model(AttestInputs(model=model_dir, project=model_dir), signer)
    return model_dir


def _rules(decision: DeploymentDecision) -> list[str]:
    return [p.rule.id for p in decision.problems]


def test_released_model_is_allowed(released: Path, key: KeyPair, other_key: KeyPair) -> None:
    policy = DeploymentPolicy(trusted_keys=(other_key.public, key.public))
    decision = verify_for_deployment(released, policy)
    assert decision.allowed, decision.reasons
    assert decision.reasons == ()
    assert decision.signer == key.fingerprint
    assert decision.model_digest is not None and decision.model_digest.startswith("sha256:")
    assert any("recorded scan passed" in line for line in decision.checked)


def test_tampered_model_is_refused_with_every_reason(released: Path, key: KeyPair) -> None:
    (released / "config.json").write_text("{}")
    (released / "payload.pkl").write_bytes(b"\x80\x04N.")
    decision = verify_for_deployment(released, DeploymentPolicy(trusted_keys=(key.public,)))
    assert not decision.allowed
    assert _rules(decision) == ["BST-INT-002", "BST-INT-003", "BST-INT-009"]
    assert any("config.json" in reason for reason in decision.reasons)
    assert decision.signer is None


def test_untrusted_signer(released: Path, other_key: KeyPair) -> None:
    decision = verify_for_deployment(released, DeploymentPolicy(trusted_keys=(other_key.public,)))
    assert _rules(decision) == ["BST-INT-001", "BST-INT-008"]


def test_missing_evidence_and_no_keys(model_dir: Path, key: KeyPair) -> None:
    decision = verify_for_deployment(model_dir, DeploymentPolicy(trusted_keys=(key.public,)))
    assert _rules(decision) == ["BST-INT-012", "BST-INT-012"]
    assert "signature not found" in decision.reasons[0]
    no_keys = verify_for_deployment(model_dir, DeploymentPolicy(trusted_keys=()))
    assert not no_keys.allowed and "no trusted keys" in no_keys.reasons[0]
    missing = verify_for_deployment(model_dir / "nope", DeploymentPolicy(trusted_keys=()))
    assert not missing.allowed and "model not found" in missing.reasons[0]


def test_requirements_can_be_relaxed(model_dir: Path, key: KeyPair) -> None:
    sign_model(model_dir, KeySigner(key.private))
    policy = DeploymentPolicy(trusted_keys=(key.public,), require_scan_attestation=False)
    assert verify_for_deployment(model_dir, policy).allowed


def test_bad_inputs_never_raise(released: Path, key: KeyPair, tmp_path: Path) -> None:
    (released / "model.sig").write_text("garbage")
    (released / "model.att.json").write_bytes(b"\x00" * 10)
    decision = verify_for_deployment(released, DeploymentPolicy(trusted_keys=(key.public,)))
    assert _rules(decision) == ["BST-INT-001", "BST-INT-008"]
    not_a_key = tmp_path / "key.pub"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    broken = verify_for_deployment(released, DeploymentPolicy(trusted_keys=(not_a_key,)))
    assert not broken.allowed
    assert "key.pub" in broken.reasons[0] and "not a PEM public key" in broken.reasons[0]
    rsa = tmp_path / "rsa.pub"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_mod

    rsa.write_bytes(
        rsa_mod.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    wrong_type = verify_for_deployment(released, DeploymentPolicy(trusted_keys=(rsa,)))
    assert not wrong_type.allowed and "RSA" in wrong_type.reasons[0]


def test_policy_from_toml(released: Path, key: KeyPair, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "release.pub").write_bytes(key.public.read_bytes())
    config = tmp_path / "bastion.toml"
    config.write_text(
        'fail_on = "high"\n\n[deploy]\ntrusted_keys = ["keys/release.pub"]\n'
        "require_scan_attestation = true\n"
    )
    policy = load_deployment_policy(config)
    assert policy.trusted_keys == (tmp_path / "keys" / "release.pub",)
    assert verify_for_deployment(released, policy).allowed
    assert DeploymentPolicy.from_config(load_config(config)) == policy


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('trusted_keys = "one.pub"', "deploy.trusted_keys"),
        ("require_signature = 1", "deploy.require_signature"),
        ("typo_key = true", "deploy.typo_key"),
    ],
)
def test_invalid_deploy_table(tmp_path: Path, table: str, problem: str) -> None:
    config = tmp_path / "bastion.toml"
    config.write_text(f"[deploy]\n{table}\n")
    with pytest.raises(ConfigError, match=problem):
        load_deployment_policy(config)


def test_policy_file_without_deploy_table(tmp_path: Path) -> None:
    config = tmp_path / "bastion.toml"
    config.write_text('fail_on = "high"\n')
    with pytest.raises(ConfigError, match=r"no \[deploy\] table"):
        load_deployment_policy(config)


def test_custom_evidence_paths_and_cache(
    model_dir: Path, key: KeyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    signer = KeySigner(key.private)
    signature = sign_model(model_dir, signer, tmp_path / "release.sig").signature
    attestation = attest_model(
        AttestInputs(model=model_dir, project=model_dir), signer, tmp_path / "release.att.json"
    ).attestation
    policy = DeploymentPolicy(
        trusted_keys=(key.public,),
        signature=signature,
        attestation=attestation,
        manifest_cache=True,
    )
    assert verify_for_deployment(model_dir, policy).allowed
    assert verify_for_deployment(model_dir, policy).allowed  # second time from the cache
    assert list((tmp_path / "cache").rglob("*.json"))
