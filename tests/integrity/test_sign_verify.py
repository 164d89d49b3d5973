"""Sign → verify round trips and every kind of tampering, each detected and named."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from bastion.integrity import rules
from bastion.integrity.errors import ModelPathError, SignatureFormatError
from bastion.integrity.keys import KeyPair
from bastion.integrity.signing import KeySigner, SignOptions, sign_model
from bastion.integrity.verify import Trust, VerificationResult, verify_model


def _sign(model: Path, key: KeyPair, **options: object) -> Path:
    return sign_model(model, KeySigner(key.private), options=SignOptions(**options)).signature  # type: ignore[arg-type]


def _verify(model: Path, signature: Path, key: KeyPair) -> VerificationResult:
    return verify_model(model, signature, Trust(keys=(key.public,)))


def _by_rule(result: VerificationResult) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in result.problems:
        found.setdefault(problem.rule.id, []).append(problem.path)
    return found


def test_round_trip_folder(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)
    assert signature == model_dir / "model.sig"
    result = _verify(model_dir, signature, key)
    assert result.verified, result.problems
    assert result.signer == key.fingerprint
    assert result.local is not None and result.local.files == 4
    assert result.model_digest == f"sha256:{result.signed.root_digest}"  # type: ignore[union-attr]


def test_round_trip_single_file(tmp_path: Path, key: KeyPair) -> None:
    model = tmp_path / "model.safetensors"
    model.write_bytes(os.urandom(1000))
    signature = _sign(model, key)
    assert signature == tmp_path / "model.safetensors.sig"
    assert _verify(model, signature, key).verified
    model.write_bytes(os.urandom(1000))
    result = _verify(model, signature, key)
    assert _by_rule(result) == {"BST-INT-002": ["model.safetensors"]}


def test_byte_flip_is_named(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)
    shard = model_dir / "model-00002-of-00002.safetensors"
    data = bytearray(shard.read_bytes())
    data[1234] ^= 0x01
    shard.write_bytes(bytes(data))
    result = _verify(model_dir, signature, key)
    assert not result.verified
    assert _by_rule(result) == {"BST-INT-002": ["model-00002-of-00002.safetensors"]}
    assert "content differs" in result.problems[0].message


def test_truncation_is_named_with_sizes(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)
    shard = model_dir / "model-00001-of-00002.safetensors"
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[:100])
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {"BST-INT-002": ["model-00001-of-00002.safetensors"]}
    assert f"truncated: {size:,} → 100 bytes" in result.problems[0].message


def test_added_removed_renamed(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)
    (model_dir / "extra.pkl").write_bytes(b"\x80\x04N.")
    (model_dir / "config.json").unlink()
    (model_dir / "tokenizer" / "vocab.txt").rename(model_dir / "tokenizer" / "vocab2.txt")
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {
        "BST-INT-004": ["config.json", "tokenizer/vocab.txt"],
        "BST-INT-003": ["extra.pkl", "tokenizer/vocab2.txt"],
    }
    renamed = next(p for p in result.problems if p.path == "tokenizer/vocab2.txt")
    assert "renamed?" in renamed.message and "tokenizer/vocab.txt" in renamed.message


def test_symlink_swapped_in_for_a_signed_file(
    model_dir: Path, key: KeyPair, tmp_path: Path
) -> None:
    signature = _sign(model_dir, key)
    target = tmp_path / "evil.safetensors"
    shard = model_dir / "model-00001-of-00002.safetensors"
    target.write_bytes(shard.read_bytes())  # even the same bytes: a link is not the signed file
    shard.unlink()
    shard.symlink_to(target)
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {"BST-INT-005": ["model-00001-of-00002.safetensors"]}
    assert "swapped in" in result.problems[0].message


def test_links_inside_allowed_only_when_signed_so_and_never_outside(
    model_dir: Path, key: KeyPair, tmp_path: Path
) -> None:
    (model_dir / "alias.json").symlink_to("config.json")
    with pytest.raises(ModelPathError, match=r"alias\.json"):
        _sign(model_dir, key)
    signature = _sign(model_dir, key, allow_symlinks=True)
    assert _verify(model_dir, signature, key).verified
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    (model_dir / "escape.bin").symlink_to(outside)
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {"BST-INT-005": ["escape.bin"]}
    assert "escapes the folder" in result.problems[0].message


def test_fifo_is_never_opened(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)
    os.mkfifo(model_dir / "pipe")
    result = _verify(model_dir, signature, key)  # would hang if the FIFO were opened
    assert _by_rule(result) == {"BST-INT-007": ["pipe"]}


def test_unreadable_file_fails_verification(
    model_dir: Path, key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    signature = _sign(model_dir, key)
    from bastion.integrity import _engine

    real_open = os.open

    def deny(path: str, flags: int, *args: int) -> int:
        if str(path).endswith("vocab.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(_engine.os, "open", deny)
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {"BST-INT-007": ["tokenizer/vocab.txt"]}
    assert "Permission denied" in result.problems[0].message


def test_untrusted_key_and_corrupted_signatures(
    model_dir: Path, key: KeyPair, other_key: KeyPair
) -> None:
    signature = _sign(model_dir, key)
    result = _verify(model_dir, signature, other_key)
    assert _by_rule(result) == {"BST-INT-001": [str(signature)]}
    assert result.local is None  # nothing was trusted, nothing hashed
    bundle = json.loads(signature.read_text())
    variants = {
        "truncated": signature.read_text()[:200],
        "not json": "\x00\x01garbage",
        "media type": json.dumps({**bundle, "mediaType": "x"}),
        "sig flipped": json.dumps(_flip_signature(bundle)),
        "payload swapped": json.dumps(_swap_payload(bundle)),
        "two signatures": json.dumps(_two_signatures(bundle)),
    }
    for name, text in variants.items():
        bad = model_dir.parent / f"bad-{name.replace(' ', '-')}.sig"
        bad.write_text(text)
        outcome = _verify(model_dir, bad, key)
        assert not outcome.verified, name
        assert _by_rule(outcome) == {"BST-INT-001": [str(bad)]}, name


def _flip_signature(bundle: dict[str, object]) -> dict[str, object]:
    envelope = dict(bundle["dsseEnvelope"])  # type: ignore[call-overload]
    raw = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    raw[-1] ^= 0x01
    envelope["signatures"] = [{"sig": base64.b64encode(bytes(raw)).decode(), "keyid": ""}]
    return {**bundle, "dsseEnvelope": envelope}


def _swap_payload(bundle: dict[str, object]) -> dict[str, object]:
    envelope = dict(bundle["dsseEnvelope"])  # type: ignore[call-overload]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return {**bundle, "dsseEnvelope": envelope}


def _two_signatures(bundle: dict[str, object]) -> dict[str, object]:
    envelope = dict(bundle["dsseEnvelope"])  # type: ignore[call-overload]
    envelope["signatures"] = envelope["signatures"] * 2
    return {**bundle, "dsseEnvelope": envelope}


def test_missing_signature_file_is_an_error(model_dir: Path, key: KeyPair) -> None:
    with pytest.raises(SignatureFormatError, match="not found"):
        _verify(model_dir, model_dir / "nope.sig", key)


def _resign(signature: Path, key: KeyPair, edit: object) -> Path:
    """Re-sign an edited statement with the trusted key: a hostile but trusted signer."""
    from bastion.integrity._bundle import read_bundle, sign_statement
    from bastion.integrity.keys import load_private_key

    statement = read_bundle(signature).statement()
    edit(statement)  # type: ignore[operator]
    out = signature.with_name("hostile.sig")
    out.write_text(sign_statement(statement, load_private_key(key.private)))
    return out


@pytest.mark.parametrize(
    ("name", "rule"),
    [("../../etc/passwd", "BST-INT-006"), ("/etc/passwd", "BST-INT-006"), ("a/./b", "BST-INT-006")],
)
def test_unsafe_manifest_paths_are_rejected(
    model_dir: Path, key: KeyPair, name: str, rule: str
) -> None:
    signature = _sign(model_dir, key)

    def edit(statement: dict) -> None:  # type: ignore[type-arg]
        statement["predicate"]["resources"][0]["name"] = name
        _fix_subject(statement)

    result = _verify(model_dir, _resign(signature, key, edit), key)
    assert _by_rule(result) == {rule: [str(model_dir / "hostile.sig")]}
    assert result.local is None


def test_ignore_path_dot_cannot_hide_everything(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)

    def edit(statement: dict) -> None:  # type: ignore[type-arg]
        statement["predicate"]["serialization"]["ignore_paths"] = ["."]
        statement["predicate"]["resources"] = []
        _fix_subject(statement)

    result = _verify(model_dir, _resign(signature, key, edit), key)
    assert [p.rule.id for p in result.problems] == ["BST-INT-006"]


def _fix_subject(statement: dict) -> None:  # type: ignore[type-arg]
    import hashlib

    from bastion.integrity.manifest import Resource

    resources = [
        Resource(r["name"], r["algorithm"], r["digest"])
        for r in statement["predicate"]["resources"]
    ]
    hasher = hashlib.sha256()
    for resource in sorted(resources, key=Resource.sort_key):
        hasher.update(bytes.fromhex(resource.digest))
    statement["subject"][0]["digest"]["sha256"] = hasher.hexdigest()


def test_inconsistent_subject_digest_is_rejected(model_dir: Path, key: KeyPair) -> None:
    signature = _sign(model_dir, key)

    def edit(statement: dict) -> None:  # type: ignore[type-arg]
        statement["subject"][0]["digest"]["sha256"] = "11" * 32

    result = _verify(model_dir, _resign(signature, key, edit), key)
    assert [p.rule.id for p in result.problems] == ["BST-INT-001"]
    assert "inconsistent manifest" in result.problems[0].message


def test_ignores_are_recorded_and_honoured(model_dir: Path, key: KeyPair) -> None:
    (model_dir / "train.log").write_text("epoch 1")
    (model_dir / "__pycache__").mkdir()
    (model_dir / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    (model_dir / ".git").mkdir()
    (model_dir / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = sign_model(model_dir, KeySigner(key.private), options=SignOptions(ignore=("*.log",)))
    recorded = result.manifest.serialization.ignore_paths
    assert {"train.log", "__pycache__", ".git", "model.sig", "model.att.json"} <= set(recorded)
    assert "*.log" in result.manifest.ignore_patterns
    assert result.files == 4
    (model_dir / "other.log").write_text("later")  # matches a signed pattern: still ignored
    assert _verify(model_dir, result.signature, key).verified


def test_signature_written_elsewhere_inside_the_folder_is_ignored(
    model_dir: Path, key: KeyPair
) -> None:
    out = model_dir / "sigs" / "release.sig"
    out.parent.mkdir()
    result = sign_model(model_dir, KeySigner(key.private), out)
    assert "sigs/release.sig" in result.manifest.serialization.ignore_paths
    assert _verify(model_dir, out, key).verified


def test_shard_granularity_round_trip(model_dir: Path, key: KeyPair) -> None:
    (model_dir / "empty.txt").write_bytes(b"")
    signature = _sign(model_dir, key, granularity="shards", shard_size=1024 * 1024)
    statement = json.loads(
        base64.b64decode(json.loads(signature.read_text())["dsseEnvelope"]["payload"])
    )
    names = [r["name"] for r in statement["predicate"]["resources"]]
    size = (model_dir / "model-00001-of-00002.safetensors").stat().st_size
    assert f"model-00001-of-00002.safetensors:0:{size}" in names
    assert _verify(model_dir, signature, key).verified
    (model_dir / "empty.txt").unlink()  # shard manifests list no empty file; sizes still do
    result = _verify(model_dir, signature, key)
    assert _by_rule(result) == {"BST-INT-004": ["empty.txt"]}


def test_small_shards_split_one_file(tmp_path: Path, key: KeyPair) -> None:
    from bastion.integrity.hashing import hash_model
    from bastion.integrity.manifest import Serialization

    model = tmp_path / "big.bin"
    model.write_bytes(os.urandom(5 * 1024 * 1024 + 7))
    serialization = Serialization(method="shards", shard_size=2 * 1024 * 1024)
    local = hash_model(model, serialization)
    spans = [r.span for r in local.manifest.resources]
    assert spans == [(0, 2097152), (2097152, 4194304), (4194304, 5242887)]


def test_model_missing_is_an_error(tmp_path: Path, key: KeyPair) -> None:
    with pytest.raises(ModelPathError, match="no such file"):
        _sign(tmp_path / "absent", key)


def test_rules_are_registered() -> None:
    from bastion.registry import default_registry

    registry = default_registry()
    for rule in rules.RULES:
        assert registry.rule(rule.id) == rule
        assert rule.description and rule.remediation and rule.references.cwe
