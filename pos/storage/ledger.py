# ruff: noqa: RUF001
"""Ledger checks behind `pos verify`: every transaction sums to zero, every voucher's
balance equals its entries, every merchant's payable equals its captured redemptions,
every program's entries balance."""

from __future__ import annotations

import dataclasses

from pos.db.pool import Executor
from pos.messages import Phrase, words


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    checked: int
    problems: list[Phrase]  # what is wrong, one sentence each, in both languages

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_ledger(conn: Executor) -> list[Check]:
    checks = []

    rows = await conn.fetch(
        "SELECT txn_id::text, sum(amount)::bigint AS total FROM ledger_entries "
        "GROUP BY txn_id HAVING sum(amount) <> 0 LIMIT 50"
    )
    count = await conn.fetchval("SELECT count(DISTINCT txn_id) FROM ledger_entries")
    checks.append(Check(
        "every ledger transaction sums to zero", count,
        [words("交易 {txn} 合计为 {total}", "transaction {txn} sums to {total}",
               txn=r["txn_id"], total=r["total"]) for r in rows],
    ))

    rows = await conn.fetch(
        """
        WITH entries AS (
            SELECT account_id AS voucher_id, sum(amount)::bigint AS ledger
              FROM ledger_entries WHERE account = 'voucher' GROUP BY account_id
        ), held AS (
            SELECT voucher_id, sum(remaining)::bigint AS credits FROM credits GROUP BY voucher_id
        )
        SELECT coalesce(e.voucher_id, h.voucher_id)::text AS voucher_id,
               coalesce(e.ledger, 0) AS ledger, coalesce(h.credits, 0) AS credits
          FROM entries e FULL JOIN held h ON h.voucher_id = e.voucher_id
         WHERE coalesce(e.ledger, 0) <> coalesce(h.credits, 0)
         LIMIT 50
        """
    )
    count = await conn.fetchval("SELECT count(*) FROM vouchers")
    checks.append(Check(
        "every voucher's balance equals its ledger entries", count,
        [words("券 {voucher}：账目 {ledger}，余额 {credits}",
               "voucher {voucher}: ledger {ledger}, credits {credits}",
               voucher=r["voucher_id"], ledger=r["ledger"], credits=r["credits"])
         for r in rows],
    ))

    rows = await conn.fetch(
        """
        WITH entries AS (
            SELECT account_id AS merchant_id, sum(amount)::bigint AS ledger
              FROM ledger_entries WHERE account = 'merchant_payable'
               AND kind IN ('redeem', 'void') GROUP BY account_id
        ), captured AS (
            SELECT merchant_id, sum(covered)::bigint AS covered FROM redemptions
             WHERE status = 'captured' GROUP BY merchant_id
        )
        SELECT coalesce(e.merchant_id, c.merchant_id)::text AS merchant_id,
               coalesce(e.ledger, 0) AS ledger, coalesce(c.covered, 0) AS covered
          FROM entries e FULL JOIN captured c ON c.merchant_id = e.merchant_id
         WHERE coalesce(e.ledger, 0) <> coalesce(c.covered, 0)
         LIMIT 50
        """
    )
    count = await conn.fetchval("SELECT count(*) FROM merchants")
    checks.append(Check(
        "every merchant's redemptions equal its ledger entries", count,
        [words("商户 {merchant}：账目 {ledger}，收券 {covered}",
               "merchant {merchant}: ledger {ledger}, redemptions {covered}",
               merchant=r["merchant_id"], ledger=r["ledger"], covered=r["covered"])
         for r in rows],
    ))

    rows = await conn.fetch(
        "SELECT program_id::text, sum(amount)::bigint AS total FROM ledger_entries "
        "GROUP BY program_id HAVING sum(amount) <> 0 LIMIT 50"
    )
    count = await conn.fetchval("SELECT count(*) FROM programs")
    checks.append(Check(
        "every program's ledger balances", count,
        [words("项目 {program}：账目合计为 {total}",
               "program {program}: its entries sum to {total}",
               program=r["program_id"], total=r["total"]) for r in rows],
    ))

    total = await conn.fetchval("SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entries")
    entries = await conn.fetchval("SELECT count(*) FROM ledger_entries")
    checks.append(Check(
        "the whole ledger sums to zero", entries,
        [] if total == 0 else [words("整个账本合计为 {total}", "the ledger sums to {total}",
                                 total=total)],
    ))
    return checks
