"""Sales paid by several vouchers (migration 0500): locking the vouchers, recording the sale
and its parts, voiding it, reading it back.

A sale is one transaction. `locked_vouchers` opens it and locks every voucher row in
voucher-id order (so two tills naming the same vouchers in any order never deadlock) and
reads what can change under concurrency; the caller then writes each part with
`pos.storage.redemptions.redeem_in` (the PL/pgSQL function `pos_redeem`, migration 0002,
which locks the same row again, harmlessly) and finishes with `record_sale`, which stores
the sale and its answer under the idempotency key. `void_sale` calls `pos_void` for every
part, in the same order, in one transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Connection, Executor
from pos.errors import IDEMPOTENCY_IN_PROGRESS, not_found
from pos.storage import payment_journal
from pos.storage.driver_errors import LeaseLost, translated
from pos.storage.redemptions import Voided, VoidRefusal, void_in

_NOW_COLUMNS = """
    SELECT v.id::text AS voucher_id, v.status, v.token_iat, v.uses_left,
           coalesce(l.available, 0)::bigint AS available,
           coalesce(l.expires_at, 'infinity'::timestamptz) AS expires_at
      FROM vouchers v
      LEFT JOIN LATERAL (
           SELECT sum(remaining) AS available, min(valid_until) AS expires_at
             FROM credits c
            WHERE c.voucher_id = v.id AND c.remaining > 0
              AND c.valid_from <= now() AND c.valid_until > now()) AS l ON true
     WHERE v.id = ANY($1::uuid[])
     ORDER BY v.id
"""
_READ_NOW = _NOW_COLUMNS
# Locked first, read after: a row lock that waited re-reads only the locked row, so the
# credits must be read by a later statement (a fresh snapshot) to see the other sale's
# changes.
_LOCK = "SELECT id FROM vouchers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"


@dataclasses.dataclass(frozen=True)
class VoucherNow:
    """What may change under concurrency, read together (and, to redeem, locked)."""

    voucher_id: str
    status: str
    token_iat: int
    uses_left: int | None
    available: int  # live credits now
    expires_at: datetime  # when the first live credit expires ('infinity' if none)

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> VoucherNow:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


async def read_now(db: Executor, voucher_ids: Sequence[str]) -> dict[str, VoucherNow]:
    """The vouchers' balances and first expiry, unlocked (a quote)."""
    rows = await db.fetch(_READ_NOW, list(voucher_ids))
    return {r["voucher_id"]: VoucherNow.from_row(r) for r in rows}


@asynccontextmanager
async def locked_vouchers(
    pool: asyncpg.Pool[Any], voucher_ids: Sequence[str]
) -> AsyncIterator[tuple[Connection, dict[str, VoucherNow]]]:
    """A transaction holding every voucher's row lock, in voucher-id order. Anything raised
    inside rolls everything back; driver errors come out as the service's own."""
    try:
        with translated():
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(_LOCK, sorted(voucher_ids))
                rows = await conn.fetch(_READ_NOW, sorted(voucher_ids))
                yield conn, {r["voucher_id"]: VoucherNow.from_row(r) for r in rows}
    except LeaseLost:
        raise IDEMPOTENCY_IN_PROGRESS(
            "This payment is still being processed. Wait a moment and try again.") from None


@dataclasses.dataclass(frozen=True)
class SalePart:
    position: int  # scan order, from 1
    voucher_id: str
    redemption_id: str | None  # None: the basket did not need this voucher
    amount: int


@dataclasses.dataclass(frozen=True)
class NewSale:
    sale_id: str
    merchant_id: str
    till_id: str
    currency: str
    basket_total: int
    covered: int
    channel: str
    lead_redemption_id: str
    parts: Sequence[SalePart]
    line_parts: Sequence[tuple[int, str, int]]  # (line_no, voucher_id, amount > 0)
    answer: dict[str, Any]
    idem_key: str
    idem_owner: str


async def record_sale(conn: Connection, sale: NewSale) -> None:
    """In the sale's transaction, after its parts: the sale, who paid which line, and the
    answer stored under the idempotency key (replacing the last part's)."""
    await conn.execute(
        """
        INSERT INTO sales (id, merchant_id, till_id, currency, basket_total, covered,
                           remainder, channel, lead_redemption_id, answer)
        VALUES ($1, $2, $3, $4, $5, $6, $5::bigint - $6::bigint, $7, $8, $9)
        """,
        sale.sale_id, sale.merchant_id, sale.till_id, sale.currency, sale.basket_total,
        sale.covered, sale.channel, sale.lead_redemption_id, sale.answer)
    await conn.executemany(
        "INSERT INTO sale_parts (sale_id, position, voucher_id, redemption_id, amount) "
        "VALUES ($1, $2, $3, $4, $5)",
        [(sale.sale_id, p.position, p.voucher_id, p.redemption_id, p.amount)
         for p in sale.parts])
    await conn.executemany(
        "INSERT INTO sale_line_parts (sale_id, line_no, voucher_id, amount) "
        "VALUES ($1, $2, $3, $4)",
        [(sale.sale_id, line_no, voucher_id, amount)
         for line_no, voucher_id, amount in sale.line_parts])
    stored = await conn.fetchval(
        "UPDATE idempotency_keys SET response_body = $4 "
        "WHERE till_id = $1 AND key = $2 AND owner = $3 RETURNING 1",
        sale.till_id, sale.idem_key, sale.idem_owner, sale.answer)
    if stored is None:  # pos_redeem checked the lease a moment ago, under the same lock
        raise LeaseLost("PV001")


async def sale_of(db: Executor, some_id: str) -> str | None:
    """The sale `some_id` names: the sale itself or one of its parts' redemptions."""
    found: str | None = await db.fetchval(
        "SELECT id::text FROM sales WHERE id = $1 UNION ALL "
        "SELECT sale_id::text FROM sale_parts WHERE redemption_id = $1 LIMIT 1",
        some_id)
    return found


class _Refused(Exception):
    def __init__(self, refusal: VoidRefusal) -> None:
        self.refusal = refusal


async def void_sale(
    pool: asyncpg.Pool[Any], sale_id: str, merchant_id: str, till_id: str,
    window_minutes: int, idem_key: str, idem_owner: str,
) -> Voided | VoidRefusal:
    """Void every part (`pos_void`, in voucher-id order) and the sale, in one transaction;
    the remainder's channel payment, bound to the lead part, is marked to be refunded."""
    try:
        with translated():
            async with pool.acquire() as conn, conn.transaction():
                return await _void_parts(conn, sale_id, merchant_id, till_id,
                                         window_minutes, idem_key, idem_owner)
    except _Refused as refused:
        return refused.refusal
    except LeaseLost:
        raise IDEMPOTENCY_IN_PROGRESS(
            "This void is still being processed. Wait a moment and try again.") from None


async def _void_parts(
    conn: Connection, sale_id: str, merchant_id: str, till_id: str, window_minutes: int,
    idem_key: str, idem_owner: str,
) -> Voided:
    sale = await conn.fetchrow(
        "SELECT * FROM sales WHERE id = $1 AND merchant_id = $2", sale_id, merchant_id)
    if sale is None:
        raise _Refused(VoidRefusal.NOT_FOUND)
    parts = await conn.fetch(
        "SELECT position, voucher_id::text, redemption_id::text, amount FROM sale_parts "
        "WHERE sale_id = $1 AND redemption_id IS NOT NULL ORDER BY voucher_id", sale_id)
    vouchers = []
    for part in parts:
        outcome = await void_in(conn, part["redemption_id"], merchant_id, till_id,
                                window_minutes, idem_key, idem_owner)
        if isinstance(outcome, VoidRefusal):
            raise _Refused(outcome)  # the first part refuses for all: nothing is written
        vouchers.append({"position": part["position"], "voucher_id": part["voucher_id"],
                         "redemption_id": part["redemption_id"], "restored": part["amount"],
                         "balance_after": outcome["balance_after"],
                         "uses_left": outcome["uses_left"]})
    vouchers.sort(key=lambda v: v["position"])
    await conn.execute(
        "UPDATE sales SET status = 'voided', voided_at = now() WHERE id = $1", sale_id)
    payment = await payment_journal.refund_on_void(conn, str(sale["lead_redemption_id"]))
    answer = {"id": sale_id, "status": "voided", "restored": sale["covered"],
              "currency": sale["currency"].strip(), "vouchers": vouchers}
    await conn.execute(
        "UPDATE idempotency_keys SET response_body = $4 "
        "WHERE till_id = $1 AND key = $2 AND owner = $3", till_id, idem_key, idem_owner,
        answer)
    return Voided(answer, sale["channel"], int(sale["remainder"]), payment)


async def get_sale(db: Executor, sale_id: str, merchant_id: str | None) -> dict[str, Any]:
    """A sale as first answered, with its status now; a till sees only its merchant's."""
    row = await db.fetchrow(
        "SELECT answer, status, voided_at FROM sales "
        "WHERE id = $1 AND ($2::uuid IS NULL OR merchant_id = $2::uuid)",
        sale_id, merchant_id)
    if row is None:
        raise not_found("redemption")
    out: dict[str, Any] = dict(row["answer"])
    out["status"] = row["status"]
    out["voided_at"] = None if row["voided_at"] is None else row["voided_at"].isoformat()
    return out
