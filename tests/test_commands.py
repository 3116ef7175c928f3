"""The `pos` command against the test's database, and crash safety of the service."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from pos.config import Config
from tests.conftest import ADMIN_TOKEN, CHINESE, ENGLISH, World, basket, new_key


def _pos(config: Config, *args: str, check: bool = False,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POS_DATABASE_URL": config.database.url,
           "POS_DATA_DIR": str(config.data_dir), "POS_ADMIN_TOKEN": ADMIN_TOKEN,
           **CHINESE, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pos.cli.main", *args], env=env, check=check,
                          capture_output=True, text=True, timeout=120)


async def test_verify_proves_the_ledger_and_finds_a_difference(
    world: World, config: Config, db: asyncpg.Connection[Any]
) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    vouchers = await world.issue(program, 3)
    for v in vouchers:
        resp = await world.client.post(
            "/v1/redemptions", json={"token": v["token"], "basket": basket(("food", 2, 1500))},
            headers=shop.headers(new_key()))
        assert resp.status == 201
    done = await asyncio.to_thread(_pos, config, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "正常 每笔账务交易借贷相抵为零" in done.stdout
    assert "正常 每张券的余额等于其账目（已检查 3 项）" in done.stdout  # noqa: RUF001
    assert "正常 审计日志哈希链" in done.stdout
    done = await asyncio.to_thread(_pos, config, "verify", env=ENGLISH)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   every ledger transaction sums to zero" in done.stdout
    assert "ok   every voucher's balance equals its ledger entries (3 checked)" in done.stdout

    await db.execute("UPDATE credits SET remaining = remaining - 1 WHERE id = "
                     "(SELECT min(id) FROM credits)")
    done = await asyncio.to_thread(_pos, config, "verify", env=ENGLISH)
    assert done.returncode == 1
    assert "FAIL every voucher's balance equals its ledger entries" in done.stdout
    broken = await db.fetchval("SELECT voucher_id::text FROM credits ORDER BY id LIMIT 1")
    assert re.search(rf"voucher {broken}: ledger \d+, credits \d+", done.stdout), done.stdout
    done = await asyncio.to_thread(_pos, config, "verify")
    assert done.returncode == 1 and "失败 每张券的余额等于其账目" in done.stdout
    # What is wrong is said in the terminal's language too, not only which check failed.
    assert re.search(rf"券 {broken}：账目 \d+，余额 \d+", done.stdout), done.stdout  # noqa: RUF001
    assert "ledger" not in done.stdout and "credits" not in done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_healthy(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(150):
            try:
                async with session.get(url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the service did not start")


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # One process is what these tests need (tests/test_two_processes.py runs workers).
    return subprocess.Popen([sys.executable, "-m", "pos.cli.main", "run", "--workers", "1"],
                            env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_acknowledged_redemption_survives_kill_9(
    world: World, config: Config, tmp_path: Path
) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    port = _free_port()
    env = {**os.environ, "POS_DATABASE_URL": config.database.url,
           "POS_DATA_DIR": str(config.data_dir), "POS_ADMIN_TOKEN": ADMIN_TOKEN,
           "POS_SERVER_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    service = _start(env)
    try:
        await _wait_healthy(url)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url + "/v1/redemptions", headers=shop.headers(new_key()),
                json={"token": voucher["token"], "basket": basket(("food", 1, 4200))},
            ) as resp:
                assert resp.status == 201
                redemption = await resp.json()
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
    finally:
        if service.poll() is None:
            service.kill()
    # A new process finds the acknowledged redemption and the lowered balance.
    service = _start(env)
    try:
        await _wait_healthy(url)
        async with aiohttp.ClientSession() as session:
            async with session.get(url + f"/v1/redemptions/{redemption['id']}",
                                   headers=shop.headers()) as resp:
                assert resp.status == 200
                assert (await resp.json())["covered"] == 4200
    finally:
        service.terminate()
        service.wait(timeout=10)
    assert (await world.voucher(voucher["id"]))["balance"] == 30000 - 4200


async def test_migrate_command(config: Config) -> None:
    done = await asyncio.to_thread(_pos, config, "migrate")
    assert done.returncode == 0 and done.stdout == "数据库结构已是最新\n"
    done = await asyncio.to_thread(_pos, config, "migrate", env=ENGLISH)
    assert done.returncode == 0 and done.stdout == "schema is up to date\n"


async def test_keys_command_speaks_the_terminals_language(config: Config) -> None:
    done = await asyncio.to_thread(_pos, config, "keys", "rotate")
    assert done.returncode == 0, done.stderr
    kid = done.stdout.splitlines()[0].removeprefix("新的有效密钥 ")
    assert re.search(rf"^{re.escape(kid)}\s+有效\s+创建于 \d{{4}}-", done.stdout, re.M), done.stdout
    done = await asyncio.to_thread(_pos, config, "keys", "list", env=ENGLISH)
    assert re.search(rf"^{re.escape(kid)}\s+active\s+created \d{{4}}-", done.stdout, re.M)
    missing = await asyncio.to_thread(_pos, config, "keys", "retire")
    assert missing.returncode == 2 and "错误：pos keys retire 需要密钥的 kid" in missing.stderr  # noqa: RUF001
    missing = await asyncio.to_thread(_pos, config, "keys", "retire", env=ENGLISH)
    assert missing.returncode == 2 and "error: pos keys retire needs the key's kid" \
        in missing.stderr


async def test_commands_share_the_services_embedded_database(tmp_path: Path) -> None:
    """With no database URL, `pos run` starts an embedded PostgreSQL in the data folder;
    a `pos` command run beside it joins that server instead of starting another."""
    data = tmp_path / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_DATA_DIR": str(data), "POS_SERVER_PORT": str(port),
                "POS_ADMIN_TOKEN": ADMIN_TOKEN})
    service = _start(env)
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}")
        postmaster = (data / "pg" / "postmaster.pid").read_text().split()[0]
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "pos.cli.main", "verify"],
            env={**env, **ENGLISH}, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok   the whole ledger sums to zero" in done.stdout
        assert (data / "pg" / "postmaster.pid").read_text().split()[0] == postmaster
        assert (data / "admin_token").exists() is False  # configured, so none generated
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_admin_token_is_generated_once_into_the_data_folder(tmp_path: Path) -> None:
    from pos.config import load_config
    from pos.service import admin_token

    config = load_config(env={"POS_DATA_DIR": str(tmp_path), "POS_CONFIG": "/nonexistent"})
    token = admin_token.resolve(config)
    assert token.startswith("adm_") and len(token) > 40
    assert (tmp_path / "admin_token").stat().st_mode & 0o077 == 0
    assert admin_token.resolve(config) == token


async def test_a_fresh_embedded_database_is_made_whatever_the_terminals_locale(
        tmp_path: Path) -> None:
    """`LANG=zh_CN.UTF-8` (or en_US) is how a person picks the commands' language, and the
    machine need not have that locale installed (most containers have only C): the embedded
    database is still made, in the C locale, whoever's terminal made it first."""
    from pos.db.embedded import embedded_url

    for name, locale, said in (("zh", CHINESE, "数据库结构已是最新\n"),
                               ("en", ENGLISH, "schema is up to date\n")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
        env.update({"POS_DATA_DIR": str(tmp_path / name), "POS_CONFIG": "/nonexistent",
                    **locale})
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "pos.cli.main", "migrate"], env=env,
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout == said
        # What a command did, it says itself: no English log lines of each migration.
        assert done.stderr == ""
    conn = await asyncpg.connect(await asyncio.to_thread(embedded_url, tmp_path / "zh"))
    try:
        assert await conn.fetchval(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()") == "C"
    finally:
        await conn.close()
