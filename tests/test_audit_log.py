"""The tamper-evident audit log: each admin change is appended in the same transaction,
with who, role, what, which object, before and after, when and from where; the hash chain
shows an altered or deleted row, over the API and in `pos verify`; tills leave no rows."""

from __future__ import annotations

from typing import Any

import asyncpg

from pos.config import Config
from tests.accounts_support import person
from tests.conftest import ENGLISH, World, basket, new_key
from tests.settlement_support import pos_command


async def _verify(world: World, headers: dict[str, str]) -> dict[str, Any]:
    resp = await world.client.get("/v1/audit-log/verify", headers=headers)
    assert resp.status == 200
    result: dict[str, Any] = await resp.json()
    return result


async def test_each_admin_change_is_logged_with_who_what_and_before_after(
    world: World, db: asyncpg.Connection[Any]
) -> None:
    officer = await person(world, "li.officer", "officer")
    auditor = await person(world, "zhao.audit", "auditor")
    shop = await world.shop("阳光文具店")
    program = await world.program(partners=[shop])
    merchant = await world.post("/v1/merchants", {"name": "乡镇书店"},
                                headers=officer.token_headers)
    (voucher,) = await world.issue(program)
    await world.post(f"/v1/vouchers/{voucher['id']}/suspend", {}, status=200,
                     headers=officer.token_headers)

    resp = await world.client.get("/v1/audit-log", params={"actor": "li.officer"},
                                  headers=auditor.token_headers)
    entries = (await resp.json())["entries"]
    suspended, created = entries[0], entries[1]
    assert created["role"] == "officer" and created["table"] == "merchants"
    assert created["operation"] == "insert" and created["object"] == merchant["id"]
    assert created["after"][0]["name"] == "乡镇书店" and created["before"] is None
    assert created["address"] == "127.0.0.1"
    assert "Register a merchant" in created["action"]
    assert suspended["table"] == "vouchers" and suspended["operation"] == "update"
    assert suspended["before"][0]["status"] == "active"
    assert suspended["after"][0]["status"] == "suspended"
    # Secrets' hashes are not copied into the log.
    resp = await world.client.get("/v1/audit-log", params={"table": "tills"},
                                  headers=auditor.token_headers)
    till_rows = (await resp.json())["entries"]
    assert till_rows and all("secret_hash" not in r for e in till_rows for r in e["after"])
    # The bootstrap token is logged as such.
    programs = await world.client.get("/v1/audit-log", params={"table": "programs"},
                                      headers=auditor.token_headers)
    assert (await programs.json())["entries"][0]["actor"] == "admin-token"

    # A till's redemption is not an admin action and leaves no row.
    before = await db.fetchval("SELECT count(*) FROM audit_log")
    await world.post(f"/v1/vouchers/{voucher['id']}/resume", {}, status=200)
    after_resume = await db.fetchval("SELECT count(*) FROM audit_log")
    assert after_resume == before + 1
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"], "basket": basket(("food", 1, 500))},
        headers=shop.headers(new_key()))
    assert resp.status == 201
    assert await db.fetchval("SELECT count(*) FROM audit_log") == after_resume


async def test_a_refused_change_leaves_no_row(world: World, db: asyncpg.Connection[Any]
                                              ) -> None:
    officer = await person(world, "li.officer", "officer")
    before = await db.fetchval("SELECT count(*) FROM audit_log")
    resp = await world.client.post("/v1/programs", json={"name": "x", "restrictions": ["any"],
                                                         "valid_from": "2030-01-02",
                                                         "valid_until": "2030-01-01"},
                                   headers=officer.token_headers)
    assert resp.status == 422
    assert await db.fetchval("SELECT count(*) FROM audit_log") == before


async def test_an_altered_or_deleted_row_breaks_the_chain(
    world: World, db: asyncpg.Connection[Any], config: Config
) -> None:
    auditor = await person(world, "zhao.audit", "auditor")
    for name in ("一号店", "二号店", "三号店"):
        await world.post("/v1/merchants", {"name": name})
    intact = await _verify(world, auditor.token_headers)
    assert intact["intact"] and intact["rows_checked"] >= 4
    # The service itself cannot change the log...
    try:
        await db.execute("UPDATE audit_log SET actor_login = 'someone' WHERE seq = 2")
        raise AssertionError("the audit log took an UPDATE")
    except asyncpg.InsufficientPrivilegeError:
        pass
    # ...so someone who can switch its guard off does, and edits a row: the chain shows it.
    await db.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    edited = await db.fetchrow(
        "SELECT seq, after::text FROM audit_log WHERE after::text LIKE '%二号店%'")
    assert edited is not None
    seq, after = edited
    await db.execute("UPDATE audit_log SET after = replace($2, '二号店', '假店')::jsonb "
                     "WHERE seq = $1", seq, after)
    broken = await _verify(world, auditor.token_headers)
    assert not broken["intact"] and broken["break"]["seq"] == seq
    assert "altered" in broken["break"]["reason"]
    done = await pos_command(config, "verify", env=ENGLISH)
    assert done.returncode == 1 and "FAIL audit log" in done.stdout
    assert f"row {seq}" in done.stdout
    done = await pos_command(config, "verify")
    assert done.returncode == 1 and "失败 审计日志哈希链" in done.stdout
    assert f"在第 {seq} 行断开" in done.stdout

    await db.execute("UPDATE audit_log SET after = $2::jsonb WHERE seq = $1", seq, after)
    assert (await _verify(world, auditor.token_headers))["intact"]
    await db.execute("DELETE FROM audit_log WHERE seq = $1", seq)
    deleted = await _verify(world, auditor.token_headers)
    assert deleted["break"] == {"seq": seq + 1,
                                "reason": f"rows {seq} to {seq} are missing."}
    await db.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_pos_verify_checks_the_chain(world: World, config: Config) -> None:
    await world.post("/v1/merchants", {"name": "一号店"})
    done = await pos_command(config, "verify", env=ENGLISH)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   audit log hash chain" in done.stdout
