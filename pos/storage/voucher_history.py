"""What a voucher bought, where and when: its redemptions newest first, with the shop,
the till, the amounts, the status and each line's decision; and the figures of its
holder page (what was used of what was granted, the next monthly credit)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from pos.db.pool import Executor


@dataclasses.dataclass(frozen=True)
class RedemptionRecord:
    """One redemption of a voucher, as the program officer and the holder see it."""

    id: str
    merchant_id: str
    merchant_name: str
    till_id: str
    till_name: str
    created_at: datetime
    status: str  # captured | voided
    voided_at: datetime | None
    currency: str
    basket_total: int
    eligible_total: int
    covered: int
    remainder: int
    channel: str
    lines: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["created_at"] = self.created_at.isoformat()
        out["voided_at"] = None if self.voided_at is None else self.voided_at.isoformat()
        return out


@dataclasses.dataclass(frozen=True)
class Usage:
    """What a voucher was granted in all (credits of every kind, future months included),
    what its captured redemptions took, and when its next credit starts (if any)."""

    granted: int
    used: int
    redemptions: int
    next_credit_at: datetime | None
    next_credit_amount: int | None


async def voucher_exists(conn: Executor, voucher_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM vouchers WHERE id = $1", voucher_id) is not None


async def redemptions_of(conn: Executor, voucher_id: str, *, limit: int,
                         with_lines: bool = True) -> list[RedemptionRecord]:
    """The voucher's latest `limit` redemptions, newest first (index redemptions_voucher)."""
    rows = await conn.fetch(
        """
        SELECT r.id::text, r.merchant_id::text, m.name AS merchant_name, r.till_id::text,
               t.name AS till_name, r.created_at, r.status, r.voided_at, r.currency,
               r.basket_total, r.eligible_total, r.covered, r.remainder, r.channel,
               CASE WHEN $3 THEN
                 (SELECT jsonb_agg(to_jsonb(l) - 'redemption_id' ORDER BY l.line_no)
                    FROM redemption_lines l WHERE l.redemption_id = r.id)
               END AS lines
          FROM redemptions r
          JOIN merchants m ON m.id = r.merchant_id
          JOIN tills t ON t.id = r.till_id
         WHERE r.voucher_id = $1
         ORDER BY r.created_at DESC, r.id
         LIMIT $2
        """,
        voucher_id, limit, with_lines,
    )
    return [
        RedemptionRecord(
            id=r["id"], merchant_id=r["merchant_id"], merchant_name=r["merchant_name"],
            till_id=r["till_id"], till_name=r["till_name"], created_at=r["created_at"],
            status=r["status"], voided_at=r["voided_at"], currency=r["currency"].strip(),
            basket_total=r["basket_total"], eligible_total=r["eligible_total"],
            covered=r["covered"], remainder=r["remainder"], channel=r["channel"],
            lines=_lines(r["lines"]))
        for r in rows
    ]


def _lines(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    decoded = json.loads(value) if isinstance(value, str) else value
    return list(decoded)


async def usage(conn: Executor, voucher_id: str) -> Usage:
    row = await conn.fetchrow(
        """
        SELECT (SELECT coalesce(sum(amount), 0) FROM credits WHERE voucher_id = $1)::bigint
                 AS granted,
               (SELECT coalesce(sum(covered), 0) FROM redemptions
                 WHERE voucher_id = $1 AND status = 'captured')::bigint AS used,
               (SELECT count(*) FROM redemptions
                 WHERE voucher_id = $1 AND status = 'captured')::integer AS redemptions,
               n.valid_from AS next_at, n.amount AS next_amount
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
                SELECT valid_from, amount FROM credits
                 WHERE voucher_id = $1 AND valid_from > now()
                 ORDER BY valid_from LIMIT 1) n ON true
        """,
        voucher_id,
    )
    assert row is not None
    return Usage(granted=row["granted"], used=row["used"], redemptions=row["redemptions"],
                 next_credit_at=row["next_at"], next_credit_amount=row["next_amount"])
