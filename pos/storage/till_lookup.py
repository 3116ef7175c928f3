"""Loading the voucher a till names, alone (a quote) or in the same statement as the
claim of the request's idempotency key (a redemption or a void).

A quote is one round trip (`load_by_*`); a redemption's claim and load are one more, before
`pos_redeem` (see `pos.storage.redemptions`). A claimed key is marked done by `pos_redeem`
or `pos_void` (migration 0002) in the transaction that moves the value, so an answer is
stored exactly when its change is. A redemption's claim is made in that same transaction
when nothing remote happens in between (`pos.till.engine`): one commit per sale. The
common fresh sale skips this claim (`pos.storage.claim_and_redeem`). Old records go after
`pos.events.background.KEEP_IDEMPOTENCY_DAYS`.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Executor
from pos.errors import IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS, Problem
from pos.messages import msg

LOAD_COLUMNS = """
    v.id::text AS voucher_id, v.status, v.token_kid, v.token_iat, v.uses_left,
    p.id::text AS program_id, p.name AS program_name, p.currency, p.restrictions,
    p.rule_settings, p.per_visit_cap, p.unit_price, p.valid_from, p.valid_until,
    p.require_identity, p.channels, p.limits, p.time_zone,
    (SELECT status FROM signing_keys k WHERE k.kid = $2) AS key_status,
    EXISTS (SELECT 1 FROM program_merchants pm
             WHERE pm.program_id = p.id AND pm.merchant_id = $3) AS partner,
    (SELECT coalesce(sum(remaining), 0) FROM credits c
      WHERE c.voucher_id = v.id AND c.remaining > 0
        AND c.valid_from <= now() AND c.valid_until > now())::bigint AS available,
    now() AS db_now
"""
VOUCHER_FROM = " FROM vouchers v JOIN programs p ON p.id = v.program_id "
_CLAIM = """
    WITH free AS (
        -- Held to the end of the transaction: a second request with the same key while the
        -- first is still open is told so at once, instead of waiting on the key's index
        -- entry (and holding a pooled connection) until the first commits.
        SELECT pg_try_advisory_xact_lock(
                   hashtextextended($4::uuid::text || ':' || $5::text, 15)) AS got
    ), claim AS (
        INSERT INTO idempotency_keys (till_id, key, request_hash, owner, status, lease_until)
        SELECT $4, $5, $6, $7, 'running', now() + make_interval(secs => $8)
          FROM free WHERE free.got
        ON CONFLICT (till_id, key) DO UPDATE
           SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
         WHERE idempotency_keys.status = 'running'
           AND idempotency_keys.lease_until < now()
           AND idempotency_keys.request_hash = EXCLUDED.request_hash
        RETURNING owner
    )
    SELECT (SELECT got FROM free) AS free, (SELECT owner FROM claim) AS claimed, l.*
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (SELECT """
# Built once from constant parts; every value is a bind parameter.
_LOAD_BY_ID = "SELECT " + LOAD_COLUMNS + VOUCHER_FROM + "WHERE v.id = $1"
_LOAD_BY_CODE = "SELECT " + LOAD_COLUMNS + VOUCHER_FROM + "WHERE v.code_hash = $1"
# The idempotency claim and the voucher's load in one statement: one round trip.
_CLAIM_BY_ID = _CLAIM + LOAD_COLUMNS + VOUCHER_FROM + "WHERE v.id = $1) AS l ON true"
_CLAIM_BY_CODE = _CLAIM + LOAD_COLUMNS + VOUCHER_FROM + "WHERE v.code_hash = $1) AS l ON true"


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
    limits: list[dict[str, Any]]  # the program's period limits (see migration 0200)
    time_zone: str  # the program's: its days, weeks and months

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> VoucherState:
        values = {f.name: row[f.name] for f in dataclasses.fields(cls)}
        values["currency"] = values["currency"].strip()
        values["restrictions"] = list(values["restrictions"])
        values["channels"] = list(values["channels"])
        values["limits"] = list(values["limits"])
        return cls(**values)

    @property
    def limited(self) -> bool:
        """Whether a per-visit cap or a period limit may cut what the voucher pays."""
        return self.per_visit_cap is not None or bool(self.limits)


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


class StoredAnswer(dict[str, Any]):
    """An answer as stored with its idempotency key: the mapping, and the JSON text
    PostgreSQL gave, which goes to the till as it is (never encoded a second time)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__(json.loads(text))
        self.text = text


@dataclasses.dataclass(frozen=True)
class Claim:
    """The outcome of claiming an idempotency key: ours to run, or an earlier answer."""

    owned: bool
    response_status: int | None = None
    response_body: dict[str, Any] | None = None


async def claim_key(
    pool: Executor, till_id: str, key: str, request_hash: bytes, owner: str,
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
    pool: Executor, *, till_id: str, key: str, request_hash: bytes, owner: str,
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
    if not row["free"]:
        raise _in_progress()
    if row["claimed"] is not None:
        state = None if row["voucher_id"] is None else VoucherState.from_row(row)
        return Claim(True), state
    existing = await pool.fetchrow(
        "SELECT request_hash, status, response_status, response_body::text AS response_body "
        "FROM idempotency_keys "
        "WHERE till_id = $1 AND key = $2",
        till_id, key,
    )
    if existing is None:  # released between the two statements: try once more
        return await claim_and_load(
            pool, till_id=till_id, key=key, request_hash=request_hash, owner=owner,
            lease_seconds=lease_seconds, merchant_id=merchant_id, voucher_id=voucher_id,
            code_hash=code_hash, kid=kid)
    if bytes(existing["request_hash"]) != request_hash:
        raise IDEMPOTENCY_CONFLICT(msg("idempotency_conflict"))
    if existing["status"] == "running":
        raise _in_progress()
    body = existing["response_body"]
    return Claim(False, existing["response_status"],
                 None if body is None else StoredAnswer(body)), None


def _in_progress() -> Problem:
    return IDEMPOTENCY_IN_PROGRESS(msg("idempotency_in_progress"))


async def release_key(pool: asyncpg.Pool[Any], till_id: str, key: str, owner: str) -> None:
    """Forget a claim whose request was refused before anything was written, so a retry
    (after the cashier fixed the basket, say) is judged afresh."""
    await pool.execute(
        "DELETE FROM idempotency_keys WHERE till_id = $1 AND key = $2 AND owner = $3 "
        "AND status = 'running'",
        till_id, key, owner,
    )


async def prune_keys(pool: asyncpg.Pool[Any], keep_days: int) -> int:
    """Forget idempotency records older than `keep_days`: finished ones, and claims whose
    holder died (their lease ran out long ago and nothing was written). Returns how many."""
    result: str = await pool.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => $1) "
        "AND (status = 'done' OR lease_until < now())", keep_days)
    return int(result.split()[-1])
