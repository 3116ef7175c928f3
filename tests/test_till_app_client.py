"""The Python terminal client against the real service, including an answer lost on the way
back (a loopback proxy that lets the request through and drops the response)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pos_terminals.client import OutcomeUnknown, Refused, TerminalClient

from tests.conftest import ADMIN, World, basket


class DroppingProxy:
    """Forwards TCP to the service; the first `drop` connections get no answer: the proxy
    waits for the service's first bytes (so the request was handled) and hangs up."""

    def __init__(self, upstream_port: int, drop: int) -> None:
        self.upstream_port = upstream_port
        self.drop = drop
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        dropping = self.connections <= self.drop
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       swallow: bool) -> None:
            try:
                while data := await src.read(65536):
                    if swallow:
                        return  # the answer exists; the terminal never sees it
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass

        tasks = [asyncio.create_task(pipe(reader, up_writer, False)),
                 asyncio.create_task(pipe(up_reader, writer, dropping))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED if dropping
                               else asyncio.ALL_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for w in (writer, up_writer):
                w.close()


@pytest.fixture
async def service_url(world: World) -> str:
    return str(world.client.make_url("")).rstrip("/")


async def paired_terminal(world: World, service_url: str, till_id: str,
                          url: str | None = None) -> TerminalClient:
    resp = await world.client.post(f"/v1/tills/{till_id}/pairing-codes", headers=ADMIN)
    code = (await resp.json())["code"]
    terminal = await TerminalClient.pair(service_url, code, backoff=0.05)
    if url is not None:
        terminal.base_url = url
    return terminal


@pytest.fixture
async def wish(world: World) -> AsyncIterator[dict[str, Any]]:
    shop = await world.shop("Stationery")
    program = await world.program(
        restrictions=["categories"], face_value=30000, per_visit_cap=10000,
        rule_settings={"categories": {"allowed": ["stationery"]}}, partners=[shop])
    (voucher,) = await world.issue(program)
    yield {"shop": shop, "voucher": voucher}


async def test_pair_quote_redeem_void(world: World, service_url: str,
                                      wish: dict[str, Any]) -> None:
    voucher = wish["voucher"]
    items = basket(("stationery", 1, 13000), ("sweets", 1, 500))
    async with await paired_terminal(world, service_url, wish["shop"].till_id) as till:
        quote = await till.quote(code=voucher["code"], basket=items)
        assert (quote["covered"], quote["remainder"]) == (10000, 3500)
        sale = await till.redeem(token=voucher["token"], basket=items)
        assert (sale["covered"], sale["balance_after"]) == (10000, 20000)
        assert (await till.redemption(sale["id"]))["status"] == "captured"
        voided = await till.void(sale["id"])
        assert (voided["status"], voided["balance_after"]) == ("voided", 30000)
        with pytest.raises(Refused) as refused:
            await till.void(sale["id"])
        assert refused.value.code == "already_voided"
        with pytest.raises(Refused) as refused:
            await till.quote(code=voucher["code"], basket=basket(("sweets", 1, 500)))
        assert refused.value.code == "no_eligible_lines"
        assert refused.value.problem["lines"][0]["eligible"] is False


async def test_a_lost_answer_is_resolved_by_the_same_key(world: World, service_url: str,
                                                         wish: dict[str, Any]) -> None:
    voucher = wish["voucher"]
    port = world.client.server.port
    assert port is not None
    proxy = DroppingProxy(port, drop=1)
    proxy_url = await proxy.start()
    try:
        async with await paired_terminal(world, service_url, wish["shop"].till_id,
                                         proxy_url) as till:
            sale = await till.redeem(code=voucher["code"],
                                     basket=basket(("stationery", 1, 4000)))
        assert proxy.connections == 2  # the lost answer, then the retry's
    finally:
        await proxy.close()
    assert sale["covered"] == 4000
    assert (await world.voucher(voucher["id"]))["balance"] == 26000  # taken once


async def test_no_answer_at_all_leaves_the_outcome_unknown(world: World, service_url: str,
                                                          wish: dict[str, Any]) -> None:
    voucher = wish["voucher"]
    port = world.client.server.port
    assert port is not None
    proxy = DroppingProxy(port, drop=100)
    proxy_url = await proxy.start()
    try:
        till = await paired_terminal(world, service_url, wish["shop"].till_id, proxy_url)
        till.attempts = 2
        items = basket(("stationery", 1, 4000))
        with pytest.raises(OutcomeUnknown) as unknown:
            await till.redeem(code=voucher["code"], basket=items)
        # Later, with the connection back: the same key finds the one redemption.
        till.base_url = service_url
        sale = await till.redeem(code=voucher["code"], basket=items, key=unknown.value.key)
        await till.close()
    finally:
        await proxy.close()
    assert sale["covered"] == 4000
    assert (await world.voucher(voucher["id"]))["balance"] == 26000
