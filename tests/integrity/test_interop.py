"""Interoperability with the real OpenSSF ``model_signing`` 1.1.1 library, both directions."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from bastion.integrity.keys import KeyPair
from bastion.integrity.signing import CertificateSigner, KeySigner, SignOptions, sign_model
from bastion.integrity.verify import Trust, verify_model

model_signing = pytest.importorskip("model_signing")


def _ms_sign_key(model: Path, key: KeyPair, signature: Path, **hashing: object) -> None:
    """Sign the way ``model_signing sign key`` does (the signature file itself ignored)."""
    config = model_signing.hashing.Config().set_ignored_paths(paths=[signature.name])
    if hashing:
        config = config.use_shard_serialization(**hashing)
    (
        model_signing.signing.Config()
        .use_elliptic_key_signer(private_key=key.private)
        .set_hashing_config(config)
        .sign(model, signature)
    )


def test_model_signing_verifies_bastion_signatures(model_dir: Path, key: KeyPair) -> None:
    signature = sign_model(model_dir, KeySigner(key.private)).signature
    verifier = model_signing.verifying.Config().use_elliptic_key_verifier(public_key=key.public)
    verifier.verify(model_dir, signature)  # raises on any mismatch
    (model_dir / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"Hash mismatch for 'config\.json'"):
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=key.public).verify(
            model_dir, signature
        )


def test_model_signing_verifies_a_bastion_single_file_signature(
    tmp_path: Path, key: KeyPair
) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07" + bytes(range(200)))
    signature = sign_model(model, KeySigner(key.private)).signature
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=key.public).verify(
        model, signature
    )


def test_bastion_verifies_model_signing_signatures(model_dir: Path, key: KeyPair) -> None:
    signature = model_dir / "model.sig"
    _ms_sign_key(model_dir, key, signature)
    result = verify_model(model_dir, signature, Trust(keys=(key.public,)))
    assert result.verified, result.problems
    assert result.signer == key.fingerprint
    (model_dir / "model-00001-of-00002.safetensors").write_bytes(b"evil")
    (model_dir / "new.bin").write_bytes(b"x")
    result = verify_model(model_dir, signature, Trust(keys=(key.public,)))
    assert sorted((p.rule.id, p.path) for p in result.problems) == [
        ("BST-INT-002", "model-00001-of-00002.safetensors"),
        ("BST-INT-003", "new.bin"),
    ]


def test_shard_signatures_interoperate(model_dir: Path, key: KeyPair) -> None:
    shard = 2048
    signature = model_dir / "model.sig"
    _ms_sign_key(model_dir, key, signature, shard_size=shard)
    assert verify_model(model_dir, signature, Trust(keys=(key.public,))).verified
    ours = sign_model(
        model_dir,
        KeySigner(key.private),
        model_dir / "ours.sig",
        SignOptions(granularity="shards", shard_size=shard),
    ).signature
    # model_signing 1.1.1 mis-reads shard_size when guessing its config, so give it explicitly.
    hashing = (
        model_signing.hashing.Config()
        .use_shard_serialization(shard_size=shard)
        .set_ignored_paths(paths=["ours.sig", "model.sig"])
    )
    model_signing.verifying.Config().use_elliptic_key_verifier(
        public_key=key.public
    ).set_hashing_config(hashing).verify(model_dir, ours)


def _certificates(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a code-signing leaf (key, cert, ca) written as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bastion test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "release-signer")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_path, cert_path, ca_path = tmp_path / "leaf.pem", tmp_path / "leaf.crt", tmp_path / "ca.crt"
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, ca_path


def test_certificate_mode_both_directions(model_dir: Path, tmp_path: Path) -> None:
    leaf_key, leaf_cert, ca = _certificates(tmp_path)
    signer = CertificateSigner(leaf_key, leaf_cert, (ca,))
    signature = sign_model(model_dir, signer).signature
    model_signing.verifying.Config().use_certificate_verifier(certificate_chain=[ca]).verify(
        model_dir, signature
    )
    result = verify_model(model_dir, signature, Trust(certificate_chain=(ca,)))
    assert result.verified, result.problems
    assert result.mode == "certificate" and "release-signer" in (result.signer or "")
    theirs = model_dir / "theirs.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=leaf_key, signing_certificate=leaf_cert, certificate_chain=[ca]
    ).set_hashing_config(
        model_signing.hashing.Config().set_ignored_paths(paths=["theirs.sig", "model.sig"])
    ).sign(model_dir, theirs)
    assert verify_model(model_dir, theirs, Trust(certificate_chain=(ca,))).verified


def test_certificate_from_another_ca_is_refused(model_dir: Path, tmp_path: Path) -> None:
    leaf_key, leaf_cert, ca = _certificates(tmp_path / "a")
    _, _, other_ca = _certificates(tmp_path / "b")
    signature = sign_model(model_dir, CertificateSigner(leaf_key, leaf_cert, (ca,))).signature
    result = verify_model(model_dir, signature, Trust(certificate_chain=(other_ca,)))
    assert [p.rule.id for p in result.problems] == ["BST-INT-001"]
    assert "certificate chain" in result.problems[0].message


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """Subfolders used by the certificate helpers exist."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir(exist_ok=True)
    return tmp_path
