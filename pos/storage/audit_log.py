"""Reading and checking the audit log (SQL only). Rows are appended by the triggers of
migration 0301 (`pos_audit_append`), never from Python."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from pos.db.pool import Executor

GENESIS = bytes(32)


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor_login: str
    actor_role: str
    address: str | None
    action: str
    object_table: str
    operation: str
    object_id: str | None
    row_count: int
    before: Any
    after: Any
    hash: str


@dataclasses.dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops holding, and why, in a sentence."""

    seq: int
    reason: str


@dataclasses.dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    object_table: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None


async def entries(db: Executor, where: AuditFilter, limit: int = 100) -> list[AuditEntry]:
    """Newest first; `before_seq` pages back."""
    rows = await db.fetch(
        """
        SELECT seq, at, actor_login, actor_role, address, action, object_table, operation,
               object_id, row_count, before, after, encode(hash, 'hex')
          FROM audit_log
         WHERE ($1::text IS NULL OR actor_login = $1)
           AND ($2::text IS NULL OR object_table = $2)
           AND ($3::text IS NULL OR object_id = $3)
           AND ($4::timestamptz IS NULL OR at >= $4)
           AND ($5::timestamptz IS NULL OR at < $5)
           AND ($6::bigint IS NULL OR seq < $6)
         ORDER BY seq DESC LIMIT $7
        """, where.actor, where.object_table, where.object_id, where.since, where.until,
        where.before_seq, limit)
    return [AuditEntry(*r) for r in rows]


async def tables_logged(db: Executor) -> list[str]:
    rows = await db.fetch("SELECT DISTINCT object_table FROM audit_log ORDER BY 1")
    return [r[0] for r in rows]


async def verify_chain(db: Executor) -> tuple[int, ChainBreak | None]:
    """How many rows were checked, and the first break (None: the chain holds).

    Each row's stored hash must be the SHA-256 of the previous row's hash and its own
    canonical text (`pos_audit_text`), sequence numbers must run without gaps, and the
    head must name the last row: so an altered, deleted or appended-by-hand row shows."""
    previous_seq, previous_hash, checked = 0, GENESIS, 0
    while True:
        rows = await db.fetch(
            """
            SELECT seq, prev_hash, hash,
                   sha256(prev_hash || convert_to(pos_audit_text(a), 'UTF8')) AS recomputed
              FROM audit_log a WHERE seq > $1 ORDER BY seq LIMIT 5000
            """, previous_seq)
        for row in rows:
            seq = row["seq"]
            if seq != previous_seq + 1:
                return checked, ChainBreak(
                    seq, f"rows {previous_seq + 1} to {seq - 1} are missing.")
            if bytes(row["prev_hash"]) != previous_hash:
                return checked, ChainBreak(
                    seq, f"row {seq} does not carry the hash of row {previous_seq}.")
            if bytes(row["hash"]) != bytes(row["recomputed"]):
                return checked, ChainBreak(seq, f"row {seq} was altered after it was written.")
            previous_seq, previous_hash = seq, bytes(row["hash"])
            checked += 1
        if len(rows) < 5000:
            break
    head = await db.fetchrow("SELECT seq, hash FROM audit_head")
    if head is not None and (head["seq"] != previous_seq or bytes(head["hash"]) != previous_hash):
        return checked, ChainBreak(
            previous_seq + 1,
            f"the log ends at row {previous_seq} but {head['seq']} rows were written.")
    return checked, None
