"""A voucher's life after issue: reissue (new token and code), top-up credits, expiry.

Each value movement is one transaction that locks the voucher row first, as the
redemption functions do (migration 0002), so none of them can deadlock with a till.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from pos.db.pool import Connection
from pos.errors import (
    IDEMPOTENCY_CONFLICT,
    INVALID_TRANSITION,
    not_found,
)

_LIVE = ("active", "suspended")


@dataclasses.dataclass(frozen=True)
class LockedVoucher:
    id: str
    program_id: str
    status: str
    token_kid: str
    token_iat: int
    token_exp: int
    code_hash: bytes
    uses_left: int | None
    currency: str
    unit_price: int | None
    program_uses: int | None
    valid_from: datetime
    valid_until: datetime


async def lock_voucher(conn: Connection, voucher_id: str) -> LockedVoucher:
    row = await conn.fetchrow(
        """
        SELECT v.id::text, v.program_id::text, v.status, v.token_kid, v.token_iat,
               v.token_exp, v.code_hash, v.uses_left, p.currency, p.unit_price,
               p.uses AS program_uses, p.valid_from, p.valid_until
          FROM vouchers v JOIN programs p ON p.id = v.program_id
         WHERE v.id = $1
           FOR UPDATE OF v
        """,
        voucher_id,
    )
    if row is None:
        raise not_found("voucher")
    values = dict(row)
    values["currency"] = values["currency"].strip()
    return LockedVoucher(**values)


def require_live(voucher: LockedVoucher, doing: str) -> None:
    if voucher.status not in _LIVE:
        raise INVALID_TRANSITION(f"A voucher that is {voucher.status} cannot be {doing}.")


async def replace_token(conn: Connection, voucher: LockedVoucher, *, kid: str, iat: int,
                        code_hash: bytes) -> None:
    """Point the voucher at a new token generation and code; remember the old code so it
    can be recognised as replaced. The caller holds the voucher's lock."""
    await conn.execute(
        "INSERT INTO retired_codes (code_hash, voucher_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        voucher.code_hash, voucher.id,
    )
    await conn.execute(
        """
        UPDATE vouchers SET token_kid = $2, token_iat = $3, code_hash = $4, updated_at = now()
         WHERE id = $1
        """,
        voucher.id, kid, iat, code_hash,
    )


async def earlier_grant(conn: Connection, voucher_id: str, key: str,
                        request_hash: bytes) -> dict[str, Any] | None:
    """The answer of an earlier top-up with this Idempotency-Key, or None if it is new."""
    row = await conn.fetchrow(
        "SELECT request_hash, response_body FROM credit_grants "
        "WHERE voucher_id = $1 AND idempotency_key = $2",
        voucher_id, key,
    )
    if row is None:
        return None
    if bytes(row["request_hash"]) != request_hash:
        raise IDEMPOTENCY_CONFLICT("This Idempotency-Key was already used for a different top-up.")
    body: dict[str, Any] = row["response_body"]
    return body


async def add_credit(conn: Connection, voucher: LockedVoucher, *, amount: int, uses: int,
                     valid_from: datetime, valid_until: datetime, note: str | None,
                     key: str, request_hash: bytes) -> dict[str, Any]:
    """Grant a top-up credit and record it in the ledger (program_funding -> voucher), in
    the caller's transaction, under the voucher's lock."""
    credit_id = await conn.fetchval(
        """
        INSERT INTO credits (voucher_id, kind, amount, remaining, valid_from, valid_until,
                             note)
        VALUES ($1, 'topup', $2, $2, $3, $4, $5)
        RETURNING id
        """,
        voucher.id, amount, valid_from, valid_until, note,
    )
    uses_left = voucher.uses_left
    if uses:
        uses_left = await conn.fetchval(
            "UPDATE vouchers SET uses_left = coalesce(uses_left, 0) + $2, updated_at = now() "
            "WHERE id = $1 RETURNING uses_left",
            voucher.id, uses,
        )
    txn = str(uuid.uuid4())
    await conn.execute(
        """
        INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                    program_id, voucher_id)
        VALUES ($1, 'topup', 'program_funding', $2, -$4::bigint, $5, $2, $3),
               ($1, 'topup', 'voucher', $3, $4::bigint, $5, $2, $3)
        """,
        txn, voucher.program_id, voucher.id, amount, voucher.currency,
    )
    balance = await conn.fetchval(
        """
        SELECT coalesce(sum(remaining), 0)::bigint FROM credits
         WHERE voucher_id = $1 AND remaining > 0 AND valid_from <= now() AND valid_until > now()
        """,
        voucher.id,
    )
    answer = {
        "voucher_id": voucher.id, "credit_id": credit_id, "kind": "topup", "amount": amount,
        "uses_added": uses, "currency": voucher.currency,
        "valid_from": valid_from.isoformat(), "valid_until": valid_until.isoformat(),
        "note": note, "balance": balance, "uses_left": uses_left,
    }
    await conn.execute(
        """
        INSERT INTO credit_grants (voucher_id, idempotency_key, request_hash, credit_id,
                                   response_body)
        VALUES ($1, $2, $3, $4, $5)
        """,
        voucher.id, key, request_hash, credit_id, answer,
    )
    return answer


@dataclasses.dataclass(frozen=True)
class ExpiryStep:
    vouchers: int
    credits: int
    amounts: dict[str, int]  # by currency


async def expire_step(conn: Connection, limit: int) -> ExpiryStep:
    """Expire up to `limit` vouchers' worth of credits whose end has passed, in one
    transaction: each credit's remaining value moves voucher -> program_expired in the
    ledger (one balanced transaction per voucher). Vouchers are locked before credits,
    in id order, as a till's redemption locks them, so the two never deadlock; a voucher
    in the middle of a redemption is waited for, not skipped."""
    async with conn.transaction():
        vouchers = await conn.fetch(
            """
            SELECT v.id FROM vouchers v
             WHERE v.id IN (SELECT DISTINCT c.voucher_id FROM credits c
                             WHERE c.remaining > 0 AND c.valid_until <= now()
                             LIMIT $1)
             ORDER BY v.id
               FOR UPDATE OF v
            """,
            limit,
        )
        ids = [r["id"] for r in vouchers]
        if not ids:
            return ExpiryStep(0, 0, {})
        rows = await conn.fetch(
            """
            WITH due AS MATERIALIZED (
                SELECT c.voucher_id, c.id, c.remaining FROM credits c
                 WHERE c.voucher_id = ANY($1::uuid[]) AND c.remaining > 0
                   AND c.valid_until <= now()
                   FOR UPDATE
            ), cleared AS (
                UPDATE credits c SET remaining = 0
                  FROM due WHERE c.voucher_id = due.voucher_id AND c.id = due.id
                RETURNING c.voucher_id, due.remaining
            ), per_voucher AS MATERIALIZED (
                SELECT cl.voucher_id, v.program_id, p.currency,
                       sum(cl.remaining)::bigint AS amount, count(*) AS credits,
                       gen_random_uuid() AS txn
                  FROM cleared cl JOIN vouchers v ON v.id = cl.voucher_id
                  JOIN programs p ON p.id = v.program_id
                 GROUP BY cl.voucher_id, v.program_id, p.currency
            ), entries AS (
                INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount,
                                            currency, program_id, voucher_id)
                SELECT pv.txn, 'expire', e.account,
                       CASE WHEN e.account = 'voucher' THEN pv.voucher_id
                            ELSE pv.program_id END,
                       e.sign * pv.amount, pv.currency, pv.program_id, pv.voucher_id
                  FROM per_voucher pv
                 CROSS JOIN (VALUES ('voucher', -1), ('program_expired', 1))
                       AS e(account, sign)
                RETURNING 1
            )
            SELECT currency, count(*) AS vouchers, sum(credits)::bigint AS credits,
                   sum(amount)::bigint AS amount, (SELECT count(*) FROM entries) AS entries
              FROM per_voucher GROUP BY currency
            """,
            ids,
        )
        return ExpiryStep(sum(int(r["vouchers"]) for r in rows),
                          sum(int(r["credits"]) for r in rows),
                          {r["currency"].strip(): int(r["amount"]) for r in rows})


async def mark_ended_vouchers(conn: Connection) -> int:
    """Vouchers of programs that have ended become `expired` (the till already refuses them
    by date; the status makes reports and the holder page say so)."""
    result = await conn.execute(
        """
        UPDATE vouchers v SET status = 'expired', updated_at = now()
          FROM programs p
         WHERE p.id = v.program_id AND p.valid_until <= now()
           AND v.status IN ('active', 'suspended')
        """
    )
    return int(result.split()[-1])
