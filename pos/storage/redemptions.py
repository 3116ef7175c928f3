"""The till's hot path: load a voucher for a quote, claim an idempotency key, redeem, void.

A quote is one round trip (`load_by_*`); a redemption is two: the idempotency claim and the
load in one statement, then `pos_redeem` (one statement, one transaction, see migration
0002). Driver errors become domain outcomes here, never in handlers.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import asyncpg

from pos.errors import IdempotencyProblem, Problem, StorageError, not_found

_LOAD_COLUMNS = """
    v.id::text AS voucher_id, v.status, v.token_kid, v.token_iat, v.uses_left,
    p.id::text AS program_id, p.name AS program_name, p.currency, p.restrictions,
    p.rule_settings, p.per_visit_cap, p.unit_price, p.valid_from, p.valid_until,
    p.require_identity, p.channels,
    (SELECT status FROM signing_keys k WHERE k.kid = $2) AS key_status,
    EXISTS (SELECT 1 FROM program_merchants pm
             WHERE pm.program_id = p.id AND pm.merchant_id = $3) AS partner,
    (SELECT coalesce(sum(remaining), 0) FROM credits c
      WHERE c.voucher_id = v.id AND c.remaining > 0
        AND c.valid_from <= now() AND c.valid_until > now())::bigint AS available,
    now() AS db_now
"""
_FROM = " FROM vouchers v JOIN programs p ON p.id = v.program_id "
_CLAIM = """
    WITH claim AS (
        INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until)
        VALUES ($4, $5, $6, $7, 'running', now() + make_interval(secs => $8))
        ON CONFLICT (till_id, key) DO UPDATE
           SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
         WHERE idempotency_keys.status = 'running'
           AND idempotency_keys.lease_until < now()
           AND idempotency_keys.request_hash = EXCLUDED.request_hash
        RETURNING owner
    )
    SELECT (SELECT owner FROM claim) AS claimed, l.*
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (SELECT """
# Built once from constant parts; every value is a bind parameter.
_LOAD_BY_ID = "SELECT " + _LOAD_COLUMNS + _FROM + "WHERE v.id = $1"
_LOAD_BY_CODE = "SELECT " + _LOAD_COLUMNS + _FROM + "WHERE v.code_hash = $1"
# The idempotency claim and the voucher's load in one statement: one round trip.
_CLAIM_BY_ID = _CLAIM + _LOAD_COLUMNS + _FROM + "WHERE v.id = $1) AS l ON true"
_CLAIM_BY_CODE = _CLAIM + _LOAD_COLUMNS + _FROM + "WHERE v.code_hash = $1) AS l ON true"


@dataclasses.dataclass(frozen=True)
class VoucherState:
    voucher_id: str
    status: str
    token_kid: str
    token_iat: int
    uses_left: int | None
    program_id: str
    program_name: str
    currency: str
    restrictions: list[str]
    rule_settings: dict[str, Any]
    per_visit_cap: int | None
    unit_price: int | None
    valid_from: datetime
    valid_until: datetime
    require_identity: bool
    channels: list[str]
    key_status: str | None
    partner: bool
    available: int
    db_now: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> VoucherState:
        values = {f.name: row[f.name] for f in dataclasses.fields(cls)}
        values["currency"] = values["currency"].strip()
        values["restrictions"] = list(values["restrictions"])
        values["channels"] = list(values["channels"])
        return cls(**values)


async def load_by_id(
    pool: asyncpg.Pool[Any], voucher_id: str, kid: str, merchant_id: str
) -> VoucherState | None:
    row = await pool.fetchrow(
        _LOAD_BY_ID,
        voucher_id, kid, merchant_id,
    )
    return None if row is None else VoucherState.from_row(row)


async def load_by_code(
    pool: asyncpg.Pool[Any], code_hash: bytes, merchant_id: str
) -> VoucherState | None:
    row = await pool.fetchrow(
        _LOAD_BY_CODE,
        code_hash, "", merchant_id,
    )
    return None if row is None else VoucherState.from_row(row)


@dataclasses.dataclass(frozen=True)
class Claim:
    """The outcome of claiming an idempotency key: ours to run, or an earlier answer."""

    owned: bool
    response_status: int | None = None
    response_body: dict[str, Any] | None = None


async def claim_key(
    pool: asyncpg.Pool[Any], till_id: str, key: str, request_hash: bytes, owner: str,
    lease_seconds: int,
) -> Claim:
    """Claim `key` for this request, or learn what became of the first request with it.

    Same key, same request, finished: the first answer. Same key, different request:
    `idempotency_conflict`. Same key still running: `idempotency_in_progress`. A key whose
    holder died (lease ran out, nothing was written) is taken over.
    """
    claim, _ = await claim_and_load(
        pool, till_id=till_id, key=key, request_hash=request_hash, owner=owner,
        lease_seconds=lease_seconds, merchant_id=None, voucher_id=None, code_hash=None,
        kid="")
    return claim


async def claim_and_load(
    pool: asyncpg.Pool[Any], *, till_id: str, key: str, request_hash: bytes, owner: str,
    lease_seconds: int, merchant_id: str | None, voucher_id: str | None,
    code_hash: bytes | None, kid: str,
) -> tuple[Claim, VoucherState | None]:
    """`claim_key` and `load_by_id`/`load_by_code` in one round trip. The voucher is loaded
    only to be checked by the caller; when the key is not ours, it is ignored."""
    query, where = (_CLAIM_BY_ID, voucher_id) if voucher_id is not None else (
        _CLAIM_BY_CODE, code_hash)
    row = await pool.fetchrow(query, where, kid, merchant_id, till_id, key, request_hash,
                              owner, float(lease_seconds))
    assert row is not None
    if row["claimed"] is not None:
        state = None if row["voucher_id"] is None else VoucherState.from_row(row)
        return Claim(True), state
    existing = await pool.fetchrow(
        "SELECT request_hash, status, response_status, response_body FROM idempotency_keys "
        "WHERE till_id = $1 AND key = $2",
        till_id, key,
    )
    if existing is None:  # released between the two statements: try once more
        return await claim_and_load(
            pool, till_id=till_id, key=key, request_hash=request_hash, owner=owner,
            lease_seconds=lease_seconds, merchant_id=merchant_id, voucher_id=voucher_id,
            code_hash=code_hash, kid=kid)
    if bytes(existing["request_hash"]) != request_hash:
        raise IdempotencyProblem(
            "idempotency_conflict",
            "This request reuses the key of a different request. Start a new sale.",
            status=422,
        )
    if existing["status"] == "running":
        raise IdempotencyProblem(
            "idempotency_in_progress",
            "This payment is still being processed. Wait a moment and try again.",
            status=409,
        )
    return Claim(False, existing["response_status"], existing["response_body"]), None


async def release_key(pool: asyncpg.Pool[Any], till_id: str, key: str, owner: str) -> None:
    """Forget a claim whose request was refused before anything was written, so a retry
    (after the cashier fixed the basket, say) is judged afresh."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE till_id = $1 AND key = $2 AND owner = $3 "
        "AND status = 'running'",
        till_id, key, owner,
    )


def _lease_lost(exc: asyncpg.PostgresError) -> bool:
    return "pos_idempotency_lease_lost" in str(exc)


_REDEEM = ("SELECT pos_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
           "$15)")


async def redeem(pool: asyncpg.Pool[Any], **params: Any) -> dict[str, Any]:
    """Call `pos_redeem`; returns its outcome document. In the same transaction: the rules'
    details on each line, and the remainder's channel payment (`payment_id`) bound to the
    redemption; if that payment is no longer there to bind, nothing is written."""
    args = (
        params["redemption_id"], params["voucher_id"], params["merchant_id"],
        params["till_id"], params["idem_key"], params["idem_owner"], params["currency"],
        params["basket_total"], params["eligible_total"], params["wanted"],
        params["requested"], params["channel"], params["lines"], params["response"],
        params["token_iat"],
    )
    # The common sale (cash remainder, rules without details) is one statement, so one
    # round trip and its own transaction; only extra writes need an explicit transaction.
    needs_more = params.get("payment_id") is not None or any(
        line.get("detail") for line in params["lines"])
    result: dict[str, Any]
    try:
        if not needs_more:
            result = await pool.fetchval(_REDEEM, *args)
        else:
            async with pool.acquire() as conn, conn.transaction():
                result = await conn.fetchval(_REDEEM, *args)
                if result["outcome"] == "ok":
                    await _after_redeem(conn, params)
    except asyncpg.RaiseError as exc:
        if _lease_lost(exc):
            raise IdempotencyProblem(
                "idempotency_in_progress",
                "This payment is still being processed. Wait a moment and try again.",
            ) from None
        raise StorageError(str(exc)) from exc
    return result


async def _after_redeem(conn: Any, params: dict[str, Any]) -> None:
    from pos.storage import payment_journal  # the channel journal (migration 0011)

    details = [{"line_no": line["line_no"], "detail": line["detail"]}
               for line in params["lines"] if line.get("detail")]
    if details:
        await conn.execute(
            "UPDATE redemption_lines l SET detail = d.detail "
            "FROM jsonb_to_recordset($2::jsonb) AS d(line_no integer, detail jsonb) "
            "WHERE l.redemption_id = $1 AND l.line_no = d.line_no",
            params["redemption_id"], details)
    payment_id = params.get("payment_id")
    if payment_id is not None and not await payment_journal.bind(conn, payment_id,
                                                          params["redemption_id"]):
        # It was taken over for reversal before we could bind it (the request outlived its
        # lease): the redemption is not written, and the till is told so.
        raise Problem(
            "payment_failed", "The payment of the rest took too long and is being given "
            "back. Nothing was taken from the voucher; start the sale again.", status=502)


async def void(
    pool: asyncpg.Pool[Any], redemption_id: str, merchant_id: str, till_id: str,
    window_minutes: int, idem_key: str, idem_owner: str,
) -> dict[str, Any]:
    """Call `pos_void`; in the same transaction, a channel payment of the remainder is
    marked to be refunded (returned as `payment`), and the remainder's channel and amount
    are returned for channels that keep no journal."""
    from pos.storage import payment_journal  # the channel journal (migration 0011)

    try:
        async with pool.acquire() as conn, conn.transaction():
            result: dict[str, Any] = await conn.fetchval(
                "SELECT pos_void($1, $2, $3, make_interval(mins => $4), $5, $6)",
                redemption_id, merchant_id, till_id, window_minutes, idem_key, idem_owner,
            )
            if result["outcome"] == "ok":
                result["payment"] = await payment_journal.refund_on_void(conn, redemption_id)
                row = await conn.fetchrow(
                    "SELECT channel, remainder FROM redemptions WHERE id = $1", redemption_id)
                assert row is not None  # pos_void just updated it
                result["channel"], result["remainder"] = row["channel"], row["remainder"]
    except asyncpg.RaiseError as exc:
        if _lease_lost(exc):
            raise IdempotencyProblem(
                "idempotency_in_progress",
                "This void is still being processed. Wait a moment and try again.",
            ) from None
        raise StorageError(str(exc)) from exc
    return result


async def get_redemption(
    pool: asyncpg.Pool[Any], redemption_id: str, merchant_id: str | None
) -> dict[str, Any]:
    """A redemption with its lines; a till (merchant_id given) sees only its merchant's."""
    row = await pool.fetchrow(
        """
        SELECT r.id::text, r.voucher_id::text, r.program_id::text, r.merchant_id::text,
               r.till_id::text, r.currency, r.basket_total, r.eligible_total, r.covered,
               r.remainder, r.channel, r.status, r.created_at, r.voided_at,
               (SELECT jsonb_agg(to_jsonb(l) - 'redemption_id' ORDER BY l.line_no)
                  FROM redemption_lines l WHERE l.redemption_id = r.id) AS lines
          FROM redemptions r
         WHERE r.id = $1 AND ($2::uuid IS NULL OR r.merchant_id = $2::uuid)
        """,
        redemption_id, merchant_id,
    )
    if row is None:
        raise not_found("redemption")
    out = dict(row)
    out["currency"] = out["currency"].strip()
    for key in ("created_at", "voided_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat()
    return out
