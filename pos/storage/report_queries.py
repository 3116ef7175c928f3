"""Report SQL for one program: totals, by category, merchant and month, unused vouchers.

Reports only read, so they may run against a read replica. Money stays integer minor
units; averages are rounded half up in integer arithmetic.

Category figures split each redemption's covered amount over its *eligible* lines in
proportion to their totals (largest remainder, so the parts add up to the covered amount
exactly). Ineligible lines were paid another way and never count; the voucher paid for
eligible lines only, and where it paid part of them (a per-visit cap), each category
carries its share. A part of a sale paid by several vouchers counts exactly what its
voucher paid of each line (`sale_line_parts`).
"""

from __future__ import annotations

from typing import Any

from pos.db.pool import Executor


async def totals(db: Executor, program_id: str) -> dict[str, int]:
    row = await db.fetchrow(
        """
        WITH v AS (SELECT id FROM vouchers WHERE program_id = $1),
        c AS (
            SELECT coalesce(sum(amount), 0)::bigint AS issued,
                   coalesce(sum(remaining), 0)::bigint AS remaining
              FROM credits WHERE voucher_id IN (SELECT id FROM v)
        ),
        r AS (
            SELECT count(*) FILTER (WHERE status = 'captured') AS redemptions,
                   coalesce(sum(covered) FILTER (WHERE status = 'captured'), 0)::bigint
                       AS redeemed,
                   count(*) FILTER (WHERE status = 'voided') AS voids,
                   coalesce(sum(covered) FILTER (WHERE status = 'voided'), 0)::bigint AS voided,
                   coalesce(sum(basket_total) FILTER (WHERE status = 'captured'), 0)::bigint
                       AS baskets
              FROM redemptions WHERE program_id = $1
        ),
        e AS (
            SELECT coalesce(sum(amount), 0)::bigint AS expired FROM ledger_entries
             WHERE program_id = $1 AND account = 'program_expired'
        )
        SELECT (SELECT count(*) FROM v) AS vouchers, c.issued, c.remaining, r.redemptions,
               r.redeemed, r.voids, r.voided, r.baskets, e.expired,
               (SELECT count(*) FROM vouchers vv WHERE vv.program_id = $1 AND NOT EXISTS (
                    SELECT 1 FROM redemptions x
                     WHERE x.voucher_id = vv.id AND x.status = 'captured')) AS unused
          FROM c, r, e
        """,
        program_id,
    )
    assert row is not None
    return {k: int(v) for k, v in dict(row).items()}


async def by_category(db: Executor, program_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        WITH lines AS (
            -- A part of a sale paid by several vouchers (migration 0500) weighs each
            -- line by what this voucher paid of it, so the split is exact.
            SELECT r.id, r.covered, l.line_no, l.category,
                   coalesce(slp.amount, l.line_total) AS line_total,
                   sum(coalesce(slp.amount, l.line_total)) OVER (PARTITION BY r.id)
                       AS eligible
              FROM redemptions r
              JOIN redemption_lines l ON l.redemption_id = r.id AND l.eligible
              LEFT JOIN sale_parts sp ON sp.redemption_id = r.id
              LEFT JOIN sale_line_parts slp
                     ON slp.sale_id = sp.sale_id AND slp.line_no = l.line_no
                    AND slp.voucher_id = r.voucher_id
             WHERE r.program_id = $1 AND r.status = 'captured'
               AND (sp.sale_id IS NULL OR slp.amount IS NOT NULL)
        ), shares AS (
            SELECT id, covered, line_no, category,
                   -- numeric: covered * line_total can pass the range of bigint
                   CASE WHEN eligible > 0 THEN div(covered::numeric * line_total, eligible)
                        ELSE 0 END AS base,
                   CASE WHEN eligible > 0 THEN mod(covered::numeric * line_total, eligible)
                        ELSE 0 END AS rest,
                   eligible
              FROM lines
        ), ranked AS (
            SELECT *, covered - sum(base) OVER (PARTITION BY id) AS leftover,
                   row_number() OVER (PARTITION BY id ORDER BY rest DESC, line_no) AS rank
              FROM shares
        )
        SELECT category, count(DISTINCT id) AS redemptions,
               sum(base + CASE WHEN rank <= leftover THEN 1 ELSE 0 END)::bigint AS amount
          FROM ranked
         GROUP BY category
         ORDER BY amount DESC, category
        """,
        program_id,
    )
    return [dict(r) for r in rows]


async def by_merchant(db: Executor, program_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT m.id::text AS merchant_id, m.name AS merchant_name,
               count(*) FILTER (WHERE r.status = 'captured') AS redemptions,
               coalesce(sum(r.covered) FILTER (WHERE r.status = 'captured'), 0)::bigint
                   AS redeemed,
               count(*) FILTER (WHERE r.status = 'voided') AS voids,
               coalesce(sum(r.covered) FILTER (WHERE r.status = 'voided'), 0)::bigint AS voided
          FROM redemptions r JOIN merchants m ON m.id = r.merchant_id
         WHERE r.program_id = $1
         GROUP BY m.id, m.name
         ORDER BY redeemed DESC, m.name
        """,
        program_id,
    )
    return [dict(r) for r in rows]


async def by_month(db: Executor, program_id: str, timezone: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT to_char(r.created_at AT TIME ZONE $2, 'YYYY-MM') AS month,
               count(*) FILTER (WHERE r.status = 'captured') AS redemptions,
               coalesce(sum(r.covered) FILTER (WHERE r.status = 'captured'), 0)::bigint
                   AS redeemed,
               count(*) FILTER (WHERE r.status = 'voided') AS voids,
               coalesce(sum(r.covered) FILTER (WHERE r.status = 'voided'), 0)::bigint AS voided
          FROM redemptions r
         WHERE r.program_id = $1
         GROUP BY 1 ORDER BY 1
        """,
        program_id, timezone,
    )
    return [dict(r) for r in rows]


async def unused_refs(db: Executor, program_id: str, limit: int | None) -> list[str]:
    """Pseudonymous references of beneficiaries who have not used their voucher."""
    rows = await db.fetch(
        """
        SELECT v.beneficiary_ref FROM vouchers v
         WHERE v.program_id = $1 AND NOT EXISTS (
               SELECT 1 FROM redemptions r WHERE r.voucher_id = v.id AND r.status = 'captured')
         ORDER BY v.beneficiary_ref
         LIMIT $2
        """,
        program_id, limit,
    )
    return [r["beneficiary_ref"] for r in rows]
