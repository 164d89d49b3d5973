"""Verifying stored audit logs end to end, and turning breaks into ``BST-GW-018`` findings."""

from __future__ import annotations

from collections.abc import Iterator

from bastion.core import Finding, Location
from bastion.gateway.audit.chain import ChainReport, StoredRecord, verify_chain
from bastion.gateway.audit.checkpoint import CheckpointVerifier, PublicKey
from bastion.gateway.rules import AUDIT_BROKEN
from bastion.gateway.store import GatewayStore


def _records(store: GatewayStore, log_id: str) -> Iterator[StoredRecord]:
    for row in store.iter_audit(log_id):
        yield StoredRecord(row.seq, row.prev_hash, row.hash, row.body)


def verify_log(
    store: GatewayStore, log_id: str, public_keys: tuple[PublicKey, ...] = ()
) -> ChainReport:
    """Verify one log; with ``public_keys`` every checkpoint signature must verify too."""
    return verify_chain(
        log_id, _records(store, log_id), checkpoint_check=CheckpointVerifier(public_keys)
    )


def verify_all(
    store: GatewayStore, public_keys: tuple[PublicKey, ...] = ()
) -> tuple[ChainReport, ...]:
    """Verify every log in the store."""
    return tuple(verify_log(store, log_id, public_keys) for log_id in store.audit_logs())


def findings(report: ChainReport) -> tuple[Finding, ...]:
    """One ``BST-GW-018`` finding per problem in a report."""
    return tuple(
        AUDIT_BROKEN.finding(
            Location(f"audit://{report.log_id}", offset=problem.seq),
            f"audit log {report.log_id!r} record {problem.seq}: {problem.kind}: {problem.detail}",
            evidence=f"{problem.kind}@{problem.seq}",
            properties={"log_id": report.log_id, "seq": problem.seq, "kind": problem.kind},
        )
        for problem in report.problems
    )
