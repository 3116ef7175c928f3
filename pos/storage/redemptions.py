"""The till's value-moving writes: redeem and void, and reading a redemption back.

Both call the PL/pgSQL functions `pos_redeem` and `pos_void` (migration 0002, replaced by
0200, which adds the per-visit cap per local day, the period limits of `pos_limit_room` and
sessions for programs counted in uses): one statement each that locks the voucher, moves the
credits, writes the redemption, its lines, the ledger entries and the idempotency answer
together. Since migration 0700 `pos_redeem` makes all of those writes in one statement and
names the redeem movement's ledger transaction by the redemption's id; 0701 keeps the
tables it writes lean (what each costs: `bench/redeem_writes.py`). `limit_room` asks
`pos_limit_room` for a quote. Since migration 0730 `pos_redeem`'s statement also writes the
redemption's outbox event, and, given a request hash, inserts a fresh sale's new key done
with its answer (`pos.storage.claim_and_redeem`). A void's event is written at commit by
the deferred trigger `redemptions_outbox_voided` (function `pos_outbox_redemption_event`,
migration 0010), so an event exists exactly when its change committed.

The functions answer with a small JSON document; it is decoded here into typed outcomes
(`Redeemed`, `CoverageShort`, `LimitReached`, `RedeemRefusal`; `Voided`, `VoidRefusal`), and
their driver errors are translated by `pos.storage.driver_errors`, so the engine never
matches strings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Connection, Executor
from pos.errors import IDEMPOTENCY_IN_PROGRESS, PAYMENT_FAILED, Problem, StorageError, not_found
from pos.messages import msg
from pos.storage import payment_journal  # the channel journal (migration 0011)
from pos.storage.driver_errors import LeaseLost, translated
from pos.storage.payment_journal import Payment
from pos.storage.till_lookup import StoredAnswer


@dataclasses.dataclass(frozen=True)
class NewRedemption:
    """Everything `pos_redeem` needs, decided before the voucher is locked. Money is in
    minor units of `currency`."""

    redemption_id: str
    voucher_id: str
    merchant_id: str
    till_id: str
    idem_key: str
    idem_owner: str  # the claim's owner: only its holder may store the answer
    currency: str
    basket_total: int
    eligible_total: int
    wanted: int  # min(eligible total, per-visit cap, sessions' worth); limits apply in SQL
    requested: int | None  # an exact voucher part the till asked for, or None: as covered
    channel: str
    lines: Sequence[dict[str, Any]]  # one per basket line, with the rules' decision
    response: dict[str, Any]  # the answer without the figures decided under the lock
    token_iat: int  # the token generation the caller checked
    payment_id: str | None = None  # the remainder's journalled channel payment, if any

    def needs_transaction(self) -> bool:
        """Whether writes beside `pos_redeem` are needed: rule details on lines, or the
        remainder's payment to bind."""
        return self.payment_id is not None or any(line.get("detail") for line in self.lines)


# ------------------------------------------------------------------------------------------
# outcomes


@dataclasses.dataclass(frozen=True)
class Redeemed:
    answer: dict[str, Any]  # the till's answer, as stored with the idempotency key


@dataclasses.dataclass(frozen=True)
class CoverageShort:
    """The till asked for an exact amount, more than the voucher covers now."""

    covered: int


@dataclasses.dataclass(frozen=True)
class LimitReached:
    """A per-visit cap or period limit has nothing left until `resets_at` (the program's
    local wall time)."""

    period: str  # "visit" (the per-visit cap: this shop, today), "day", "week", "month"
    resets_at: datetime


@dataclasses.dataclass(frozen=True)
class LimitRoom:
    """What the program's caps and limits still allow this voucher at this merchant now:
    `room` None when nothing limits it; `reached` when nothing is left."""

    room: int | None
    reached: LimitReached | None = None


def limit_room_of(doc: dict[str, Any]) -> LimitRoom:
    """`pos_limit_room`'s answer, typed."""
    if doc.get("room") is None:
        return LimitRoom(None)
    room = int(doc["room"])
    if room > 0:
        return LimitRoom(room)
    return LimitRoom(0, LimitReached(str(doc["period"]),
                                     datetime.fromisoformat(str(doc["resets_at"]))))


async def limit_room(pool: Executor, voucher_id: str, merchant_id: str) -> LimitRoom:
    """What `pos_limit_room` answers now (a quote; `pos_redeem` asks again under the lock)."""
    doc: dict[str, Any] = await pool.fetchval(
        "SELECT pos_limit_room($1, $2)", voucher_id, merchant_id)
    return limit_room_of(doc)


class RedeemRefusal(enum.Enum):
    """Why `pos_redeem` wrote nothing. The values are the function's own words."""

    NOT_FOUND = "not_found"
    VOUCHER_SUSPENDED = "voucher_suspended"
    VOUCHER_REVOKED = "voucher_revoked"
    VOUCHER_EXPIRED = "voucher_expired"
    VOUCHER_EXHAUSTED = "voucher_exhausted"


RedeemOutcome = Redeemed | CoverageShort | LimitReached | RedeemRefusal


@dataclasses.dataclass(frozen=True)
class Voided:
    answer: dict[str, Any]  # the till's answer, as stored with the idempotency key
    channel: str  # how the remainder was paid
    remainder: int
    payment: Payment | None  # its journalled payment, now marked to be refunded


class VoidRefusal(enum.Enum):
    """Why `pos_void` wrote nothing. The values are the function's own words."""

    NOT_FOUND = "not_found"
    ALREADY_VOIDED = "already_voided"
    VOID_WINDOW_CLOSED = "void_window_closed"


VoidOutcome = Voided | VoidRefusal


def redeem_outcome(doc: asyncpg.Record) -> RedeemOutcome:
    kind = doc["outcome"]
    if kind == "ok":
        return Redeemed(StoredAnswer(doc["answer"]))
    if kind == "amount_exceeds_coverage":
        return CoverageShort(int(doc["covered"]))
    if kind == "limit_reached":
        reached = limit_room_of(doc["limit_doc"]).reached
        assert reached is not None
        return reached
    try:
        return RedeemRefusal(kind)
    except ValueError:
        raise StorageError(f"pos_redeem answered an unknown outcome {kind!r}") from None


def _void_refusal(kind: str) -> VoidRefusal:
    try:
        return VoidRefusal(kind)
    except ValueError:
        raise StorageError(f"pos_void answered an unknown outcome {kind!r}") from None


def _still_running(what: str) -> Problem:
    return IDEMPOTENCY_IN_PROGRESS(msg("idempotency_in_progress"))


# ------------------------------------------------------------------------------------------
# redeem and void

# The answer comes back as JSON text, stored and sent to the till as it is.
# What `redeem_outcome` reads from the function's answer `d`.
OUTCOME_COLUMNS = ("d->>'outcome' AS outcome, (d->'answer')::text AS answer, "
                   "(d->>'covered')::bigint AS covered, "
                   # The limit's whole answer, only when one was reached (rare; jsonb).
                   "CASE WHEN d->>'outcome' = 'limit_reached' THEN d END AS limit_doc ")
_REDEEM = ("SELECT " + OUTCOME_COLUMNS +
           "FROM pos_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
           "$15) AS d")


def redeem_args(new: NewRedemption) -> tuple[Any, ...]:
    return (
        new.redemption_id, new.voucher_id, new.merchant_id, new.till_id, new.idem_key,
        new.idem_owner, new.currency, new.basket_total, new.eligible_total, new.wanted,
        new.requested, new.channel, list(new.lines), new.response, new.token_iat,
    )


async def redeem(db: Executor, new: NewRedemption) -> RedeemOutcome:
    """Call `pos_redeem`. In the same transaction: the rules' details on each line, and the
    remainder's channel payment (`payment_id`) bound to the redemption; if that payment is
    no longer there to bind, nothing is written. `db` is the pool, or a connection, maybe
    already in the transaction that holds the request's idempotency claim."""
    args = redeem_args(new)
    doc: asyncpg.Record | None
    try:
        with translated():
            # The common sale (cash remainder, rules without details) is one statement, so
            # one round trip and its own transaction; only extra writes need an explicit one.
            if isinstance(db, asyncpg.Pool):
                if not new.needs_transaction():
                    doc = await db.fetchrow(_REDEEM, *args)
                else:
                    async with db.acquire() as conn, conn.transaction():
                        doc = await _redeem_on(conn, new, args)
            elif db.is_in_transaction() or not new.needs_transaction():
                doc = await _redeem_on(db, new, args)
            else:
                async with db.transaction():
                    doc = await _redeem_on(db, new, args)
    except LeaseLost:
        raise _still_running("payment") from None
    assert doc is not None  # pos_redeem always answers
    return redeem_outcome(doc)


async def _redeem_on(conn: Connection, new: NewRedemption, args: tuple[Any, ...]
                     ) -> asyncpg.Record | None:
    doc = await conn.fetchrow(_REDEEM, *args)
    if doc is not None and doc["outcome"] == "ok" and new.needs_transaction():
        await _after_redeem(conn, new)
    return doc


async def redeem_in(conn: Connection, new: NewRedemption) -> RedeemOutcome:
    """`redeem` inside the caller's transaction: one part of a sale paid by several
    vouchers (`pos.storage.sale_records`). The caller translates driver errors, and rolls
    back unless every part is `Redeemed`."""
    doc = await _redeem_on(conn, new, redeem_args(new))
    assert doc is not None  # pos_redeem always answers
    return redeem_outcome(doc)


async def void_in(
    conn: Connection, redemption_id: str, merchant_id: str, till_id: str,
    window_minutes: int, idem_key: str, idem_owner: str,
) -> dict[str, Any] | VoidRefusal:
    """`pos_void` of one part of a sale, inside the caller's transaction: its answer, or
    why nothing was written."""
    doc: dict[str, Any] = await conn.fetchval(
        "SELECT pos_void($1, $2, $3, make_interval(mins => $4), $5, $6)",
        redemption_id, merchant_id, till_id, window_minutes, idem_key, idem_owner)
    if doc["outcome"] != "ok":
        return _void_refusal(doc["outcome"])
    answer: dict[str, Any] = doc["answer"]
    return answer


async def _after_redeem(conn: Connection, new: NewRedemption) -> None:
    details = [{"line_no": line["line_no"], "detail": line["detail"]}
               for line in new.lines if line.get("detail")]
    if details:
        await conn.execute(
            "UPDATE redemption_lines l SET detail = d.detail "
            "FROM jsonb_to_recordset($2::jsonb) AS d(line_no integer, detail jsonb) "
            "WHERE l.redemption_id = $1 AND l.line_no = d.line_no",
            new.redemption_id, details)
    if new.payment_id is not None and not await payment_journal.bind(
            conn, new.payment_id, new.redemption_id):
        # It was taken over for reversal before we could bind it (the request outlived its
        # lease): the redemption is not written, and the till is told so.
        raise PAYMENT_FAILED(msg("payment_failed.too_long"))


async def void(
    pool: asyncpg.Pool[Any], redemption_id: str, merchant_id: str, till_id: str,
    window_minutes: int, idem_key: str, idem_owner: str,
) -> VoidOutcome:
    """Call `pos_void`; in the same transaction, a channel payment of the remainder is
    marked to be refunded (`Voided.payment`). The remainder's channel and amount come back
    too, for channels that keep no journal."""
    try:
        with translated():
            async with pool.acquire() as conn, conn.transaction():
                doc: dict[str, Any] = await conn.fetchval(
                    "SELECT pos_void($1, $2, $3, make_interval(mins => $4), $5, $6)",
                    redemption_id, merchant_id, till_id, window_minutes, idem_key,
                    idem_owner,
                )
                if doc["outcome"] != "ok":
                    return _void_refusal(doc["outcome"])
                payment = await payment_journal.refund_on_void(conn, redemption_id)
                row = await conn.fetchrow(
                    "SELECT channel, remainder FROM redemptions WHERE id = $1", redemption_id)
                assert row is not None  # pos_void just updated it
    except LeaseLost:
        raise _still_running("void") from None
    return Voided(doc["answer"], row["channel"], int(row["remainder"]), payment)


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
