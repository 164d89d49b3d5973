"""The audit chain detects an edited, deleted or reordered record, in SQLite and in the real
PostgreSQL on this machine; signed checkpoints verify only with the right key."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from bastion.cli.app import app as cli
from bastion.gateway.audit.checkpoint import CheckpointSigner
from bastion.gateway.audit.verify import findings, verify_log
from bastion.gateway.audit.writer import AuditWriter
from bastion.gateway.store import GatewayStore, audit_log
from bastion.store import Store, open_store
from tests.gateway.helpers import write_config

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _sqlite(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    yield store
    store.dispose()


def _postgres() -> Iterator[Store]:
    store = open_store(PG_URL, schema="bsttest_" + secrets.token_hex(6))
    try:
        yield store
    finally:
        store.drop_schema()
        store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GatewayStore]:
    gen = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    raw = next(gen)
    gateway_store = GatewayStore(raw)
    gateway_store.create()
    yield gateway_store
    for _ in gen:
        pass


def _fill(store: GatewayStore, signer: CheckpointSigner | None = None, n: int = 12) -> None:
    writer = AuditWriter(store, "gw", signer=signer, checkpoint_every=5)
    writer.start()
    try:
        for i in range(n):
            writer.append_sync(
                {
                    "kind": "request",
                    "action": "inference.request",
                    "request_id": f"r{i}",
                    "status": 200,
                }
            )
    finally:
        writer.stop()


def _kinds(store: GatewayStore) -> set[str]:
    return {p.kind for p in verify_log(store, "gw").problems}


def test_intact_chain_verifies(store: GatewayStore) -> None:
    _fill(store)
    report = verify_log(store, "gw")
    assert report.ok and report.records == 12 and report.head_seq == 12


def test_edited_record_is_detected(store: GatewayStore) -> None:
    _fill(store)
    with store.store.connect() as conn:
        body = conn.execute(select(audit_log.c.body).where(audit_log.c.seq == 5)).scalar_one()
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == 5)
            .values(body=body.replace('"status":200', '"status":403'))
        )
    report = verify_log(store, "gw")
    assert not report.ok
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "edited")]
    assert findings(report)[0].rule_id == "BST-GW-018"


def test_edited_record_with_recomputed_hash_breaks_the_next_link(store: GatewayStore) -> None:
    from bastion.gateway.audit.chain import link

    _fill(store)
    with store.store.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.seq == 5)).one()
        body = row.body.replace('"status":200', '"status":403')
        conn.execute(
            update(audit_log)
            .where(audit_log.c.seq == 5)
            .values(body=body, hash=link(row.prev_hash, body))
        )
    assert "broken-link" in _kinds(store)


def test_deleted_record_is_detected(store: GatewayStore) -> None:
    _fill(store)
    with store.store.connect() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 7))
    kinds = _kinds(store)
    assert "deleted" in kinds and "broken-link" in kinds


def test_reordered_records_are_detected(store: GatewayStore) -> None:
    _fill(store)
    with store.store.connect() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=1000))
        conn.execute(update(audit_log).where(audit_log.c.seq == 4).values(seq=3))
        conn.execute(update(audit_log).where(audit_log.c.seq == 1000).values(seq=4))
    assert not verify_log(store, "gw").ok
    assert _kinds(store) & {"broken-link", "edited"}


def test_checkpoints_need_the_trusted_key(store: GatewayStore) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    _fill(store, CheckpointSigner(key))
    report = verify_log(store, "gw", (key.public_key(),))
    assert report.ok and report.checkpoints >= 2
    assert report.checkpoints_verified == report.checkpoints
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    wrong = verify_log(store, "gw", (other,))
    assert not wrong.ok and {p.kind for p in wrong.problems} == {"checkpoint"}


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "audit.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = write_config(
        tmp_path / "gateway.toml",
        {"instance": "gw", "store": f"sqlite:///{tmp_path / 'a.db'}"},
        [],
        tables={"audit": {"checkpoint_key": str(pem)}},
    )
    store = GatewayStore(open_store(f"sqlite:///{tmp_path / 'a.db'}"))
    store.create()
    _fill(store, CheckpointSigner(key))
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "gw: OK" in ok.output
    tail = runner.invoke(
        cli, ["audit", "tail", "--config", str(config), "--format", "cef", "-n", "3"]
    )
    assert tail.exit_code == 0 and tail.output.count("CEF:0|bastion|gateway|") == 3
    with store.store.connect() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    broken = runner.invoke(cli, ["audit", "verify", "--config", str(config)])
    assert broken.exit_code == 1
    assert "BST-GW-018" in broken.output
