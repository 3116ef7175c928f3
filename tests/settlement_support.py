"""Helpers shared by the settlement, export, report and verify tests."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from pos.config import Config
from tests.conftest import ADMIN, ADMIN_TOKEN, CHINESE, Shop, World, basket, new_key


async def redeem(world: World, shop: Shop, voucher: dict[str, str],
                 *lines: tuple[str, int, int], currency: str = "CNY") -> dict[str, Any]:
    resp = await world.client.post(
        "/v1/redemptions", json={"token": voucher["token"],
                                 "basket": basket(*lines, currency=currency)},
        headers=shop.headers(new_key()))
    data: dict[str, Any] = await resp.json()
    assert resp.status == 201, data
    return data


async def void(world: World, shop: Shop, redemption_id: str) -> dict[str, Any]:
    resp = await world.client.post(f"/v1/redemptions/{redemption_id}/void",
                                   headers=shop.headers(new_key()))
    data: dict[str, Any] = await resp.json()
    assert resp.status == 200, data
    return data


# The CSV's columns: the English header row (`?lang=en`), and the Chinese one (the default).
CSV_COLUMNS = ("batch_id", "merchant_id", "merchant_name", "currency", "redemption_id", "kind",
               "program_id", "program_name", "voucher_id", "occurred_at", "amount",
               "amount_minor")
CSV_HEADER_ZH = ("批次编号", "商户编号", "商户名称", "币种", "消费编号", "类型", "项目编号",
                 "项目名称", "券编号", "发生时间", "金额", "金额（最小货币单位）")  # noqa: RUF001


def csv_rows(raw: bytes, header: tuple[str, ...] = CSV_HEADER_ZH) -> list[dict[str, str]]:
    """A CSV export's lines keyed by column code, after checking its header row."""
    found, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(found) == header
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows]


def now() -> str:
    return datetime.now(tz=UTC).isoformat()


async def settle(world: World, status: int = 201, **body: Any) -> dict[str, Any]:
    payload = {"period_end": now(), "by": "Officer Li", **body}
    resp = await world.client.post("/v1/settlements", json=payload, headers=ADMIN)
    data: dict[str, Any] = await resp.json()
    assert resp.status == status, data
    return data


async def act(world: World, batch_id: str, action: str, status: int = 200,
              **body: Any) -> dict[str, Any]:
    resp = await world.client.post(f"/v1/settlements/{batch_id}/{action}",
                                   json={"by": "Officer Li", **body}, headers=ADMIN)
    data: dict[str, Any] = await resp.json()
    assert resp.status == status, data
    return data


async def set_payee(world: World, shop: Shop, **body: Any) -> dict[str, Any]:
    payload = {"account_name": "Shop account", "account_id": "6222020200112233445", **body}
    resp = await world.client.put(f"/v1/merchants/{shop.merchant_id}/payout-account",
                                  json=payload, headers=ADMIN)
    data: dict[str, Any] = await resp.json()
    assert resp.status == 200, data
    return data


def run_pos(config: Config, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`pos ARGS` on the test's database, in Chinese (the default); `env` adds to the
    environment (say `ENGLISH`)."""
    env = {**os.environ, "POS_DATABASE_URL": config.database.url,
           "POS_DATA_DIR": str(config.data_dir), "POS_ADMIN_TOKEN": ADMIN_TOKEN,
           **CHINESE, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pos.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


async def pos_command(config: Config, *args: str, env: dict[str, str] | None = None
                      ) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_pos, config, *args, env=env)


async def insert_synthetic_redemptions(
    conn: Any, *, shop: Shop, program_id: str, voucher_id: str, count: int,
    amount: int = 1234, days_ago: int = 1,
) -> None:
    """`count` captured redemptions for one merchant in one statement, for exports and
    benchmarks of large batches. They bypass the till and the ledger on purpose: only
    settlement reads them."""
    await conn.execute(
        """
        INSERT INTO redemptions (id, voucher_id, program_id, merchant_id, till_id, currency,
                                 basket_total, eligible_total, covered, remainder, channel,
                                 created_at)
        SELECT gen_random_uuid(), $1, $2, $3, $4, 'CNY', $5 + i % 100, $5 + i % 100,
               $5 + i % 100, 0, 'cash',
               now() - make_interval(days => $7) + make_interval(secs => i / 1000.0)
          FROM generate_series(1, $6) AS i
        """,
        voucher_id, program_id, shop.merchant_id, shop.till_id, amount, count, days_ago,
    )
