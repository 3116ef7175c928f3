"""The lists the console shows and the few admin changes the API had no call for before
(SQL only): programs with their counts, merchants with their tills, finding a voucher, a
voucher's history, editing a program, disabling a till, settlement runs."""

from __future__ import annotations

from typing import Any

from pos.db.pool import Executor


async def programs(db: Executor) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT p.id::text, p.name, trim(p.currency) AS currency, p.face_value, p.restrictions,
               p.per_visit_cap, p.uses, p.allowance, p.valid_from, p.valid_until,
               p.time_zone, p.created_at,
               (SELECT count(*) FROM vouchers v WHERE v.program_id = p.id) AS vouchers,
               (SELECT count(*) FROM program_merchants m WHERE m.program_id = p.id)
                   AS partners
          FROM programs p ORDER BY p.created_at DESC
        """)
    return [dict(r) for r in rows]


async def partners(db: Executor, program_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT m.id::text, m.name FROM program_merchants pm JOIN merchants m
            ON m.id = pm.merchant_id WHERE pm.program_id = $1 ORDER BY m.name
        """, program_id)
    return [dict(r) for r in rows]


async def merchants(db: Executor) -> list[dict[str, Any]]:
    """Every merchant with its tills and payout account (newest merchants first)."""
    rows = await db.fetch(
        """
        SELECT m.id::text, m.name, m.created_at,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                       'id', t.id, 'name', t.name, 'disabled', t.disabled_at IS NOT NULL,
                       'created_at', t.created_at) ORDER BY t.created_at)
                   FROM tills t WHERE t.merchant_id = m.id), '[]') AS tills,
               (SELECT count(*) FROM program_merchants pm WHERE pm.merchant_id = m.id)
                   AS programs,
               sp.account_name AS payee_name, sp.account_id AS payee_account,
               sp.agent_bic AS payee_bic
          FROM merchants m LEFT JOIN settlement_payees sp ON sp.merchant_id = m.id
         ORDER BY m.created_at DESC
        """)
    return [dict(r) for r in rows]


async def till(db: Executor, till_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow(
        """
        SELECT t.id::text, t.name, t.disabled_at IS NOT NULL AS disabled,
               m.id::text AS merchant_id, m.name AS merchant_name
          FROM tills t JOIN merchants m ON m.id = t.merchant_id WHERE t.id = $1
        """, till_id)
    return None if row is None else dict(row)


async def disable_till(db: Executor, till_id: str) -> bool:
    """Stop a till's credential (and any pairing code it has); False when unknown."""
    done = await db.execute(
        "UPDATE tills SET disabled_at = coalesce(disabled_at, now()) WHERE id = $1", till_id)
    await db.execute(
        "DELETE FROM till_pairing_codes WHERE till_id = $1 AND used_at IS NULL", till_id)
    return str(done) != "UPDATE 0"


async def find_vouchers(db: Executor, *, voucher_id: str | None, reference: str | None,
                        code_hash: bytes | None, limit: int = 50) -> list[dict[str, Any]]:
    """Vouchers by id, beneficiary reference (exact, any program) or manual code."""
    rows = await db.fetch(
        """
        SELECT v.id::text, v.beneficiary_ref, v.status, p.name AS program,
               trim(p.currency) AS currency,
               (SELECT coalesce(sum(remaining), 0) FROM credits c
                 WHERE c.voucher_id = v.id AND remaining > 0 AND c.valid_from <= now()
                   AND c.valid_until > now())::bigint AS balance
          FROM vouchers v JOIN programs p ON p.id = v.program_id
         WHERE ($1::uuid IS NOT NULL AND v.id = $1)
            OR ($2::text IS NOT NULL AND v.beneficiary_ref = $2)
            OR ($3::bytea IS NOT NULL AND v.code_hash = $3)
         ORDER BY v.created_at DESC LIMIT $4
        """, voucher_id, reference, code_hash, limit)
    return [dict(r) for r in rows]


async def voucher_history(db: Executor, voucher_id: str) -> list[dict[str, Any]]:
    """Redemptions and the ledger's other movements of one voucher, newest first."""
    rows = await db.fetch(
        """
        SELECT r.created_at AS at, 'redeem' AS kind, r.covered AS amount, r.status,
               m.name AS merchant
          FROM redemptions r JOIN merchants m ON m.id = r.merchant_id
         WHERE r.voucher_id = $1
        UNION ALL
        SELECT min(e.created_at), e.kind, sum(e.amount) FILTER (WHERE e.account = 'voucher'),
               NULL, NULL
          FROM ledger_entries e
         WHERE e.voucher_id = $1 AND e.kind IN ('issue', 'topup', 'expire', 'void')
         GROUP BY e.txn_id, e.kind
         ORDER BY 1 DESC LIMIT 200
        """, voucher_id)
    return [dict(r) for r in rows]


async def runs(db: Executor, limit: int = 50) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT r.id::text, r.period_end, r.created_by, r.created_at,
               count(b.id) AS batches, coalesce(sum(b.total), 0)::bigint AS total
          FROM settlement_runs r LEFT JOIN settlement_batches b ON b.run_id = r.id
         GROUP BY r.id ORDER BY r.created_at DESC LIMIT $1
        """, limit)
    return [dict(r) for r in rows]


async def run_cut_by(db: Executor, batch_id: str) -> tuple[str, str | None] | None:
    """Who cut the run a batch belongs to: (name recorded, account id or None)."""
    row = await db.fetchrow(
        """
        SELECT r.created_by, r.created_by_account::text
          FROM settlement_batches b JOIN settlement_runs r ON r.id = b.run_id
         WHERE b.id = $1
        """, batch_id)
    return None if row is None else (row[0], row[1])
