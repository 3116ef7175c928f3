"""Offline tills, service side: the signed kit, forwarded sales booked exactly once, the
limits, the shortfall booked to the program's offline-risk account, and `pos verify`."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import pytest

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule
from pos.plugin.types import BasketLine, LineDecision, RestrictionRegistry, RuleContext
from pos.storage.ledger import verify_ledger
from pos.storage.offline_sales import verify_offline
from pos.till import offline_basket
from tests.conftest import ADMIN, World, basket, new_key
from tests.offline_support import OfflineTill, b64url, typed_code_hash
from tests.settlement_support import settle


async def _setup(world: World, *, face_value: int = 30000, tills: int = 1,
                 limits: Mapping[str, Any] | None = None, **program: Any
                 ) -> tuple[list[OfflineTill], str, dict[str, str]]:
    shops = [await world.shop(f"Shop {i}") for i in range(tills)]
    program_id = await world.program(partners=shops, face_value=face_value, **program)
    if limits is not None:
        resp = await world.client.put(f"/v1/programs/{program_id}/offline-limits",
                                      json=dict(limits), headers=ADMIN)
        assert resp.status == 200, await resp.text()
    (voucher,) = await world.issue(program_id)
    offline = [OfflineTill(world.client, shop) for shop in shops]
    for till in offline:
        await till.register()
        await till.fetch_kit()
    return offline, program_id, voucher


LIMITS = {"max_per_sale": 5000, "max_till_total": 20000, "max_offline_seconds": 86400}


async def test_the_kit_is_signed_and_carries_rules_and_limits(world: World) -> None:
    (till,), program_id, _voucher = await _setup(
        world, restrictions=["nutrition"], rule_settings={"nutrition": {"exclude": ["sweets"]}},
        per_visit_cap=10000, limits=LIMITS)
    kit = till.kit
    assert kit["till_id"] == till.shop.till_id and kit["exp"] > time.time()
    assert kit["jwks"]["keys"] and kit["revoked_kids"] == []
    entry = till.program(program_id)
    assert entry["offline"] is True and entry["max_per_sale"] == 5000
    rule, never = entry["rules"]
    assert rule["rule"] == "nutrition" and rule["excluded"] == ["sweets"]
    # The core's never-list travels with every program, so offline sales keep it too.
    assert (never["rule"], never["allowed"]) == ("never_list", None)
    assert {"alcohol", "tobacco", "lottery", "gift_card"} <= set(never["denied"])
    assert "milk" in rule["allowed"] and "alcohol" in rule["denied"]


async def test_a_forwarded_sale_is_booked_once_at_the_time_it_happened(
        world: World, db: asyncpg.Connection[Any]) -> None:
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    at_ms = int(time.time() * 1000) - 120_000
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 4000)), 4000, at_ms=at_ms)
    first = await till.forward(key, body)
    again = await till.forward(key, body)
    assert first[0] == 201 and again == first, first
    # Its event is written at commit by the trigger, which fires for offline sales only.
    assert await db.fetchval("SELECT count(*) FROM outbox_events WHERE redemption_id = "
                             "(SELECT id FROM redemptions WHERE offline)") == 1
    assert first[1]["covered"] == 4000 and first[1]["shortfall"] == 0
    rows = await db.fetch("SELECT offline, covered, shortfall, created_at FROM redemptions")
    assert len(rows) == 1 and rows[0]["offline"] and rows[0]["covered"] == 4000
    assert abs(rows[0]["created_at"].timestamp() * 1000 - at_ms) < 5
    assert (await world.voucher(voucher["id"]))["balance"] == 26000


async def test_one_voucher_spent_offline_at_two_tills_beyond_its_balance(
        world: World, db: asyncpg.Connection[Any]) -> None:
    tills, program_id, voucher = await _setup(world, face_value=8000, tills=2, limits=LIMITS)
    sales = [t.sale(voucher["token"], voucher["id"], program_id,
                    basket(("household", 1, 5000)), 5000) for t in tills]
    answers = [await t.forward(*sale) for t, sale in zip(tills, sales, strict=True)]
    assert [a[0] for a in answers] == [201, 201], answers
    assert [(a[1]["from_voucher"], a[1]["shortfall"]) for a in answers] == [(5000, 0),
                                                                           (3000, 2000)]
    assert (await world.voucher(voucher["id"]))["balance"] == 0
    risk = await db.fetchval("SELECT sum(amount) FROM ledger_entries "
                             "WHERE account = 'program_offline_risk'")
    assert risk == -2000
    payable = await db.fetchval("SELECT sum(amount) FROM ledger_entries "
                                "WHERE account = 'merchant_payable'")
    assert payable == 10000  # both merchants paid in full
    for check in [*await verify_ledger(db), *await verify_offline(db)]:
        assert check.ok, (check.name, check.problems)
    resp = await world.client.get("/v1/reports/offline", headers=ADMIN)
    rows = (await resp.json())["rows"]
    assert sum(r["shortfall"] for r in rows) == 2000 and sum(r["sales"] for r in rows) == 2
    resp = await world.client.get("/v1/reports/offline",
                                  params={"program_id": rows[0]["program_id"]}, headers=ADMIN)
    assert sum(r["sales"] for r in (await resp.json())["rows"]) == 2
    # A program id that is no id is the caller's mistake, not an empty report.
    resp = await world.client.get("/v1/reports/offline?program_id=nonsense", headers=ADMIN)
    assert (resp.status, (await resp.json())["code"]) == (422, "validation_error")
    # An offline sale partly paid by the program cannot be voided at the till.
    second = answers[1][1]
    resp = await world.client.post(f"/v1/redemptions/{second['id']}/void",
                                   headers=tills[1].shop.headers(new_key()))
    assert resp.status == 409 and (await resp.json())["code"] == "offline_sale_not_voidable"
    # Settlement pays both merchants in full and shows the offline part of each batch.
    run = await settle(world)
    offline_parts = []
    for batch in run["batches"]:
        resp = await world.client.get(f"/v1/settlements/{batch['id']}", headers=ADMIN)
        offline_parts.append((await resp.json())["offline"])
    assert sorted((p["sales"], p["covered"], p["shortfall"]) for p in offline_parts) == [
        (1, 5000, 0), (1, 5000, 2000)]
    worst = offline_basket.worst_case_shortfall(
        max_per_sale=5000, max_till_total=20000, max_offline_seconds=86400, tills=2)
    assert 2000 <= worst == 20000


async def test_a_wrong_till_signature_is_refused_and_changes_nothing(
        world: World, db: asyncpg.Connection[Any]) -> None:
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    impostor = OfflineTill(world.client, till.shop, kit=till.kit)
    key, body = impostor.sale(voucher["token"], voucher["id"], program_id,
                              basket(("household", 1, 3000)), 3000)
    status, problem = await till.forward(key, body)
    assert (status, problem["code"]) == (422, "offline_sale_signature_invalid")
    tampered = {**body, "sale": body["sale"].replace('"covered":3000', '"covered":4000')}
    key2, signed = till.sale(voucher["token"], voucher["id"], program_id,
                             basket(("household", 1, 3000)), 3000)
    status, problem = await till.forward(key2, {**signed, "sale": tampered["sale"]})
    assert (status, problem["code"]) == (422, "offline_sale_signature_invalid")
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert (await world.voucher(voucher["id"]))["balance"] == 30000


async def test_the_service_holds_the_published_limits(world: World) -> None:
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    over = till.sale(voucher["token"], voucher["id"], program_id,
                     basket(("household", 1, 9000)), 9000)
    status, problem = await till.forward(*over)
    assert (status, problem["code"]) == (422, "offline_limit_exceeded")
    assert (await till.forward(*till.sale(voucher["token"], voucher["id"], program_id,
                                           basket(("household", 1, 9000)), 5000)))[0] == 201
    status, problem = await till.forward(*till.sale(
        voucher["token"], voucher["id"], program_id, basket(("household", 1, 1000)), 1000))
    assert (status, problem["code"]) == (422, "offline_limit_exceeded")  # once a day
    late = till.sale(voucher["token"], voucher["id"], program_id,
                     basket(("household", 1, 1000)), 1000,
                     at_ms=int((till.kit["exp"] + 3600) * 1000))
    status, problem = await till.forward(*late)
    assert (status, problem["code"]) == (422, "offline_kit_expired")


class _DescribedRule:
    name = "only_milk"
    description = "Milk only, described for offline tills."
    messages = {"milk only": {"zh-CN": "只付牛奶", "en": "milk only"}}

    def describe(self) -> OfflineRule:
        return OfflineRule(rule=self.name, allowed=("milk",))

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        from pos.plugin.offline_rules import decide_line
        rule = self.describe()
        return [LineDecision(decide_line(rule, ln, ctx.merchant_id) == "covered", "milk only")
                for ln in lines]


class _OnlineOnlyRule:
    name = "asks_a_server"
    description = "Needs the network."
    messages = {"fine": {"zh-CN": "可以", "en": "fine"}}

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        return [LineDecision(True, "fine") for _ in lines]


class _RulesPlugin:
    @hookimpl
    def pos_register_restrictions(self, register: RestrictionRegistry) -> None:
        register.add(_DescribedRule())
        register.add(_OnlineOnlyRule())

    @hookimpl
    def pos_describe_restriction(self, rule: str, ctx: RuleContext) -> OfflineRule | None:
        return _DescribedRule().describe() if rule == "only_milk" else None


@pytest.fixture
def rules_plugin(temporary_plugin: Any) -> None:
    temporary_plugin("offline_rules_test", _RulesPlugin())


async def test_hook_pos_describe_restriction(rules_plugin: None, world: World) -> None:
    shop = await world.shop()
    described = await world.program(partners=[shop], restrictions=["only_milk"])
    online_only = await world.program(partners=[shop], restrictions=["any", "asks_a_server"])
    till = OfflineTill(world.client, shop)
    kit = await till.fetch_kit()
    entry = till.program(described)
    assert entry["offline"]
    assert [OfflineRule.from_dict(r) for r in entry["rules"]] == [
        OfflineRule("only_milk", allowed=("milk",)),
        OfflineRule("never_list", denied=("alcohol", "gift_card", "lottery", "tobacco"))]
    assert till.program(online_only)["online_only"] == "rule:asks_a_server"
    assert till.program(online_only)["rules"] == [] and kit["version"] >= 1


CATEGORIES = ["milk", "sweets", "books", "stationery", "alcohol", "diapers", "meals",
              "fruit_vegetables", "medicine", "household", "tobacco", "infant_formula"]
GTINS = [None, "9787020002207", "9787020002208", "4006381333931", "6901234567892"]


def random_basket(rng: random.Random) -> dict[str, Any]:
    lines = []
    for i in range(rng.randint(1, 5)):
        line: dict[str, Any] = {"sku": f"s{i}", "category": rng.choice(CATEGORIES),
                                "description": f"item {i}", "quantity": rng.randint(1, 3),
                                "unit_price": rng.randint(1, 40) * 100}
        gtin = rng.choice(GTINS)
        if gtin:
            line["gtin"] = gtin
        lines.append(line)
    return {"currency": "CNY", "lines": lines}


async def test_online_and_offline_decide_alike_on_many_baskets(world: World) -> None:
    """The service's quote and the kit's description agree line by line (the tablet's JS
    is compared with the same Python function in the browser tests)."""
    shop = await world.shop()
    programs = {
        "nutrition": await world.program(partners=[shop], restrictions=["nutrition"],
                                         rule_settings={"nutrition": {"exclude": ["sweets"]}}),
        "books": await world.program(partners=[shop], restrictions=["books"]),
        "meals": await world.program(partners=[shop], restrictions=["meals"],
                                     rule_settings={"meals": {"canteens": [shop.merchant_id]}}),
        "two": await world.program(partners=[shop], restrictions=["categories", "study"],
                                   rule_settings={"categories": {"allowed": [
                                       "books", "stationery", "milk"]}}),
    }
    vouchers = {name: (await world.issue(pid))[0] for name, pid in programs.items()}
    till = OfflineTill(world.client, shop)
    await till.fetch_kit()
    rng = random.Random(13)
    compared = 0
    for _ in range(30):
        for name, program_id in programs.items():
            body = random_basket(rng)
            resp = await world.client.post("/v1/quotes", json={
                "token": vouchers[name]["token"], "basket": body}, headers=shop.headers())
            answer = await resp.json()
            online = [line["eligible"] for line in answer["lines"]]
            lines = [BasketLine(line_no=i + 1, sku=ln["sku"], gtin=ln.get("gtin"),
                                category=ln["category"], description=ln["description"],
                                quantity=ln["quantity"], unit_price=ln["unit_price"])
                     for i, ln in enumerate(body["lines"])]
            offline = offline_basket.quote(till.program(program_id), lines, shop.merchant_id)
            assert online == [o.eligible for o in offline.outcomes], (name, body)
            if resp.status == 200:
                assert answer["covered"] >= min(offline.covered, answer["covered"])
            compared += len(lines)
    assert compared > 300


async def test_a_token_of_a_key_the_kit_named_revoked_is_refused_when_forwarded(
        world: World, db: asyncpg.Connection[Any]) -> None:
    # The kit lists the revoked kids, so an honest tablet refuses such a card; a tablet that
    # does not (changed, or a script with the till's secret) must not be paid for it either.
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    earlier = till.kit
    kid = await db.fetchval("SELECT token_kid FROM vouchers WHERE id = $1", voucher["id"])
    await db.execute("UPDATE signing_keys SET status = 'revoked', "
                     "revoked_at = now() - interval '1 hour' WHERE kid = $1", kid)
    # The first kit was made before the key was revoked; the next one names it.
    await db.execute("UPDATE offline_kits SET issued_at = issued_at - interval '2 hours' "
                     "WHERE version = $1", earlier["version"])
    assert kid in (await till.fetch_kit())["revoked_kids"]
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 4000)), 4000)
    status, problem = await till.forward(key, body)
    assert (status, problem.get("code")) == (422, "offline_voucher_invalid"), problem
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    # A sale made with the kit from before could not have known: it is paid.
    till.kit = earlier
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 4000)), 4000)
    status, answer = await till.forward(key, body)
    assert status == 201, answer


async def test_typed_codes_guessed_through_forwarded_sales_are_throttled(
        world: World, db: asyncpg.Connection[Any]) -> None:
    # A forwarded sale names the voucher and the hash of the code typed: the service says
    # whether it is that voucher's code, so wrong ones count against the till as online.
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    answers = []
    for n in range(30):
        guess = b64url(hashlib.sha256(f"guess {n}".encode()).digest())
        key, body = till.sale(None, voucher["id"], program_id, basket(("household", 1, 400)),
                              400, code_hash=guess)
        status, problem = await till.forward(key, body)
        answers.append((status, problem["code"]))
    assert answers[0] == (422, "offline_voucher_invalid")
    assert (429, "rate_limited") in answers
    assert answers.count((422, "offline_voucher_invalid")) <= 21
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    # The right code still sells: a till's honest sale is not a guess.
    till.kit = await till.fetch_kit()
    key, body = till.sale(None, voucher["id"], program_id, basket(("household", 1, 400)),
                          400, code_hash=typed_code_hash(voucher["code"]))
    status, answer = await till.forward(key, body)
    assert status == 201, answer


async def test_a_voucher_the_kit_listed_blocked_is_refused_when_forwarded(
        world: World, db: asyncpg.Connection[Any]) -> None:
    # A voucher revoked (or suspended, expired, spent) before the kit was made is in the
    # kit's `blocked`: an honest tablet refuses it, and a tablet that sells it anyway is
    # not paid from the program's offline-risk account for it.
    (till,), program_id, voucher = await _setup(world, limits=LIMITS)
    earlier = till.kit
    await world.post(f"/v1/vouchers/{voucher['id']}/revoke", None, status=200)
    await db.execute("UPDATE offline_kits SET issued_at = issued_at - interval '1 hour' "
                     "WHERE version = $1", earlier["version"])
    assert (await till.fetch_kit())["blocked"] == {voucher["id"]: "revoked"}
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 4000)), 4000)
    status, problem = await till.forward(key, body)
    assert (status, problem.get("code"), problem.get("reason")) == (
        422, "offline_voucher_invalid", "blocked"), problem
    assert await db.fetchval("SELECT count(*) FROM redemptions") == 0
    # Revoked after the kit it was sold with: the till could not have known, it is paid.
    till.kit = earlier
    key, body = till.sale(voucher["token"], voucher["id"], program_id,
                          basket(("household", 1, 4000)), 4000)
    status, answer = await till.forward(key, body)
    assert status == 201, answer
