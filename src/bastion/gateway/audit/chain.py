"""The hash chain: canonical JSON records, each carrying the hash of the one before it.

``hash_i = SHA-256(bytes(prev_hash_i) || canonical(body_i))`` where the body contains ``log_id``,
``seq`` and ``prev_hash`` itself; ``prev_hash_1`` is the genesis ``SHA-256("bastion-audit:" +
log_id)``. Any edit, deletion, insertion or reordering breaks the chain at that ``seq``; truncating
the tail is caught by the signed checkpoints (see :mod:`bastion.gateway.audit.checkpoint`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS_PREFIX = b"bastion-audit:"


def genesis(log_id: str) -> str:
    """The fixed ``prev_hash`` of a log's first record."""
    return hashlib.sha256(GENESIS_PREFIX + log_id.encode("utf-8")).hexdigest()


def canonical(data: dict[str, Any]) -> str:
    """Sorted-key compact JSON (UTF-8, no NaN): the exact text that is hashed and stored."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def link(prev_hash: str, body: str) -> str:
    """The hash of a record whose canonical body is ``body``."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """One place the chain does not hold."""

    seq: int
    kind: str
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying one log."""

    log_id: str
    records: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...]
    checkpoints: int
    checkpoints_verified: int

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


@dataclass(frozen=True)
class StoredRecord:
    """The columns verification reads from a stored row."""

    seq: int
    prev_hash: str
    hash: str
    body: str


def verify_chain(
    log_id: str,
    rows: Iterable[StoredRecord],
    *,
    checkpoint_check: Any = None,
) -> ChainReport:
    """Recompute the chain of one log from genesis and report every break.

    ``checkpoint_check(body, head_hash_at_seq) -> str | None`` verifies a checkpoint record's
    signature against the recomputed head (returns a problem or ``None``).
    """
    problems: list[ChainProblem] = []
    expected_prev = genesis(log_id)
    expected_seq = 1
    count = 0
    checkpoints = verified = 0
    heads: dict[int, str] = {}
    last_hash = expected_prev
    last_seq = 0
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            kind = "deleted" if row.seq > expected_seq else "reordered"
            problems.append(
                ChainProblem(row.seq, kind, f"expected seq {expected_seq}, found {row.seq}")
            )
        if row.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    row.seq, "broken-link", "prev_hash does not match the previous record's hash"
                )
            )
        recomputed = link(row.prev_hash, row.body)
        if recomputed != row.hash:
            problems.append(
                ChainProblem(row.seq, "edited", "record hash does not match its content")
            )
        try:
            data = json.loads(row.body)
        except ValueError:
            data = None
            problems.append(ChainProblem(row.seq, "edited", "body is not JSON"))
        if isinstance(data, dict):
            if data.get("seq") != row.seq or data.get("prev_hash") != row.prev_hash:
                problems.append(
                    ChainProblem(
                        row.seq, "edited", "seq or prev_hash columns differ from the hashed body"
                    )
                )
            if data.get("log_id") != log_id:
                problems.append(ChainProblem(row.seq, "edited", "record names another log"))
            if data.get("kind") == "checkpoint" and checkpoint_check is not None:
                checkpoints += 1
                cp = data.get("checkpoint", {})
                at = cp.get("seq") if isinstance(cp, dict) else None
                head = heads.get(at) if isinstance(at, int) else None
                issue = checkpoint_check(data, head)
                if issue is None:
                    verified += 1
                else:
                    problems.append(ChainProblem(row.seq, "checkpoint", issue))
        heads[row.seq] = row.hash
        expected_prev = row.hash
        expected_seq = row.seq + 1
        last_hash, last_seq = row.hash, row.seq
    return ChainReport(
        log_id=log_id,
        records=count,
        head_seq=last_seq,
        head_hash=last_hash,
        problems=tuple(problems),
        checkpoints=checkpoints,
        checkpoints_verified=verified,
    )
