"""Top-ups and reissues waiting for a second account's confirmation (SQL only)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg

from pos.db.pool import Executor

Kind = Literal["top_up", "reissue"]
Status = Literal["pending", "confirmed", "cancelled"]


@dataclasses.dataclass(frozen=True)
class PendingChange:
    id: str
    kind: Kind
    voucher_id: str
    amount: int
    payload: dict[str, Any]
    requested_by: str
    requested_by_id: str | None
    requested_at: datetime
    status: Status
    decided_by: str | None
    outcome: Any

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"requested_at": self.requested_at.isoformat()}


_COLUMNS = ("id::text, kind, voucher_id::text, amount, payload, requested_by, "
            "requested_by_id::text, requested_at, status, decided_by, outcome")


def _pending(row: asyncpg.Record) -> PendingChange:
    values = list(row)
    values[1] = cast(Kind, values[1])
    return PendingChange(*values)


async def request(db: Executor, kind: Kind, voucher_id: str, amount: int,
                  payload: dict[str, Any], requested_by: str,
                  requested_by_id: str | None) -> PendingChange:
    row = await db.fetchrow(
        f"""
        INSERT INTO pending_confirmations
               (id, kind, voucher_id, amount, payload, requested_by, requested_by_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}
        """,  # noqa: S608 - a constant column list
        uuid.uuid4(), kind, voucher_id, amount, payload, requested_by, requested_by_id)
    assert row is not None
    return _pending(row)


async def get(db: Executor, pending_id: str) -> PendingChange | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM pending_confirmations WHERE id = $1",  # noqa: S608
        pending_id)
    return None if row is None else _pending(row)


async def open_changes(db: Executor, voucher_id: str | None = None) -> list[PendingChange]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM pending_confirmations "  # noqa: S608
        "WHERE status = 'pending' AND ($1::uuid IS NULL OR voucher_id = $1) "
        "ORDER BY requested_at", voucher_id)
    return [_pending(r) for r in rows]


async def decide(db: Executor, pending_id: str, status: Status, decided_by: str,
                 outcome: Any = None) -> bool:
    """Close a pending change once; False when it was already decided."""
    done = await db.execute(
        """
        UPDATE pending_confirmations
           SET status = $2, decided_by = $3, decided_at = now(), outcome = $4
         WHERE id = $1 AND status = 'pending'
        """, pending_id, status, decided_by, outcome)
    return str(done) != "UPDATE 0"


async def reopen(db: Executor, pending_id: str) -> None:
    """Undo a confirmation whose change could not be carried out."""
    await db.execute(
        "UPDATE pending_confirmations SET status = 'pending', decided_by = NULL, "
        "decided_at = NULL WHERE id = $1", pending_id)


async def record_outcome(db: Executor, pending_id: str, outcome: Any) -> None:
    await db.execute(
        "UPDATE pending_confirmations SET outcome = $2 WHERE id = $1", pending_id, outcome)


async def recent_top_ups(db: Executor, voucher_id: str, key: str) -> tuple[bool, int]:
    """(whether a top-up under `key` was already granted, what the voucher was topped up in
    the last day without a second account's confirmation, that one left out)."""
    row = await db.fetchrow(
        """
        SELECT coalesce(bool_or(g.idempotency_key = $2), false),
               coalesce(sum(c.amount) FILTER (
                   WHERE g.idempotency_key <> $2 AND g.idempotency_key NOT LIKE 'confirmed:%'
                     AND g.created_at > now() - interval '1 day'), 0)::bigint
          FROM credit_grants g JOIN credits c ON c.id = g.credit_id
         WHERE g.voucher_id = $1
        """, voucher_id, key)
    assert row is not None
    return bool(row[0]), int(row[1])
