# ruff: noqa: RUF001
"""Settlement checks behind `pos verify`: batches equal their lines, lines equal their
redemptions, batch and merchant accounts equal what is settled and unsettled, and no
redemption a run covered was left out of it."""

from __future__ import annotations

from pos.db.pool import Executor
from pos.messages import words
from pos.storage.ledger import Check

# What a settlement line is, in the sentences of a failed check.
_LINE_KINDS = {"redemption": words("结算", "redemption"), "adjustment": words("调整", "adjustment")}


async def verify_settlements(db: Executor) -> list[Check]:
    checks = []
    batches = await db.fetchval("SELECT count(*) FROM settlement_batches")

    rows = await db.fetch(
        """
        SELECT b.id::text, b.total, b.line_count, b.redemption_total, b.adjustment_total,
               coalesce(sum(l.amount), 0)::bigint AS lines_total, count(l.*) AS lines,
               coalesce(sum(l.amount) FILTER (WHERE l.kind = 'redemption'), 0)::bigint AS red,
               coalesce(sum(l.amount) FILTER (WHERE l.kind = 'adjustment'), 0)::bigint AS adj
          FROM settlement_batches b LEFT JOIN settlement_lines l ON l.batch_id = b.id
         GROUP BY b.id
        HAVING b.total <> coalesce(sum(l.amount), 0) OR b.line_count <> count(l.*)
            OR b.redemption_total <> coalesce(sum(l.amount) FILTER (
                   WHERE l.kind = 'redemption'), 0)
            OR b.adjustment_total <> coalesce(sum(l.amount) FILTER (
                   WHERE l.kind = 'adjustment'), 0)
         LIMIT 50
        """
    )
    checks.append(Check(
        "every settlement batch's total equals its redemptions and adjustments", batches,
        [words("批次 {batch}：总额 {total}，共 {line_count} 行；但其明细合计 {lines_total}，共 "
               "{lines} 行（收券 {red}，调整 {adj}）",
               "batch {batch}: total {total} over {line_count} lines, but its lines sum to "
               "{lines_total} over {lines} (redemptions {red}, adjustments {adj})",
               batch=r["id"], total=r["total"], line_count=r["line_count"],
               lines_total=r["lines_total"], lines=r["lines"], red=r["red"], adj=r["adj"])
         for r in rows],
    ))

    lines = await db.fetchval("SELECT count(*) FROM settlement_lines")
    rows = await db.fetch(
        """
        SELECT l.batch_id::text, l.redemption_id::text, l.kind, l.amount, r.covered, r.status
          FROM settlement_lines l
          JOIN settlement_batches b ON b.id = l.batch_id
          JOIN redemptions r ON r.id = l.redemption_id
         WHERE r.merchant_id <> b.merchant_id OR r.currency <> b.currency
            OR (l.kind = 'redemption' AND l.amount <> r.covered)
            OR (l.kind = 'adjustment' AND (l.amount <> -r.covered OR r.status <> 'voided'))
         LIMIT 50
        """
    )
    checks.append(Check(
        "every settled line matches its redemption", lines,
        [words("批次 {batch}：收券 {redemption} 的{kind}金额为 {value}，"
               "而该收券支付 {covered}，状态为 {status}",
               "batch {batch}: {kind} of redemption {redemption} is {value}, the redemption "
               "covered {covered} and is {status}",
               batch=r["batch_id"], kind=_LINE_KINDS.get(r["kind"], r["kind"]),
               redemption=r["redemption_id"], value=r["amount"], covered=r["covered"],
               status=r["status"])
         for r in rows],
    ))

    rows = await db.fetch(
        """
        WITH legs AS (
            SELECT e.account_id AS batch_id, e.amount, o.account AS other
              FROM ledger_entries e
              JOIN ledger_entries o ON o.txn_id = e.txn_id AND o.id <> e.id
                                   AND o.kind = 'settle'  -- index ledger_settlement_txn
             WHERE e.account = 'settlement_batch' AND e.kind = 'settle'
        ), per_batch AS (
            SELECT b.id, b.total, b.status,
                   coalesce(sum(g.amount) FILTER (WHERE g.other = 'merchant_payable'), 0)
                       ::bigint AS cut,
                   coalesce(sum(g.amount) FILTER (WHERE g.other = 'paid_out'), 0)::bigint AS paid
              FROM settlement_batches b LEFT JOIN legs g ON g.batch_id = b.id
             GROUP BY b.id
        )
        SELECT id::text, total, status, cut, paid FROM per_batch
         WHERE cut <> total OR paid <> CASE WHEN status = 'paid' THEN -total ELSE 0 END
         LIMIT 50
        """
    )
    checks.append(Check(
        "every settlement batch's ledger entries equal its total and status", batches,
        [words("批次 {batch}（{status}，总额 {total}）：账目转入 {cut}，转出 {paid}",
               "batch {batch} ({status}, total {total}): ledger moved {cut} in and {paid} out",
               batch=r["id"], status=r["status"], total=r["total"], cut=r["cut"],
               paid=-r["paid"]) for r in rows],
    ))

    rows = await db.fetch(
        """
        WITH ledger AS (
            SELECT account_id AS merchant_id, sum(amount)::bigint AS balance
              FROM ledger_entries WHERE account = 'merchant_payable' GROUP BY account_id
        ), owed AS (
            SELECT r.merchant_id, sum(CASE
                       WHEN r.status = 'captured' AND s.redemption_id IS NULL THEN r.covered
                       WHEN r.status = 'voided' AND s.redemption_id IS NOT NULL
                            AND a.redemption_id IS NULL THEN -r.covered
                       ELSE 0 END)::bigint AS unsettled
              FROM redemptions r
              LEFT JOIN settlement_lines s ON s.redemption_id = r.id AND s.kind = 'redemption'
              LEFT JOIN settlement_lines a ON a.redemption_id = r.id AND a.kind = 'adjustment'
             GROUP BY r.merchant_id
        )
        SELECT coalesce(l.merchant_id, o.merchant_id)::text AS merchant_id,
               coalesce(l.balance, 0) AS balance, coalesce(o.unsettled, 0) AS unsettled
          FROM ledger l FULL JOIN owed o ON o.merchant_id = l.merchant_id
         WHERE coalesce(l.balance, 0) <> coalesce(o.unsettled, 0)
         LIMIT 50
        """
    )
    merchants = await db.fetchval("SELECT count(*) FROM merchants")
    checks.append(Check(
        "every merchant's payable equals its not yet settled redemptions and voids", merchants,
        [words("商户 {merchant}：应付 {payable}，未结算 {unsettled}",
               "merchant {merchant}: payable {payable}, unsettled {unsettled}",
               merchant=r["merchant_id"], payable=r["balance"], unsettled=r["unsettled"])
         for r in rows],
    ))

    runs = await db.fetchval("SELECT count(*) FROM settlement_runs")
    # Start from what is not settled (few rows, normally only what came after the last
    # run), then look for a run that should have taken it: never all redemptions x runs.
    rows = await db.fetch(
        """
        WITH open AS MATERIALIZED (
            SELECT r.id, r.merchant_id, r.program_id, r.status,
                   CASE WHEN r.status = 'captured' THEN r.created_at ELSE r.voided_at END
                       AS due_at,
                   (SELECT sb.created_at FROM settlement_lines s
                      JOIN settlement_batches sb ON sb.id = s.batch_id
                     WHERE s.redemption_id = r.id AND s.kind = 'redemption') AS settled_at
              FROM redemptions r
             WHERE (r.status = 'captured'
                    AND NOT EXISTS (SELECT 1 FROM settlement_lines s
                                     WHERE s.redemption_id = r.id AND s.kind = 'redemption'))
                OR (r.status = 'voided'
                    AND EXISTS (SELECT 1 FROM settlement_lines s
                                 WHERE s.redemption_id = r.id AND s.kind = 'redemption')
                    AND NOT EXISTS (SELECT 1 FROM settlement_lines a
                                     WHERE a.redemption_id = r.id AND a.kind = 'adjustment'))
        )
        SELECT o.id::text, o.status, run.id::text AS run_id
          FROM open o
          JOIN LATERAL (
                SELECT run.id FROM settlement_runs run
                 WHERE (run.merchant_id IS NULL OR run.merchant_id = o.merchant_id)
                   AND (run.program_id IS NULL OR run.program_id = o.program_id)
                   AND o.due_at <= run.period_end
                   -- a void is due in a run made after its redemption was settled
                   AND (o.status = 'captured' OR o.settled_at < run.created_at)
                 ORDER BY run.created_at LIMIT 1
          ) run ON true
         LIMIT 50
        """
    )
    checks.append(Check(
        "nothing a settlement run covered was left unsettled", runs,
        [words("收券 {redemption}（{status}）在结算 {run} 的期间内，但未结算",
               "redemption {redemption} ({status}) falls in run {run}'s period but is not "
               "settled", redemption=r["id"], status=r["status"], run=r["run_id"])
         if r["status"] == "captured" else
         words("收券 {redemption}（{status}）在结算 {run} 的期间内，但未调整",
               "redemption {redemption} ({status}) falls in run {run}'s period but is not "
               "adjusted", redemption=r["id"], status=r["status"], run=r["run_id"])
         for r in rows],
    ))
    return checks
