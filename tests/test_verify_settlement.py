"""`pos verify` over settlement: it passes on a real history of runs, voids, adjustments
and payments, says what it checked, and finds each kind of difference."""

from __future__ import annotations

from typing import Any

import asyncpg

from pos.cli.texts import CHECK_NAMES
from pos.config import Config
from pos.storage.ledger import verify_ledger
from pos.storage.reconciliation import verify_settlements
from tests.conftest import ENGLISH, World
from tests.settlement_support import act, pos_command, redeem, settle, void

SETTLEMENT_CHECKS = (
    "every settlement batch's total equals its redemptions and adjustments",
    "every settled line matches its redemption",
    "every settlement batch's ledger entries equal its total and status",
    "every merchant's payable equals its not yet settled redemptions and voids",
    "nothing a settlement run covered was left unsettled",
)


async def _history(world: World) -> dict[str, Any]:
    """Two runs: a void after the first becomes an adjustment in the second; the first
    batch is paid, the second approved; one redemption after the last run is unsettled."""
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 4)
    r = [await redeem(world, shop, v, ("food", 1, 1000 * (i + 1)))
         for i, v in enumerate(vouchers[:3])]
    (first,) = (await settle(world))["batches"]
    await act(world, first["id"], "approve")
    await act(world, first["id"], "paid", reference="B-1")
    await void(world, shop, r[1]["id"])
    (second,) = (await settle(world))["batches"]
    await act(world, second["id"], "approve")
    await redeem(world, shop, vouchers[3], ("food", 1, 777))
    return {"shop": shop, "program": program, "first": first, "second": second,
            "redemptions": r}


async def _failures(db: asyncpg.Connection[Any]) -> dict[str, list[str]]:
    checks = [*await verify_ledger(db), *await verify_settlements(db)]
    return {c.name: [p.render("en") for p in c.problems] for c in checks if not c.ok}


async def test_verify_passes_and_says_what_it_checked(world: World, config: Config) -> None:
    await _history(world)
    done = await pos_command(config, "verify")  # in Chinese by default
    assert done.returncode == 0, done.stdout + done.stderr
    for name in SETTLEMENT_CHECKS:
        assert f"正常 {CHECK_NAMES[name]}" in done.stdout, done.stdout
    assert "正常 每条已结算明细与其收券一致（已检查 4 项）" in done.stdout  # noqa: RUF001
    done = await pos_command(config, "verify", env=ENGLISH)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in SETTLEMENT_CHECKS:
        assert f"ok   {name}" in done.stdout, done.stdout
    assert "ok   every settlement batch's total equals its redemptions and adjustments " \
           "(2 checked)" in done.stdout
    assert "ok   every settled line matches its redemption (4 checked)" in done.stdout
    assert "ok   nothing a settlement run covered was left unsettled (2 checked)" in done.stdout
    assert "ok   every program's ledger balances" in done.stdout


async def test_a_changed_batch_total_is_found(world: World, db: asyncpg.Connection[Any],
                                              config: Config) -> None:
    h = await _history(world)
    await db.execute("UPDATE settlement_batches SET total = total + 1, "
                     "redemption_total = redemption_total + 1 WHERE id = $1", h["first"]["id"])
    failures = await _failures(db)
    assert set(failures) == {SETTLEMENT_CHECKS[0], SETTLEMENT_CHECKS[2]}
    assert h["first"]["id"] in failures[SETTLEMENT_CHECKS[0]][0]
    done = await pos_command(config, "verify", env=ENGLISH)
    assert done.returncode == 1
    assert f"FAIL {SETTLEMENT_CHECKS[0]}" in done.stdout


async def test_a_changed_line_is_found(world: World, db: asyncpg.Connection[Any]) -> None:
    h = await _history(world)
    rid = h["redemptions"][0]["id"]
    await db.execute("UPDATE settlement_lines SET amount = amount - 10 WHERE redemption_id = $1",
                     rid)
    failures = await _failures(db)
    assert SETTLEMENT_CHECKS[1] in failures and rid in failures[SETTLEMENT_CHECKS[1]][0]
    assert SETTLEMENT_CHECKS[0] in failures


async def test_a_redemption_left_out_of_a_run_is_found(world: World,
                                                       db: asyncpg.Connection[Any]) -> None:
    h = await _history(world)
    # A redemption that happened before the last run's period end but is in no batch.
    late = h["redemptions"][2]["id"]
    batch = await db.fetchval("SELECT batch_id FROM settlement_lines WHERE redemption_id = $1",
                              late)
    await db.execute("DELETE FROM settlement_lines WHERE redemption_id = $1", late)
    await db.execute("UPDATE settlement_batches SET line_count = line_count - 1, "
                     "redemption_total = redemption_total - 3000, total = total - 3000 "
                     "WHERE id = $1", batch)
    failures = await _failures(db)
    assert SETTLEMENT_CHECKS[4] in failures
    assert late in failures[SETTLEMENT_CHECKS[4]][0]
    assert SETTLEMENT_CHECKS[3] in failures  # the payable still holds what was left out


async def test_a_missing_adjustment_is_found(world: World, db: asyncpg.Connection[Any]) -> None:
    h = await _history(world)
    voided = h["redemptions"][1]["id"]
    await db.execute("DELETE FROM settlement_lines WHERE redemption_id = $1 "
                     "AND kind = 'adjustment'", voided)
    failures = await _failures(db)
    assert voided in failures[SETTLEMENT_CHECKS[4]][0]
    assert "is not adjusted" in failures[SETTLEMENT_CHECKS[4]][0]


async def test_a_payment_without_its_ledger_entries_is_found(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    h = await _history(world)
    await db.execute("DELETE FROM ledger_entries WHERE account = 'paid_out'")
    failures = await _failures(db)
    assert SETTLEMENT_CHECKS[2] in failures
    assert h["first"]["id"] in failures[SETTLEMENT_CHECKS[2]][0]
    assert "every program's ledger balances" in failures
    assert h["program"] in failures["every program's ledger balances"][0]


async def test_an_unbalanced_program_is_found(world: World, db: asyncpg.Connection[Any]) -> None:
    h = await _history(world)
    other = await world.program(name="Other")
    # Two legs of one transaction, booked to different programs: the transaction balances,
    # each program does not.
    await db.execute(
        """
        INSERT INTO ledger_entries (txn_id, kind, account, account_id, amount, currency,
                                    program_id)
        VALUES ('00000000-0000-0000-0000-0000000000aa', 'adjust', 'program_funding', $1, 500,
                'CNY', $1),
               ('00000000-0000-0000-0000-0000000000aa', 'adjust', 'program_funding', $2, -500,
                'CNY', $2)
        """,
        h["program"], other)
    failures = await _failures(db)
    assert set(failures) == {"every program's ledger balances"}
    assert len(failures["every program's ledger balances"]) == 2
