"""Keys (generation, permissions, wrong types) and the manifest cache (reuse and its limits)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bastion.integrity.cache import ManifestCache
from bastion.integrity.errors import KeyFileError
from bastion.integrity.hashing import HashOptions
from bastion.integrity.keys import (
    fingerprint,
    generate_key_pair,
    load_private_key,
    load_public_key,
)
from bastion.integrity.signing import KeySigner, sign_model
from bastion.integrity.verify import Trust, verify_model


def test_keygen_permissions_and_no_overwrite(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "k.pem", curve="p384")
    assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    assert pair.public == tmp_path / "k.pem.pub"
    assert fingerprint(load_public_key(pair.public)) == pair.fingerprint
    assert load_private_key(pair.private).curve.name == "secp384r1"
    before = pair.private.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_key_pair(tmp_path / "k.pem")
    assert pair.private.read_bytes() == before
    again = generate_key_pair(tmp_path / "k.pem", force=True)
    assert again.private.read_bytes() != before
    assert stat.S_IMODE(again.private.stat().st_mode) == 0o600


def test_unsupported_curves(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="Ed25519"):
        generate_key_pair(tmp_path / "k.pem", curve="ed25519")


def test_encrypted_key(tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "k.pem", password=b"correct horse")
    assert b"ENCRYPTED" in pair.private.read_bytes()
    assert load_private_key(pair.private, b"correct horse")
    with pytest.raises(KeyFileError, match="encrypted"):
        load_private_key(pair.private)
    with pytest.raises(KeyFileError, match=r"wrong password|decrypt"):
        load_private_key(pair.private, b"wrong")


def test_wrong_key_types_are_named(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    ed = ed25519.Ed25519PrivateKey.generate()
    ed_path = tmp_path / "ed.pem"
    ed_path.write_bytes(
        ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match=r"ed\.pem: the private key is a Ed25519"):
        load_private_key(ed_path)
    rsa_pub = tmp_path / "rsa.pub"
    rsa_pub.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="RSA key"):
        load_public_key(rsa_pub)
    pair = generate_key_pair(tmp_path / "k.pem")
    with pytest.raises(KeyFileError, match="is a private key"):
        load_public_key(pair.private)
    with pytest.raises(KeyFileError, match="is a public key"):
        load_private_key(pair.public)
    with pytest.raises(KeyFileError, match="not found"):
        load_public_key(tmp_path / "absent.pub")
    with pytest.raises(KeyFileError, match="is a directory"):
        load_public_key(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises(KeyFileError, match="not a PEM"):
        load_public_key(garbage)


def test_cache_reuses_and_still_catches_a_restored_mtime(model_dir: Path, tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "k.pem")
    signature = sign_model(model_dir, KeySigner(pair.private)).signature
    trust = Trust(keys=(pair.public,))
    cache_dir = tmp_path / "cache"

    def run(reuse: bool = True) -> tuple[bool, ManifestCache, int]:
        cache = ManifestCache.for_model(model_dir, cache_dir, reuse=reuse)
        result = verify_model(model_dir, signature, trust, options=HashOptions(cache=cache))
        assert result.local is not None
        return result.verified, cache, result.local.bytes_read

    assert run()[0]
    verified, cache, read = run()
    assert verified and cache.hits == 4 and read == 0
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    shard = model_dir / "model-00001-of-00002.safetensors"
    before = shard.stat()
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    os.utime(shard, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime restored, ctime not
    verified, cache, read = run()
    assert not verified and cache.hits == 3 and read == shard.stat().st_size
    verified, cache, read = run(reuse=False)  # --full: everything read again
    assert not verified and cache.hits == 0 and read > shard.stat().st_size


def test_untrusted_cache_files_are_ignored(model_dir: Path, tmp_path: Path) -> None:
    pair = generate_key_pair(tmp_path / "k.pem")
    signature = sign_model(model_dir, KeySigner(pair.private)).signature
    cache = ManifestCache.for_model(model_dir, tmp_path / "c")
    verify_model(model_dir, signature, Trust(keys=(pair.public,)), options=HashOptions(cache=cache))
    os.chmod(cache.path, 0o666)  # writable by others: could be forged, so never read
    untrusted = ManifestCache(cache.path)
    verify_model(
        model_dir, signature, Trust(keys=(pair.public,)), options=HashOptions(cache=untrusted)
    )
    assert untrusted.hits == 0
    os.chmod(cache.path, 0o600)
    cache.path.write_text("{not json")
    reloaded = ManifestCache(cache.path)
    result = verify_model(
        model_dir, signature, Trust(keys=(pair.public,)), options=HashOptions(cache=reloaded)
    )
    assert result.verified and reloaded.hits == 0
