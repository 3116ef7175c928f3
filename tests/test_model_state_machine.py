"""A Hypothesis state machine drives the real service (the aiohttp app over HTTP, the real
PostgreSQL) through issue, quote, redeem, void, top-up, expire and settle, and after every
step compares it with a plain Python model: each voucher's balance, what the merchant is
owed but not yet settled, the ledger (the checks `pos verify` makes); at the end it runs
`pos verify` itself.

Time does not pass in a test, so `expire` ends one credit by moving its end date into the
past in the database (what the calendar would do) and then runs the expiry `pos expire`
runs. Hypothesis is synchronous: the app lives on an event loop of its own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from pos.api.app import create_app
from pos.storage.ledger import verify_ledger
from pos.storage.reconciliation import verify_settlements
from tests.conftest import ADMIN, make_config

FACE_VALUE = 20000
amounts = st.integers(min_value=1, max_value=9000)


@dataclass
class ModelVoucher:
    id: str
    token: str
    balance: int


@dataclass
class Model:
    vouchers: dict[str, ModelVoucher] = field(default_factory=dict)
    unsettled: int = 0  # what the merchant is owed and no batch holds yet


def test_service_matches_the_model(database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data")
    loop = asyncio.new_event_loop()
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(config)), loop=loop)
    loop.run_until_complete(client.start_server())
    db: asyncpg.Connection[Any] = loop.run_until_complete(asyncpg.connect(database_url))
    steps = 0

    def run(coro: Any) -> Any:
        return loop.run_until_complete(coro)

    async def call(method: str, path: str, body: Any = None, headers: Any = None,
                   expect: tuple[int, ...] = (200, 201)) -> Any:
        resp = await client.request(method, path, json=body, headers=headers or ADMIN)
        data = await resp.json()
        assert resp.status in expect, (method, path, resp.status, data)
        return resp.status, data

    class ServiceModel(RuleBasedStateMachine):
        vouchers = Bundle("vouchers")
        redemptions = Bundle("redemptions")

        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            self.till: dict[str, str] = {}
            self.merchant = ""

        @initialize()
        def shop_and_program(self) -> None:
            async def make() -> None:
                _, merchant = await call("POST", "/v1/merchants", {"name": "Model shop"})
                _, till = await call("POST", f"/v1/merchants/{merchant['id']}/tills",
                                     {"name": "Till"})
                today = datetime.now(UTC).date()
                _, program = await call("POST", "/v1/programs", {
                    "name": "Model program", "currency": "CNY", "restrictions": ["any"],
                    "face_value": FACE_VALUE, "valid_from": str(today - timedelta(days=1)),
                    "valid_until": str(today + timedelta(days=90))})
                await call("POST", f"/v1/programs/{program['id']}/merchants",
                           {"merchant_id": merchant["id"]})
                self.merchant, self.program = merchant["id"], program["id"]
                self.till = {"Authorization": f"Bearer {till['secret']}"}
            run(make())

        @rule(target=vouchers)
        def issue(self) -> str:
            _, data = run(call("POST", f"/v1/programs/{self.program}/vouchers", {
                "beneficiaries": [{"ref": f"m-{uuid.uuid4().hex[:10]}"}]}))
            (voucher,) = data["vouchers"]
            self.model.vouchers[voucher["id"]] = ModelVoucher(
                voucher["id"], voucher["token"], FACE_VALUE)
            return str(voucher["id"])

        def _basket(self, voucher_id: str, price: int) -> dict[str, Any]:
            return {"token": self.model.vouchers[voucher_id].token, "basket": {
                "currency": "CNY", "lines": [{"sku": "S", "category": "food",
                                              "description": "rice", "quantity": 1,
                                              "unit_price": price}]}}

        @rule(voucher=vouchers, price=amounts)
        def quote(self, voucher: str, price: int) -> None:
            status, data = run(call("POST", "/v1/quotes", self._basket(voucher, price),
                                    headers=self.till, expect=(200, 409)))
            balance = self.model.vouchers[voucher].balance
            if balance == 0:
                assert (status, data["code"]) == (409, "voucher_exhausted"), data
            else:
                assert status == 200 and data["covered"] == min(price, balance), data

        @rule(target=redemptions, voucher=vouchers, price=amounts)
        def redeem(self, voucher: str, price: int) -> Any:
            held = self.model.vouchers[voucher]
            status, data = run(call(
                "POST", "/v1/redemptions", self._basket(voucher, price),
                headers={**self.till, "Idempotency-Key": uuid.uuid4().hex},
                expect=(201, 409, 422)))
            if held.balance == 0:
                assert status in (409, 422), data  # nothing left: refused, nothing moves
                return multiple()  # no new redemption
            assert status == 201, data
            covered = min(price, held.balance)
            assert data["covered"] == covered
            held.balance -= covered
            self.model.unsettled += covered
            return (data["id"], voucher, covered)

        @rule(redemption=consumes(redemptions))
        def void(self, redemption: Any) -> None:
            redemption_id, voucher, covered = redemption
            run(call("POST", f"/v1/redemptions/{redemption_id}/void", {},
                     headers={**self.till, "Idempotency-Key": uuid.uuid4().hex}))
            self.model.vouchers[voucher].balance += covered
            self.model.unsettled -= covered

        @rule(voucher=vouchers, amount=amounts)
        def top_up(self, voucher: str, amount: int) -> None:
            run(call("POST", f"/v1/vouchers/{voucher}/credits", {"amount": amount},
                     headers={**ADMIN, "Idempotency-Key": uuid.uuid4().hex}))
            self.model.vouchers[voucher].balance += amount

        @rule(voucher=vouchers, which=st.integers(min_value=0, max_value=5))
        def expire(self, voucher: str, which: int) -> None:
            async def end_one_credit() -> int:
                _, data = await call("GET", f"/v1/vouchers/{voucher}")
                live = [c for c in data["credits"] if c["remaining"] > 0]
                if not live:
                    return 0
                credit = live[which % len(live)]
                await db.execute("UPDATE credits SET valid_until = now() - interval '1 second'"
                                 " WHERE id = $1", credit["id"])
                from pos.vouchers import lifecycle
                await lifecycle.expire(db)
                return int(credit["remaining"])
            self.model.vouchers[voucher].balance -= run(end_one_credit())

        @rule()
        def settle(self) -> None:
            run(asyncio.sleep(0.005))  # every redemption so far is before the period's end
            end = datetime.now(UTC).isoformat()
            _, run_data = run(call("POST", "/v1/settlements", {
                "period_end": end, "merchant_id": self.merchant, "by": "model test"}))
            settled = sum(b["total"] for b in run_data["batches"])
            assert settled == self.model.unsettled, (settled, self.model.unsettled)
            self.model.unsettled = 0

        @invariant()
        def balances_and_ledger_agree(self) -> None:
            nonlocal steps
            steps += 1

            async def check() -> None:
                for voucher in self.model.vouchers.values():
                    _, data = await call("GET", f"/v1/vouchers/{voucher.id}")
                    assert data["balance"] == voucher.balance, (data, voucher)
                for result in [*await verify_ledger(db), *await verify_settlements(db)]:
                    assert result.ok, (result.name, result.problems)
            run(check())

    try:
        run_state_machine_as_test(ServiceModel, settings=settings(
            max_examples=8, stateful_step_count=12, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        run(db.close())
        run(client.close())
        loop.close()
    print(f"\nmodel test: {steps} checked steps")
    done = subprocess.run([sys.executable, "-m", "pos.cli.main", "verify"],
                          env={"POS_DATABASE_URL": database_url,
                               "POS_DATA_DIR": str(tmp_path / "data"),
                               "POS_CONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
