# ruff: noqa: RUF001
"""Forwarded offline sales in PostgreSQL: booking one (`pos_redeem_offline`, migration
0100), the figures its limits are checked against, and the offline figures reports,
settlement and `pos verify` show.

`pos_redeem_offline` honours the sale for the merchant in full; what the voucher no longer
holds is booked to the program's offline-risk account (`program_offline_risk`), never to
a negative balance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pos.db.pool import Executor
from pos.errors import IDEMPOTENCY_IN_PROGRESS
from pos.messages import words
from pos.storage.driver_errors import LeaseLost, translated
from pos.storage.ledger import Check


async def book(conn: Executor, **params: Any) -> dict[str, Any]:
    """Call `pos_redeem_offline`; returns its outcome document."""
    try:
        with translated():
            outcome = await conn.fetchval(
                """
                SELECT pos_redeem_offline($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                                          $13, $14, $15)
                """,
                params["redemption_id"], params["voucher_id"], params["merchant_id"],
                params["till_id"], params["idem_key"], params["idem_owner"], params["currency"],
                params["basket_total"], params["eligible_total"], params["covered"],
                params["channel"], params["lines"], params["response"],
                params["occurred_at"], params["kit_version"])
    except LeaseLost:
        raise IDEMPOTENCY_IN_PROGRESS(
            "This sale is still being booked. Wait a moment and try again.") from None
    result: dict[str, Any] = outcome
    return result


async def taken_with_kit(conn: Executor, till_id: str, kit_version: int, program_id: str
                         ) -> int:
    """What this till took offline for this program with this kit, so far."""
    total: int = await conn.fetchval(
        "SELECT coalesce(sum(covered), 0)::bigint FROM redemptions WHERE offline "
        "AND till_id = $1 AND kit_version = $2 AND program_id = $3",
        till_id, kit_version, program_id)
    return total


async def sold_on_local_day(conn: Executor, till_id: str, voucher_id: str, at: datetime,
                            timezone: str) -> bool:
    """Whether this till already forwarded an offline sale of this voucher on the local
    day (in the program's time zone) of `at`."""
    found = await conn.fetchval(
        """
        SELECT 1 FROM redemptions
         WHERE offline AND till_id = $1 AND voucher_id = $2
           AND (created_at AT TIME ZONE $4)::date = ($3::timestamptz AT TIME ZONE $4)::date
         LIMIT 1
        """,
        till_id, voucher_id, at, timezone)
    return found is not None


async def shortfall_of(conn: Executor, redemption_id: str) -> int:
    value: int | None = await conn.fetchval(
        "SELECT shortfall FROM redemptions WHERE id = $1", redemption_id)
    return value or 0


async def summary(conn: Executor, program_id: str | None = None) -> list[dict[str, Any]]:
    """Per program and merchant: offline sales, their value, and the shortfalls booked to
    the program's offline-risk account."""
    rows = await conn.fetch(
        """
        SELECT r.program_id::text, p.name AS program_name, r.merchant_id::text,
               m.name AS merchant_name, r.currency, count(*) AS sales,
               sum(r.covered)::bigint AS covered, sum(r.shortfall)::bigint AS shortfall,
               count(*) FILTER (WHERE r.shortfall > 0) AS sales_with_shortfall
          FROM redemptions r
          JOIN programs p ON p.id = r.program_id
          JOIN merchants m ON m.id = r.merchant_id
         WHERE r.offline AND r.status = 'captured' AND ($1::uuid IS NULL OR r.program_id = $1)
         GROUP BY r.program_id, p.name, r.merchant_id, m.name, r.currency
         ORDER BY p.name, m.name
        """,
        program_id)
    return [{**dict(r), "currency": r["currency"].strip()} for r in rows]


async def in_batch(conn: Executor, batch_id: str) -> dict[str, int]:
    """A settlement batch's offline sales: how many, their value, their shortfall."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS sales, coalesce(sum(r.covered), 0)::bigint AS covered,
               coalesce(sum(r.shortfall), 0)::bigint AS shortfall
          FROM settlement_lines s JOIN redemptions r ON r.id = s.redemption_id
         WHERE s.batch_id = $1 AND s.kind = 'redemption' AND r.offline
        """, batch_id)
    assert row is not None
    return dict(row)


async def verify_offline(conn: Executor) -> list[Check]:
    """`pos verify`: each offline sale's shortfall is exactly what its program's
    offline-risk account was charged for it, and no voucher balance is negative."""
    rows = await conn.fetch(
        """
        WITH risk AS (
            SELECT redemption_id, -sum(amount)::bigint AS booked FROM ledger_entries
             WHERE account = 'program_offline_risk' GROUP BY redemption_id
        )
        SELECT r.id::text, r.shortfall, coalesce(k.booked, 0) AS booked
          FROM redemptions r LEFT JOIN risk k ON k.redemption_id = r.id
         WHERE (r.offline OR k.booked IS NOT NULL) AND r.shortfall <> coalesce(k.booked, 0)
         LIMIT 50
        """)
    count = await conn.fetchval("SELECT count(*) FROM redemptions WHERE offline")
    checks = [Check(
        "every offline shortfall is booked to its program's offline-risk account", count,
        [words("收券 {redemption}：差额 {shortfall}，已记入 {booked}",
               "redemption {redemption}: shortfall {shortfall}, booked {booked}",
               redemption=r["id"], shortfall=r["shortfall"], booked=r["booked"])
         for r in rows])]
    rows = await conn.fetch(
        """
        SELECT account_id::text AS voucher_id, sum(amount)::bigint AS balance
          FROM ledger_entries WHERE account = 'voucher'
         GROUP BY account_id HAVING sum(amount) < 0 LIMIT 50
        """)
    count = await conn.fetchval("SELECT count(*) FROM vouchers")
    checks.append(Check(
        "no voucher balance is negative", count,
        [words("券 {voucher}：余额 {balance}", "voucher {voucher}: balance {balance}",
               voucher=r["voucher_id"], balance=r["balance"]) for r in rows]))
    return checks
