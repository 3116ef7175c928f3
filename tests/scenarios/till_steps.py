"""What a cashier does at the till, through the real HTTP API, for the scenario tests:
quote, redeem, void; and moving a voucher's past visits back in time, so a test can stand
on "the next day" without waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from tests.conftest import Shop, World, new_key


def local_today(zone: str = "Asia/Shanghai") -> date:
    return datetime.now(ZoneInfo(zone)).date()


async def quote(world: World, shop: Shop, credential: dict[str, Any],
                lines: dict[str, Any], **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/quotes", json={**credential, "basket": lines, **extra}, headers=shop.headers())
    return resp.status, await resp.json()


async def redeem(world: World, shop: Shop, credential: dict[str, Any],
                 lines: dict[str, Any], **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(
        "/v1/redemptions", json={**credential, "basket": lines, **extra},
        headers=shop.headers(new_key()))
    return resp.status, await resp.json()


async def void(world: World, shop: Shop, redemption_id: str) -> tuple[int, dict[str, Any]]:
    resp = await world.client.post(f"/v1/redemptions/{redemption_id}/void",
                                   headers=shop.headers(new_key()))
    return resp.status, await resp.json()


async def at_once(world: World, sales: Sequence[tuple[Shop, dict[str, Any], dict[str, Any]]],
                  **extra: Any) -> list[tuple[int, dict[str, Any]]]:
    """Several tills press "pay" at the same moment."""
    return list(await asyncio.gather(*(redeem(world, shop, credential, lines, **extra)
                                       for shop, credential, lines in sales)))


async def visits_were_days_ago(db: asyncpg.Connection[Any], voucher_id: str,
                               days: int) -> None:
    """Move this voucher's redemptions `days` back, as if they happened then."""
    await db.execute(
        "UPDATE redemptions SET created_at = created_at - make_interval(days => $2) "
        "WHERE voucher_id = $1", voucher_id, days)


def counted(results: Sequence[tuple[int, dict[str, Any]]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for status, _ in results:
        out[status] = out.get(status, 0) + 1
    return out


def days_later(day: date, days: int) -> str:
    return str(day + timedelta(days=days))
