# ruff: noqa: RUF001
"""Lost cards, new credits, ended programs: reissue, top-up and expiry.

Reissue keeps the voucher (id, credits, history, remaining value) and replaces only what
the holder carries: a token of a new generation (a later `iat`, signed with today's active
key) and a new manual code. The till accepts only the token whose (kid, iat) the voucher
row names, so the old token is refused with `voucher_revoked` from the moment the reissue
commits; the old code no longer finds the voucher.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from datetime import datetime
from typing import Any

from pos import codes
from pos.api.requests import TopUpIn
from pos.db.pool import Connection
from pos.errors import validation_error
from pos.messages import words
from pos.service.services import Services
from pos.storage import voucher_changes as store
from pos.vouchers.carried import holder_link, voucher_code, voucher_token


async def reissue(services: Services, voucher_id: str) -> dict[str, Any]:
    """Replace the voucher's token and code; return the new ones."""
    kid = await services.signing_kid()
    async with services.pool.acquire() as conn, conn.transaction():
        voucher = await store.lock_voucher(conn, voucher_id)
        store.require_live(voucher, "reissued")
        # Strictly later than the current generation, even within the same second: the
        # till tells generations apart by iat alone when the key has not changed.
        iat = max(int(time.time()), voucher.token_iat + 1)
        code = voucher_code(services, voucher.id, iat)
        body = codes.normalise(code)
        assert body is not None
        await store.replace_token(conn, voucher, kid=kid, iat=iat,
                                  code_hash=codes.code_hash(body))
    token = voucher_token(
        services, voucher_id=voucher.id, program_id=voucher.program_id, kid=kid, iat=iat,
        nbf=int(voucher.valid_from.timestamp()), exp=voucher.token_exp)
    return {"id": voucher.id, "status": voucher.status, "token": token, "code": code,
            "holder_link": holder_link(services, code), "token_kid": kid,
            "token_iat": iat}




def _request_hash(voucher_id: str, payload: TopUpIn) -> bytes:
    canonical = json.dumps([voucher_id, payload.model_dump(mode="json")], sort_keys=True)
    return hashlib.sha256(canonical.encode()).digest()


@dataclasses.dataclass(frozen=True)
class TopUpOutcome:
    created: bool
    answer: dict[str, Any]


async def top_up(services: Services, voucher_id: str, payload: TopUpIn,
                 key: str) -> TopUpOutcome:
    """Grant a top-up credit once per Idempotency-Key: a retry gets the first answer."""
    digest = _request_hash(voucher_id, payload)
    async with services.pool.acquire() as conn, conn.transaction():
        voucher = await store.lock_voucher(conn, voucher_id)
        earlier = await store.earlier_grant(conn, voucher.id, key, digest)
        if earlier is not None:
            return TopUpOutcome(False, earlier)
        store.require_live(voucher, "topped up")
        if voucher.program_uses is not None:
            if payload.uses is None or voucher.unit_price is None:
                raise validation_error(words(
                    "这个项目按次数计：请按次数充值。",
                    "This program counts uses: top it up with a number of uses."))
            amount, uses = payload.uses * voucher.unit_price, payload.uses
        else:
            if payload.amount is None:
                raise validation_error(words(
                    "这个项目按金额计：请按金额（以分计）充值。",
                    "This program counts money: top it up with an amount in minor units."))
            amount, uses = payload.amount, 0
        # The database's clock, which the till's "is this credit live" checks also read.
        now: datetime = await conn.fetchval("SELECT now()")
        valid_from = payload.valid_from or max(now, voucher.valid_from)
        valid_until = payload.valid_until or voucher.valid_until
        if valid_until > voucher.valid_until or valid_from < voucher.valid_from:
            raise validation_error(words("充值的有效期须在项目的有效期之内。",
                                         "A top-up must lie within the program's dates."))
        if valid_until <= max(valid_from, now):
            raise validation_error(words("充值须在开始之后、且在将来结束。",
                                         "A top-up must end after it starts, and in the "
                                         "future."))
        answer = await store.add_credit(
            conn, voucher, amount=amount, uses=uses, valid_from=valid_from,
            valid_until=valid_until, note=payload.note, key=key, request_hash=digest)
    return TopUpOutcome(True, answer)


@dataclasses.dataclass(frozen=True)
class ExpiryReport:
    vouchers: int
    credits: int
    amounts: dict[str, int]  # minor units by currency
    vouchers_ended: int


async def expire(conn: Connection, *, chunk: int = 1000) -> ExpiryReport:
    """Move every value left after its end date (a program's end, or the end of the month
    of a monthly allowance without rollover) into `program_expired`, a chunk of vouchers
    per transaction, and mark vouchers of ended programs expired. Safe to run again at any
    time: what was expired has nothing left to expire."""
    vouchers = credits = 0
    amounts: dict[str, int] = {}
    while True:
        step = await store.expire_step(conn, chunk)
        if step.vouchers == 0:
            break
        vouchers += step.vouchers
        credits += step.credits
        for currency, amount in step.amounts.items():
            amounts[currency] = amounts.get(currency, 0) + amount
    ended = await store.mark_ended_vouchers(conn)
    return ExpiryReport(vouchers, credits, amounts, ended)
