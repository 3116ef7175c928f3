# ruff: noqa: RUF001 - the Chinese lines use full-width punctuation
"""`pos run` with something it cannot serve with (a port another process holds, a number out
of range) stops at once with one line saying what is wrong, in the terminal's language: no
banner claiming it serves, no Python trace, no workers started again and again."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ADMIN_TOKEN, CHINESE, ENGLISH
from tests.service_process import free_port


def _pos_run(tmp_path: Path, database_url: str, locale: dict[str, str], *args: str,
             **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_")}
    env.update({"POS_DATA_DIR": str(tmp_path / "data"), "POS_CONFIG": "/nonexistent",
                "POS_DATABASE_URL": database_url, "POS_ADMIN_TOKEN": ADMIN_TOKEN,
                **locale, **overrides})
    return subprocess.run([sys.executable, "-m", "pos.cli.main", "run", *args], env=env,
                          capture_output=True, text=True, timeout=30)


async def test_a_port_in_use_stops_the_start_with_one_line(
        database_url: str, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        for workers, locale, said in (
                ("1", CHINESE, f"错误：无法在 127.0.0.1:{port} 上监听："),
                ("2", CHINESE, f"错误：无法在 127.0.0.1:{port} 上监听："),
                ("2", ENGLISH, f"error: cannot listen on 127.0.0.1:{port}: ")):
            done = await asyncio.to_thread(_pos_run, tmp_path, database_url, locale,
                                           "--workers", workers, POS_SERVER_PORT=port)
            assert done.returncode == 1, done.stdout + done.stderr
            assert said in done.stderr, done.stderr
            assert "Traceback" not in done.stderr, done.stderr
            assert done.stdout == ""  # no banner: it does not serve


async def test_numbers_out_of_range_are_refused_before_anything_starts(
        database_url: str, tmp_path: Path) -> None:
    port = str(free_port())
    for overrides, locale, said in (
            ({"POS_SERVER_PORT": "99999"}, CHINESE,
             "错误：配置项 [server] port 须在 1 到 65535 之间，现为 99999"),
            ({"POS_SERVER_PORT": "99999"}, ENGLISH,
             "error: [server] port must be between 1 and 65535, not 99999"),
            ({"POS_SERVER_PORT": port, "POS_SERVER_WORKERS": "-2"}, ENGLISH,
             "error: [server] workers must be 0 or more, not -2"),
            ({"POS_SERVER_PORT": port, "POS_DATABASE_POOL_MIN_SIZE": "20"}, CHINESE,
             "错误：配置项 [database] pool_min_size（20）不能大于 [database] pool_max_size（10）"),
            ({"POS_SERVER_PORT": port, "POS_SERVER_WORKERS": "abc"}, CHINESE,
             "错误：配置项 [server] workers 须为整数，现为 'abc'"),
            ({"POS_SERVER_PORT": port, "POS_SERVER_WORKERS": "abc"}, ENGLISH,
             "error: [server] workers: 'abc' is not a valid int")):
        done = await asyncio.to_thread(_pos_run, tmp_path, database_url, locale,
                                       "--workers", "1", **overrides)
        assert done.returncode == 1, done.stdout + done.stderr
        assert said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stdout == ""


async def test_short_tokens_and_a_database_that_never_came_are_said_in_both_languages(
        database_url: str, tmp_path: Path) -> None:
    port = str(free_port())
    away = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    for overrides, locale, said in (
            ({"POS_ADMIN_TOKEN": "adm_short"}, CHINESE,
             "错误：管理员令牌（[admin] token 或 POS_ADMIN_TOKEN）只有 9 个字符，至少需要 32 个"),
            ({"POS_ADMIN_TOKEN": "adm_short"}, ENGLISH,
             "error: the admin token ([admin] token or POS_ADMIN_TOKEN) is 9 characters long; "
             "it needs at least 32"),
            ({"POS_METRICS_TOKEN": "too-short"}, CHINESE,
             "错误：指标令牌（[metrics] token 或 POS_METRICS_TOKEN）只有 9 个字符，至少需要 32 个"),
            ({"POS_METRICS_TOKEN": "too-short"}, ENGLISH,
             "error: the metrics token ([metrics] token or POS_METRICS_TOKEN) is 9 characters "
             "long; it needs at least 32"),
            ({"POS_DATABASE_URL": away, "POS_DATABASE_START_WAIT_SECONDS": "1"}, CHINESE,
             "错误：1 秒内无法连接 PostgreSQL"),
            ({"POS_DATABASE_URL": away, "POS_DATABASE_START_WAIT_SECONDS": "1"}, ENGLISH,
             "error: PostgreSQL could not be reached within 1 s")):
        done = await asyncio.to_thread(_pos_run, tmp_path, database_url, locale,
                                       "--workers", "1", POS_SERVER_PORT=port, **overrides)
        assert done.returncode == 1, done.stdout + done.stderr
        assert said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr


async def test_values_of_the_wrong_kind_and_names_of_no_plugin_are_refused(
        database_url: str, tmp_path: Path) -> None:
    port = str(free_port())
    typo_table = tmp_path / "typo.toml"
    typo_table.write_text('[plugins.nutrtion]\ncategories = ["dairy"]\n')
    half_fen = tmp_path / "half.toml"
    half_fen.write_text("[offline]\nmax_per_sale = 50.99\n")
    for overrides, locale, said in (
            ({"POS_OFFLINE_ENABLED": "flase"}, CHINESE,
             "错误：配置项 [offline] enabled 须为布尔值（true 或 false），现为 'flase'"),
            ({"POS_OFFLINE_ENABLED": "flase"}, ENGLISH,
             "error: [offline] enabled: 'flase' is not a valid bool"),
            ({"POS_PLUGINS_TIMEOUT_SECONDS": "nan"}, ENGLISH,
             "error: [plugins] timeout_seconds: 'nan' is not a valid float"),
            ({"POS_CONFIG": str(half_fen)}, ENGLISH,
             "error: [offline] max_per_sale: 50.99 is not a valid int"),
            ({"POS_CONFIG": str(typo_table)}, CHINESE,
             "错误：配置中的 [plugins.nutrtion] 不是已安装的插件"),
            ({"POS_CONFIG": str(typo_table)}, ENGLISH,
             "error: [plugins.nutrtion] in the configuration names no installed plugin"),
            ({"POS_PLUGINS_ENABLED": "any,nutrtion"}, ENGLISH,
             "error: [plugins] enabled names no installed plugin: nutrtion")):
        done = await asyncio.to_thread(_pos_run, tmp_path, database_url, locale,
                                       "--workers", "1", POS_SERVER_PORT=port, **overrides)
        assert done.returncode == 1, done.stdout + done.stderr
        assert said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stdout == ""
