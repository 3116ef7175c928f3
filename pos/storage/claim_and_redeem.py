"""A fresh sale in two round trips and one commit: the voucher's load, read only, with
whether the till has used the request's idempotency key before; then `pos_redeem` given the
request's hash (migration 0730), one statement and a transaction of its own, which moves the
value and inserts the key once, already done with its answer. `pos.till.engine` takes this
way for the till's common sale and the general one (`pos.storage.till_lookup`'s claim, then
`pos_redeem`, in one transaction) for the rest.

When another request has the key, the statement writes nothing: `pos_redeem` answers
'key_taken' (an open claim holds the key's advisory lock), or its insert of the key raises
unique_violation (the key was used since the load) and the whole statement rolls back.
Either way the general path judges the request: it replays, refuses a different request, or
says the first is still running.
"""

from __future__ import annotations

from pos.db.pool import Executor
from pos.storage.driver_errors import DuplicateRow, translated
from pos.storage.redemptions import (
    OUTCOME_COLUMNS,
    NewRedemption,
    RedeemOutcome,
    redeem_args,
    redeem_outcome,
)
from pos.storage.till_lookup import LOAD_COLUMNS, VOUCHER_FROM, VoucherState

_KEY_USED = (", EXISTS (SELECT 1 FROM idempotency_keys k "
             "WHERE k.till_id = $4 AND k.key = $5) AS key_used ")
LOAD_BY_ID = "SELECT " + LOAD_COLUMNS + _KEY_USED + VOUCHER_FROM + "WHERE v.id = $1"
_LOAD_BY_CODE = "SELECT " + LOAD_COLUMNS + _KEY_USED + VOUCHER_FROM + "WHERE v.code_hash = $1"

CLAIM_AND_REDEEM = (
    "SELECT " + OUTCOME_COLUMNS + "FROM pos_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
    "$11, $12, $13, $14, $15, $16) AS d")

# The key's primary key: its insert by `pos_redeem` found the key used.
_KEY_CONSTRAINT = "idempotency_keys_pkey"


async def load_unless_key_used(
    db: Executor, *, till_id: str, key: str, merchant_id: str,
    voucher_id: str | None, code_hash: bytes | None, kid: str,
) -> VoucherState | None:
    """The voucher by id or code hash, unless this till has used `key` before (or there is
    no such voucher): None sends the request the general way."""
    query, where = (LOAD_BY_ID, voucher_id) if voucher_id is not None else (
        _LOAD_BY_CODE, code_hash)
    row = await db.fetchrow(query, where, kid, merchant_id, till_id, key)
    if row is None or row["key_used"]:
        return None
    return VoucherState.from_row(row)


async def claim_and_redeem(db: Executor, new: NewRedemption,
                           request_hash: bytes) -> RedeemOutcome | None:
    """Redeem and store the answer with the new key in one statement: the outcome, or None
    when another request has the key (nothing was written; the general path judges it)."""
    try:
        with translated():
            doc = await db.fetchrow(CLAIM_AND_REDEEM, *redeem_args(new), request_hash)
    except DuplicateRow as exc:
        if exc.constraint == _KEY_CONSTRAINT:
            return None
        raise
    assert doc is not None  # the function always answers
    if doc["outcome"] == "key_taken":
        return None
    return redeem_outcome(doc)
