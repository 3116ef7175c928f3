"""The rule's own tests: plain calls, no service or database needed. (The service's test
suite also installs this package and drives the rule through its entry point.)"""

from __future__ import annotations

from pos_fresh_produce import FreshProduceRule

from pos.plugin.types import BasketLine, ProgramView, RuleContext


def context(**settings: object) -> RuleContext:
    program = ProgramView(id="p", name="Fruit and vegetable prescription", currency="CNY",
                          restrictions=("fresh_produce",),
                          rule_settings={"fresh_produce": {"exclude_gtins": ["1234"]}},
                          require_identity=False)
    return RuleContext(program=program, merchant_id="m", till_id="t",
                       identity_confirmed=False,
                       settings={"max_line_total": 0, "also_cover": (), **settings})


def line(category: str, total: int, gtin: str | None = None) -> BasketLine:
    return BasketLine(line_no=1, sku="s", category=category, description=category,
                      quantity=1, unit_price=total, gtin=gtin)


async def test_fresh_produce_only() -> None:
    decisions = await FreshProduceRule().decide(
        context(), [line("fruit_vegetables", 800), line("sweets", 300)])
    assert [d.eligible for d in decisions] == [True, False]
    assert [d.code for d in decisions] == ["fresh", "not_fresh"]
    # Every reason the rule gives is declared in Chinese and English.
    rule = FreshProduceRule()
    assert all(d.code in rule.messages for d in decisions)
    assert all(texts["zh-CN"] and texts["en"] for texts in rule.messages.values())


async def test_cap_and_exclusions() -> None:
    decisions = await FreshProduceRule().decide(
        context(max_line_total=1000, also_cover=("eggs",)),
        [line("fruit_vegetables", 1500), line("eggs", 600), line("fruit_vegetables", 100,
                                                                "1234")])
    assert [d.eligible for d in decisions] == [False, True, False]
    assert decisions[0].detail == {"cap": 1000}
