"""Issuance batches: writing a batch's vouchers a chunk at a time, and reading vouchers back
as their holders carry them (token, code, card, holder page): everything needed to
regenerate a token, never the token itself."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import asyncpg

from pos.db.pool import Connection, Executor
from pos.errors import ALREADY_ISSUED
from pos.storage.driver_errors import DuplicateRow, translated
from pos.storage.vouchers import BatchStamp, VoucherColumns


class IssuanceExists(Exception):
    """Another request created an issuance with this id first."""


async def get_issuance(conn: Executor, issuance_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """
        SELECT i.id::text, i.program_id::text, i.content_hash, i.voucher_count, i.source,
               i.created_at, p.name AS program_name
          FROM issuances i JOIN programs p ON p.id = i.program_id
         WHERE i.id = $1
        """,
        issuance_id,
    )
    return None if row is None else dict(row)


async def list_issuances(conn: Executor, program_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT id::text, voucher_count, source, created_at FROM issuances
         WHERE program_id = $1 ORDER BY created_at, id
        """,
        program_id,
    )
    return [dict(r) | {"created_at": r["created_at"].isoformat()} for r in rows]


async def create_issuance(conn: Connection, issuance_id: str, program_id: str,
                          content_hash: bytes, count: int, source: str) -> None:
    """Claim the batch id inside the caller's transaction. A concurrent run of the same
    batch waits here for the first to commit, then gets `IssuanceExists`."""
    try:
        with translated():
            await conn.execute(
                """
                INSERT INTO issuances (id, program_id, content_hash, voucher_count, source)
                VALUES ($1, $2, $3, $4, $5)
                """,
                issuance_id, program_id, content_hash, count, source,
            )
    except DuplicateRow:
        raise IssuanceExists(issuance_id) from None


_VOUCHER_COLUMNS = ("id", "program_id", "beneficiary_ref", "holder_ref", "token_kid",
                    "token_iat", "token_exp", "code_hash", "uses_left", "issuance_id",
                    "issuance_line", "note", "grant_label")
_CREDIT_COLUMNS = ("voucher_id", "kind", "amount", "remaining", "valid_from", "valid_until")
_LEDGER_COLUMNS = ("txn_id", "kind", "account", "account_id", "amount", "currency",
                   "program_id", "voucher_id")


async def copy_batch_chunk(conn: Connection, stamp: BatchStamp, chunk: VoucherColumns,
                           txn_ids: Sequence[str]) -> None:
    """Write a chunk of a batch with three COPYs, in the caller's transaction, after
    `lock_program_issues`: the vouchers, each one's credits (the program's plan, in plan
    order, so their ids follow it) and its balanced pair of issue ledger entries
    (program_funding -> voucher) under its own transaction id from `txn_ids`. COPY stores
    the rows a page at a time and the database parses no statement per chunk; migration
    0750 took the per-row key checks off these tables. A beneficiary who already holds the
    grant refuses the lot."""
    n, ids, program_id = len(chunk), chunk.ids, stamp.program_id
    vouchers = zip(ids, repeat(program_id, n), chunk.refs, chunk.holders,
                   repeat(stamp.token_kid, n), repeat(stamp.token_iat, n),
                   repeat(stamp.token_exp, n), chunk.code_hashes, repeat(stamp.uses_left, n),
                   repeat(stamp.issuance_id, n), chunk.lines, chunk.notes, chunk.grants,
                   strict=True)
    plans = [(c.kind, c.amount, c.amount, c.valid_from, c.valid_until) for c in stamp.credits]
    credits = ((voucher_id, *plan) for voucher_id in ids for plan in plans)
    total = sum(c.amount for c in stamp.credits)
    try:
        with translated():
            await conn.copy_records_to_table("vouchers", columns=_VOUCHER_COLUMNS,
                                             records=vouchers)
            if plans:
                await conn.copy_records_to_table("credits", columns=_CREDIT_COLUMNS,
                                                 records=credits)
            if total > 0:
                currency = stamp.currency
                funding = zip(txn_ids, repeat("issue"), repeat("program_funding"),
                              repeat(program_id), repeat(-total), repeat(currency),
                              repeat(program_id), ids)
                held = zip(txn_ids, repeat("issue"), repeat("voucher"), ids, repeat(total),
                           repeat(currency), repeat(program_id), ids)
                await conn.copy_records_to_table(
                    "ledger_entries", columns=_LEDGER_COLUMNS,
                    records=chain.from_iterable(zip(funding, held, strict=True)))
    except DuplicateRow as exc:
        if "beneficiary" in (exc.constraint or ""):
            raise ALREADY_ISSUED(
                "One of these beneficiaries already holds this grant of this program.",
            ) from None
        raise


async def program_has_vouchers(conn: Executor, program_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM vouchers WHERE program_id = $1)", program_id)
    return bool(found)


async def refs_already_issued(conn: Executor, program_id: str,
                              refs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (beneficiary ref, grant label) pairs already hold a voucher."""
    rows = await conn.fetch(
        "SELECT v.beneficiary_ref, v.grant_label FROM vouchers v "
        "JOIN unnest($2::text[], $3::text[]) AS u(ref, label) "
        "ON v.beneficiary_ref = u.ref AND v.grant_label = u.label "
        "WHERE v.program_id = $1",
        program_id, [r for r, _ in refs], [g for _, g in refs],
    )
    return {(r["beneficiary_ref"], r["grant_label"]) for r in rows}


@dataclasses.dataclass(frozen=True)
class HeldVoucher:
    """A voucher as printed or shown: what regenerates its token and describes its value."""

    id: str
    program_id: str
    beneficiary_ref: str
    holder_ref: str | None
    status: str
    token_kid: str
    token_iat: int
    token_exp: int
    uses_left: int | None
    balance: int | None  # None when read for printing, which does not need it
    total_remaining: int | None
    issuance_line: int | None
    grant_label: str = ""  # which grant of the program ('' for the only one)


_HELD = """
    SELECT v.id::text, v.program_id::text, v.beneficiary_ref, v.holder_ref, v.status,
           v.token_kid, v.token_iat, v.token_exp, v.uses_left, v.issuance_line, v.grant_label,
           (SELECT coalesce(sum(remaining), 0) FROM credits c
             WHERE c.voucher_id = v.id AND c.remaining > 0
               AND c.valid_from <= now() AND c.valid_until > now())::bigint AS balance,
           (SELECT coalesce(sum(remaining), 0) FROM credits c
             WHERE c.voucher_id = v.id)::bigint AS total_remaining
      FROM vouchers v
"""


def _held(row: asyncpg.Record) -> HeldVoucher:
    return HeldVoucher(**dict(row))


async def held_voucher(conn: Executor, voucher_id: str) -> HeldVoucher | None:
    row = await conn.fetchrow(_HELD + " WHERE v.id = $1", voucher_id)
    return None if row is None else _held(row)


async def held_voucher_by_code(conn: Executor, code_hash: bytes) -> HeldVoucher | None:
    row = await conn.fetchrow(_HELD + " WHERE v.code_hash = $1", code_hash)
    return None if row is None else _held(row)


async def code_was_replaced(conn: Executor, code_hash: bytes) -> bool:
    found = await conn.fetchval("SELECT 1 FROM retired_codes WHERE code_hash = $1", code_hash)
    return found is not None


async def issuance_page(conn: Executor, issuance_id: str, after_line: int,
                        limit: int) -> list[HeldVoucher]:
    """The batch's vouchers in the order of its list, `limit` at a time (keyset paging, so
    a 100,000-voucher batch is read in bounded memory)."""
    rows = await conn.fetch(
        """
        SELECT v.id::text, v.program_id::text, v.beneficiary_ref, v.holder_ref, v.status,
               v.token_kid, v.token_iat, v.token_exp, v.uses_left, v.issuance_line,
               v.grant_label, NULL::bigint AS balance, NULL::bigint AS total_remaining
          FROM vouchers v
         WHERE v.issuance_id = $1 AND v.issuance_line > $2
         ORDER BY v.issuance_line LIMIT $3
        """,
        issuance_id, after_line, limit,
    )
    return [_held(r) for r in rows]


async def partner_names(conn: Executor, program_id: str) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT m.name FROM program_merchants pm JOIN merchants m ON m.id = pm.merchant_id
         WHERE pm.program_id = $1 ORDER BY m.name
        """,
        program_id,
    )
    return [r["name"] for r in rows]


async def key_status(conn: Executor, kid: str) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM signing_keys WHERE kid = $1", kid)
    return status
