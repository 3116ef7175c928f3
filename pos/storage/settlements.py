"""Settlement SQL: cutting batches, moving them through their statuses, recording export
digests, and payee accounts (a batch's lines for an export: `pos.storage.settlement_lines`).

Ledger accounts used here (kind 'settle', each transaction within one program):
    merchant_payable/<merchant> -> settlement_batch/<batch>   when a batch is cut
    settlement_batch/<batch>    -> paid_out/<merchant>        when the batch is paid
so a batch account holds its total until it is paid, then nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from pos.db.pool import Connection, Executor
from pos.errors import (
    INVALID_TRANSITION,
    SETTLEMENT_CONFLICT,
    SETTLEMENT_TIMEOUT,
    not_found,
)
from pos.plugin.exporter_types import BatchHeader, Payee
from pos.storage.driver_errors import DuplicateRow, MissingReference, translated

# Settlement runs take this transaction-level advisory lock, so two runs never interleave;
# the (redemption_id, kind) key of settlement_lines is the guarantee behind it.
SETTLEMENT_LOCK = 0x706F735F736574  # "pos_set"

# A run over a million redemptions takes longer than the pool's default statement timeout;
# it is an officer's occasional action, so it may take minutes rather than fail.
RUN_TIMEOUT_SECONDS = 1800.0

# One statement: the batches, their lines and the ledger entries, all or nothing.
# What is due: captured redemptions not yet in a batch, and voids of redemptions already
# in a batch that no batch has adjusted yet; both up to the period end: $6, a local day,
# ends at the next midnight in each program's own time zone; else the moment $2.
_CUT = """
WITH due AS (
    SELECT r.id AS redemption_id, r.merchant_id, r.currency, 'redemption' AS kind,
           r.covered AS amount, r.program_id, r.voucher_id, r.created_at AS occurred_at
      FROM redemptions r JOIN programs p ON p.id = r.program_id
     WHERE r.status = 'captured'
       AND r.created_at <= coalesce(($6::date + 1)::timestamp AT TIME ZONE p.time_zone, $2)
       AND ($3::uuid IS NULL OR r.merchant_id = $3) AND ($4::uuid IS NULL OR r.program_id = $4)
       AND NOT EXISTS (SELECT 1 FROM settlement_lines s
                        WHERE s.redemption_id = r.id AND s.kind = 'redemption')
    UNION ALL
    SELECT r.id, r.merchant_id, r.currency, 'adjustment', -r.covered, r.program_id,
           r.voucher_id, r.voided_at
      FROM redemptions r
      JOIN settlement_lines s ON s.redemption_id = r.id AND s.kind = 'redemption'
      JOIN programs p ON p.id = r.program_id
     WHERE r.status = 'voided'
       AND r.voided_at <= coalesce(($6::date + 1)::timestamp AT TIME ZONE p.time_zone, $2)
       AND ($3::uuid IS NULL OR r.merchant_id = $3) AND ($4::uuid IS NULL OR r.program_id = $4)
       AND NOT EXISTS (SELECT 1 FROM settlement_lines a
                        WHERE a.redemption_id = r.id AND a.kind = 'adjustment')
),
groups AS MATERIALIZED (
    SELECT gen_random_uuid() AS batch_id, merchant_id, currency, count(*) AS line_count,
           coalesce(sum(amount) FILTER (WHERE kind = 'redemption'), 0) AS redemption_total,
           coalesce(sum(amount) FILTER (WHERE kind = 'adjustment'), 0) AS adjustment_total
      FROM due GROUP BY merchant_id, currency
),
batches AS (
    INSERT INTO settlement_batches (id, run_id, merchant_id, program_id, currency, period_end,
                                    line_count, redemption_total, adjustment_total, total,
                                    created_by)
    SELECT batch_id, $1, merchant_id, $4, currency, $2, line_count, redemption_total,
           adjustment_total, redemption_total + adjustment_total, $5
      FROM groups
    RETURNING id
),
lines AS (
    INSERT INTO settlement_lines (batch_id, redemption_id, kind, amount, program_id,
                                  voucher_id, occurred_at)
    SELECT g.batch_id, d.redemption_id, d.kind, d.amount, d.program_id, d.voucher_id,
           d.occurred_at
      FROM due d JOIN groups g USING (merchant_id, currency)
),
per_program AS MATERIALIZED (
    SELECT gen_random_uuid() AS txn_id, g.batch_id, d.merchant_id, d.currency, d.program_id,
           sum(d.amount) AS amount
      FROM due d JOIN groups g USING (merchant_id, currency)
     GROUP BY g.batch_id, d.merchant_id, d.currency, d.program_id
    HAVING sum(d.amount) <> 0
),
ledger AS (
    INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                program_id)
    SELECT p.txn_id, 'settle', leg.account,
           CASE WHEN leg.account = 'settlement_batch' THEN p.batch_id ELSE p.merchant_id END,
           leg.sign * p.amount, p.currency, p.program_id
      FROM per_program p
     CROSS JOIN (VALUES ('merchant_payable', -1), ('settlement_batch', 1)) AS leg(account, sign)
)
SELECT id::text FROM batches
"""


async def cut_batches(
    conn: Connection, *, run_id: str, period_end: datetime, merchant_id: str | None,
    program_id: str | None, actor: str, local_day: date | None = None,
) -> list[str]:
    """Record a run and cut its batches, in one transaction. Returns the new batch ids.
    With `local_day`, the period ends with that day in each program's time zone
    (`period_end` is what the run records)."""
    try:
        with translated():
            async with conn.transaction():
                # Waits for a run in progress, which may take a while on a large period.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", SETTLEMENT_LOCK,
                                   timeout=RUN_TIMEOUT_SECONDS)
                await conn.execute(
                    "INSERT INTO settlement_runs (id, period_end, merchant_id, program_id, "
                    "created_by) VALUES ($1, $2, $3, $4, $5)",
                    run_id, period_end, merchant_id, program_id, actor,
                )
                rows = await conn.fetch(_CUT, run_id, period_end, merchant_id, program_id, actor,
                                        local_day, timeout=RUN_TIMEOUT_SECONDS)
                ids = [r["id"] for r in rows]
                if ids:
                    await conn.executemany(
                        "INSERT INTO settlement_events (batch_id, status, actor) "
                        "VALUES ($1, 'draft', $2)",
                        [(i, actor) for i in ids],
                    )
    except TimeoutError:
        raise SETTLEMENT_TIMEOUT("The settlement run took too long and was rolled back; "
            "nothing was settled. Settle one merchant or program at a time.",
        ) from None
    except DuplicateRow:
        # Only possible if the lock above were bypassed; the key still refuses it.
        raise SETTLEMENT_CONFLICT(
            "Another settlement run settled some of these redemptions; run it again.",
        ) from None
    return ids


async def merchant_exists(db: Executor, merchant_id: str) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM merchants WHERE id = $1", merchant_id))


async def program_zones(db: Executor, program_id: str | None) -> list[str]:
    """The time zones of one program, or of every program."""
    rows = await db.fetch("SELECT DISTINCT time_zone FROM programs "
                          "WHERE $1::uuid IS NULL OR id = $1", program_id)
    return [r["time_zone"] for r in rows]


async def program_exists(db: Executor, program_id: str) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM programs WHERE id = $1", program_id))


_BATCH_VIEW = """
    SELECT b.id::text, b.run_id::text, b.merchant_id::text, m.name AS merchant_name,
           b.program_id::text, b.currency, b.period_end, b.line_count, b.redemption_total,
           b.adjustment_total, b.total, b.status, b.created_by, b.created_at, b.updated_at,
           b.payout_reference,
           (SELECT max(e.created_at) FROM settlement_events e
             WHERE e.batch_id = b.id AND e.status = 'approved') AS approved_at,
           (SELECT count(*) FROM settlement_events e
             WHERE e.batch_id = b.id AND e.status = 'approved')::int AS approvals,
           p.account_name, p.account_id, p.agent_bic, p.agent_id
      FROM settlement_batches b JOIN merchants m ON m.id = b.merchant_id
      LEFT JOIN settlement_payees p ON p.merchant_id = b.merchant_id
"""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _batch_dict(row: asyncpg.Record) -> dict[str, Any]:
    out = {k: _iso(v) for k, v in dict(row).items()}
    out["currency"] = out["currency"].strip()
    payee = {k: out.pop(k) for k in ("account_name", "account_id", "agent_bic", "agent_id")}
    out["payee"] = payee if payee["account_id"] is not None else None
    return out


async def get_batch(db: Executor, batch_id: str) -> dict[str, Any]:
    row = await db.fetchrow(_BATCH_VIEW + " WHERE b.id = $1", batch_id)
    if row is None:
        raise not_found("settlement batch")
    out = _batch_dict(row)
    events = await db.fetch(
        "SELECT status, actor, note, created_at FROM settlement_events "
        "WHERE batch_id = $1 ORDER BY id", batch_id)
    out["history"] = [{k: _iso(v) for k, v in dict(e).items()} for e in events]
    exports = await db.fetch(
        "SELECT format, sha256, bytes, first_exported_at, last_exported_at, times "
        "FROM settlement_exports WHERE batch_id = $1 ORDER BY first_exported_at, format",
        batch_id)
    out["exports"] = [{k: _iso(v) for k, v in dict(e).items()} for e in exports]
    return out


async def list_batches(
    db: Executor, *, run_id: str | None = None, merchant_id: str | None = None,
    status: str | None = None, limit: int = 100,
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        _BATCH_VIEW + """
         WHERE ($1::uuid IS NULL OR b.run_id = $1) AND ($2::uuid IS NULL OR b.merchant_id = $2)
           AND ($3::text IS NULL OR b.status = $3)
         ORDER BY b.created_at DESC, m.name, b.currency LIMIT $4
        """,
        run_id, merchant_id, status, limit,
    )
    return [_batch_dict(r) for r in rows]


_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"draft", "failed"}), "approved"),
    "paid": (frozenset({"approved"}), "paid"),
    "failed": (frozenset({"approved"}), "failed"),
}

# When a batch is paid its total leaves the batch account for the merchant's paid-out one.
_PAY_LEDGER = """
WITH per_program AS MATERIALIZED (
    SELECT gen_random_uuid() AS txn_id, b.id AS batch_id, b.merchant_id, b.currency,
           l.program_id, sum(l.amount) AS amount
      FROM settlement_batches b JOIN settlement_lines l ON l.batch_id = b.id
     WHERE b.id = $1
     GROUP BY b.id, b.merchant_id, b.currency, l.program_id
    HAVING sum(l.amount) <> 0
)
INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency, program_id)
SELECT p.txn_id, 'settle', leg.account,
       CASE WHEN leg.account = 'settlement_batch' THEN p.batch_id ELSE p.merchant_id END,
       leg.sign * p.amount, p.currency, p.program_id
  FROM per_program p
 CROSS JOIN (VALUES ('settlement_batch', -1), ('paid_out', 1)) AS leg(account, sign)
"""


async def lock_batch(conn: Connection, batch_id: str) -> str:
    """Lock the batch row for this transaction; return its status."""
    status = await conn.fetchval(
        "SELECT status FROM settlement_batches WHERE id = $1 FOR UPDATE", batch_id)
    if status is None:
        raise not_found("settlement batch")
    return str(status)


async def transition(
    conn: Connection, batch_id: str, action: str, actor: str, *, note: str | None = None,
    reference: str | None = None,
) -> None:
    """Move a batch on, in the caller's transaction; refuse a move its status does not
    allow (so two officers acting at once cannot both approve or pay it)."""
    allowed, target = _TRANSITIONS[action]
    current = await lock_batch(conn, batch_id)
    if current not in allowed:
        raise INVALID_TRANSITION(
            f"A settlement batch that is {current} cannot be marked {target}.",
            batch_status=current)
    await conn.execute(
        "UPDATE settlement_batches SET status = $2, updated_at = now(), "
        "payout_reference = coalesce($3, payout_reference) WHERE id = $1",
        batch_id, target, reference,
    )
    await conn.execute(
        "INSERT INTO settlement_events (batch_id, status, actor, note) VALUES ($1, $2, $3, $4)",
        batch_id, target, actor, note,
    )
    if target == "paid":
        await conn.execute(_PAY_LEDGER, batch_id)


async def batch_header(db: Executor, batch_id: str) -> BatchHeader:
    row = await db.fetchrow(_BATCH_VIEW + " WHERE b.id = $1", batch_id)
    if row is None:
        raise not_found("settlement batch")
    return _header(row)


async def run_headers(db: Executor, run_id: str) -> list[BatchHeader]:
    """Every batch of a run, by merchant name."""
    if not await db.fetchval("SELECT 1 FROM settlement_runs WHERE id = $1", run_id):
        raise not_found("settlement run")
    rows = await db.fetch(_BATCH_VIEW + " WHERE b.run_id = $1 ORDER BY m.name, b.currency, b.id",
                          run_id)
    return [_header(r) for r in rows]


def _header(row: asyncpg.Record) -> BatchHeader:
    payee = None
    if row["account_id"] is not None:
        payee = Payee(row["account_name"], row["account_id"], row["agent_bic"], row["agent_id"])
    return BatchHeader(
        id=row["id"], run_id=row["run_id"], merchant_id=row["merchant_id"],
        merchant_name=row["merchant_name"], program_id=row["program_id"],
        currency=row["currency"].strip(), period_end=row["period_end"], status=row["status"],
        created_at=row["created_at"], approved_at=row["approved_at"],
        approvals=row["approvals"], line_count=row["line_count"],
        redemption_total=row["redemption_total"], adjustment_total=row["adjustment_total"],
        total=row["total"], payee=payee,
    )


async def record_export(
    db: Executor, batch_id: str, fmt: str, sha256: str, size: int
) -> None:
    await db.execute(
        """
        INSERT INTO settlement_exports (batch_id, format, sha256, bytes)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (batch_id, format, sha256) DO UPDATE
           SET last_exported_at = now(), times = settlement_exports.times + 1
        """,
        batch_id, fmt, sha256, size,
    )


async def set_payee(db: Executor, merchant_id: str, payee: Payee) -> None:
    try:
        with translated():
            await db.execute(
                """
                INSERT INTO settlement_payees (merchant_id, account_name, account_id, agent_bic,
                                               agent_id)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (merchant_id) DO UPDATE
                   SET account_name = excluded.account_name, account_id = excluded.account_id,
                       agent_bic = excluded.agent_bic, agent_id = excluded.agent_id,
                       updated_at = now()
                """,
                merchant_id, payee.account_name, payee.account_id, payee.agent_bic, payee.agent_id,
            )
    except MissingReference:
        raise not_found("merchant") from None
