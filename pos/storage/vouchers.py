"""Vouchers: issuing them with their credits and ledger entries, reading, status changes."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Connection, Executor
from pos.errors import ALREADY_ISSUED, INVALID_TRANSITION, not_found
from pos.storage.driver_errors import DuplicateRow, translated
from pos.vouchers.credits import CreditPlan


@dataclasses.dataclass(frozen=True)
class NewVoucher:
    id: str
    beneficiary_ref: str
    holder_ref: str | None
    token_kid: str
    token_iat: int
    token_exp: int
    code_hash: bytes
    uses_left: int | None
    credits: Sequence[CreditPlan]
    # Set for vouchers of a batch issuance: the batch, the row of its list, the row's note.
    issuance_id: str | None = None
    issuance_line: int | None = None
    note: str | None = None
    grant_label: str = ""  # which grant of the program, when a beneficiary holds several


async def insert_vouchers(
    conn: Connection, program_id: str, currency: str,
    vouchers: Sequence[NewVoucher],
) -> None:
    """Write vouchers, their credits and the issue ledger entries, in the caller's
    transaction; a beneficiary who already holds a voucher of the program refuses the lot."""
    await lock_program_issues(conn, program_id)
    try:
        with translated():
            await conn.execute(
                """
                INSERT INTO vouchers (id, program_id, beneficiary_ref, holder_ref, token_kid,
                                      token_iat, token_exp, code_hash, uses_left, issuance_id,
                                      issuance_line, note, grant_label)
                SELECT u.id, $1, u.ref, u.holder, u.kid, u.iat, u.exp, u.code, u.uses, u.batch,
                       u.line, u.note, u.grant_label
                  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                              $7::bigint[], $8::bytea[], $9::int[], $10::uuid[], $11::int[],
                              $12::text[], $13::text[])
                       AS u(id, ref, holder, kid, iat, exp, code, uses, batch, line, note,
                            grant_label)
                """,
                program_id, [v.id for v in vouchers], [v.beneficiary_ref for v in vouchers],
                [v.holder_ref for v in vouchers], [v.token_kid for v in vouchers],
                [v.token_iat for v in vouchers], [v.token_exp for v in vouchers],
                [v.code_hash for v in vouchers], [v.uses_left for v in vouchers],
                [v.issuance_id for v in vouchers], [v.issuance_line for v in vouchers],
                [v.note for v in vouchers], [v.grant_label for v in vouchers],
            )
    except DuplicateRow as exc:
        if "beneficiary" in (exc.constraint or ""):
            raise ALREADY_ISSUED(
                "One of these beneficiaries already holds this grant of this program.",
            ) from None
        raise
    voucher_ids, kinds, amounts, starts, ends = [], [], [], [], []
    for v in vouchers:
        for c in v.credits:
            voucher_ids.append(v.id)
            kinds.append(c.kind)
            amounts.append(c.amount)
            starts.append(c.valid_from)
            ends.append(c.valid_until)
    await conn.execute(
        """
        INSERT INTO credits (voucher_id, kind, amount, remaining, valid_from, valid_until)
        SELECT u.voucher_id, u.kind, u.amount, u.amount, u.valid_from, u.valid_until
          FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[],
                      $5::timestamptz[]) AS u(voucher_id, kind, amount, valid_from, valid_until)
        """,
        voucher_ids, kinds, amounts, starts, ends,
    )
    totals = [sum(c.amount for c in v.credits) for v in vouchers]
    await conn.execute(
        """
        INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                    program_id, voucher_id)
        SELECT u.txn, 'issue', e.account,
               CASE WHEN e.account = 'voucher' THEN u.voucher_id ELSE $1::uuid END,
               e.sign * u.total, $2, $1, u.voucher_id
          FROM unnest($3::uuid[], $4::bigint[], $5::uuid[]) AS u(voucher_id, total, txn)
         CROSS JOIN (VALUES ('program_funding', -1), ('voucher', 1)) AS e(account, sign)
         WHERE u.total > 0
        """,
        program_id, currency, [v.id for v in vouchers], totals,
        [str(uuid.uuid4()) for _ in vouchers],
    )


async def lock_program_issues(conn: Connection, program_id: str) -> None:
    """Issues of one program are written one at a time (until the caller's transaction
    ends): two lists sharing beneficiaries in different orders would otherwise each wait
    for the other's rows, and deadlock."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 20))",
                       program_id)


@dataclasses.dataclass(frozen=True)
class BatchStamp:
    """What every voucher of a batch shares: written once per chunk, not once per row."""

    program_id: str
    currency: str
    issuance_id: str
    token_kid: str
    token_iat: int
    token_exp: int
    uses_left: int | None
    credits: Sequence[CreditPlan]


@dataclasses.dataclass
class VoucherColumns:
    """A chunk of a batch's new vouchers, column by column: no Python object per voucher
    (written by `pos.storage.issuances.copy_batch_chunk`)."""

    ids: list[str] = dataclasses.field(default_factory=list)
    refs: list[str] = dataclasses.field(default_factory=list)
    holders: list[str | None] = dataclasses.field(default_factory=list)
    code_hashes: list[bytes] = dataclasses.field(default_factory=list)
    lines: list[int] = dataclasses.field(default_factory=list)
    notes: list[str | None] = dataclasses.field(default_factory=list)
    grants: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


VOUCHER_VIEW = """
    SELECT v.id::text, v.program_id::text, v.beneficiary_ref, v.grant_label, v.holder_ref,
           v.status, v.uses_left, v.token_kid, v.token_iat, v.token_exp, v.created_at, v.updated_at,
           v.issuance_id::text, v.issuance_line, v.note,
           p.currency, p.valid_from, p.valid_until, p.per_visit_cap, p.unit_price,
           (SELECT coalesce(sum(remaining), 0) FROM credits c
             WHERE c.voucher_id = v.id AND remaining > 0
               AND c.valid_from <= now() AND c.valid_until > now())::bigint AS balance,
           (SELECT coalesce(sum(remaining), 0) FROM credits c
             WHERE c.voucher_id = v.id)::bigint AS total_remaining,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', c.id, 'kind', c.kind, 'amount', c.amount,
                       'remaining', c.remaining, 'valid_from', c.valid_from,
                       'valid_until', c.valid_until) ORDER BY c.valid_from, c.id), '[]')
              FROM credits c WHERE c.voucher_id = v.id) AS credits
      FROM vouchers v JOIN programs p ON p.id = v.program_id
"""


def voucher_dict(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["currency"] = out["currency"].strip()
    for key, value in list(out.items()):
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


async def get_voucher(pool: Executor,
                      voucher_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(VOUCHER_VIEW + " WHERE v.id = $1", voucher_id)
    if row is None:
        raise not_found("voucher")
    return voucher_dict(row)


_TRANSITIONS = {
    "suspend": ({"active"}, "suspended"),
    "resume": ({"suspended"}, "active"),
    "revoke": ({"active", "suspended"}, "revoked"),
}


async def change_status(pool: asyncpg.Pool[Any], voucher_id: str, action: str) -> str:
    allowed_from, target = _TRANSITIONS[action]
    row = await pool.fetchrow(
        """
        UPDATE vouchers SET status = $2, updated_at = now()
         WHERE id = $1 AND status = ANY($3::text[])
        RETURNING status
        """,
        voucher_id, target, list(allowed_from),
    )
    if row is not None:
        return str(row["status"])
    current = await pool.fetchval("SELECT status FROM vouchers WHERE id = $1", voucher_id)
    if current is None:
        raise not_found("voucher")
    if current == target:
        return str(current)
    raise INVALID_TRANSITION(f"A voucher that is {current} cannot be {target}."
    )


def new_voucher_id() -> str:
    return str(uuid.uuid4())
