"""Pure functions: manual codes, deny-wins combination, coverage, credit plans."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pos import codes
from pos.messages import CORE_REASONS, language, render
from pos.plugin.types import BasketLine, LineDecision
from pos.till.eligibility import combine, covered_amount, wanted_amount
from pos.vouchers.credits import plan_credits


def test_every_single_symbol_mistake_is_caught() -> None:
    code = codes.derive_code(b"k" * 32, "voucher", 1)
    body = codes.normalise(code)
    assert body is not None and len(body) == 12
    full = body + codes.check_symbol(body)
    for i in range(len(full)):
        for other in codes.ALPHABET:
            if other != full[i]:
                assert codes.normalise(full[:i] + other + full[i + 1:]) is None


def test_most_neighbour_swaps_are_caught() -> None:
    caught = total = 0
    for n in range(200):
        full = codes.derive_code(b"s" * 32, f"v{n}", n).replace("-", "")
        for i in range(len(full) - 1):
            if full[i] != full[i + 1]:
                total += 1
                swapped = full[:i] + full[i + 1] + full[i] + full[i + 2:]
                caught += codes.normalise(swapped) is None
    assert caught / total > 0.9


def test_codes_read_forgivingly_and_differ_per_generation() -> None:
    code = codes.derive_code(b"k" * 32, "voucher", 1)
    assert codes.normalise(code.lower().replace("-", " ")) == codes.normalise(code)
    assert codes.derive_code(b"k" * 32, "voucher", 2) != code
    assert codes.normalise("0000") is None


def _line(n: int, category: str) -> BasketLine:
    return BasketLine(n, f"s{n}", category, category, 1, 100)


def test_deny_wins_and_says_which_rule() -> None:
    lines = [_line(1, "dairy"), _line(2, "sweets")]
    decisions = {
        "nutrition": [LineDecision(True, "milk ok"), LineDecision(True, "food ok")],
        "no_sugar": [LineDecision(True, "fine"), LineDecision(False, "sugary")],
    }
    milk, sweets = combine(["nutrition", "no_sugar"], decisions, lines,
                           lambda rule, code, params: f"{rule}:{code}")
    assert (milk.eligible, milk.rule, milk.reason) == (True, "nutrition", "nutrition:milk ok")
    assert (sweets.eligible, sweets.rule, sweets.reason_code) == (False, "no_sugar", "sugary")
    assert sweets.reason_params == {"description": "sweets", "category": "sweets"}


def test_the_never_list_denies_whatever_the_rules_say() -> None:
    lines = [_line(1, "household"), _line(2, "alcohol")]
    decisions = {"any": [LineDecision(True, "any"), LineDecision(True, "any")]}
    household, wine = combine(["any"], decisions, lines, lambda rule, code, params: code,
                              never={"alcohol", "tobacco"})
    assert (household.eligible, household.rule) == (True, "any")
    assert (wine.eligible, wine.rule, wine.reason_code) == (False, "never_list", "never_paid")


def test_a_reason_is_rendered_in_the_language_asked_with_category_labels() -> None:
    params = {"description": "Rice wine", "category": "alcohol"}
    template = CORE_REASONS["never_paid"]
    assert render(template["zh-CN"], params, "zh-CN") == "Rice wine：任何券都不能用于酒类。"  # noqa: RUF001
    assert render(template["en"], params, "en") == "Rice wine: no voucher pays for alcohol."
    assert render("{cap_amount}", {"cap_amount": 12345, "currency": "CNY"}, "en") == "123.45"
    assert render("{", params, "en") == "{"  # never a failure at the till
    assert language(None) == language("fr-FR") == language("zh-TW,zh;q=0.9") == "zh-CN"
    assert language("en-US,en;q=0.9,zh-CN;q=0.8") == language("de, en;q=0.5") == "en"
    assert language("en;q=0.4, zh-CN;q=0.8") == "zh-CN"


def test_coverage_is_the_least_of_eligible_cap_unit_price_and_balance() -> None:
    assert wanted_amount(13000, per_visit_cap=10000) == 10000
    assert wanted_amount(8000, per_visit_cap=None, sessions_worth=6000) == 6000
    assert wanted_amount(500, per_visit_cap=10000) == 500
    assert covered_amount(10000, 2500) == 2500
    assert covered_amount(10000, 0) == 0


def test_monthly_allowance_plan() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 1, 15, tzinfo=zone)
    end = datetime(2027, 1, 1, tzinfo=zone)
    plans = plan_credits(face_value=0, valid_from=start, valid_until=end,
                         allowance_amount=30000, allowance_count=12)
    assert len(plans) == 12
    assert plans[0].valid_from == start and plans[0].valid_until == datetime(2026, 2, 1,
                                                                             tzinfo=zone)
    assert plans[11].valid_from == datetime(2026, 12, 1, tzinfo=zone)
    assert plans[11].valid_until == end
    rolling = plan_credits(face_value=5000, valid_from=start, valid_until=end,
                           allowance_amount=30000, allowance_count=12, allowance_rollover=True)
    assert rolling[0].kind == "grant" and all(p.valid_until == end for p in rolling)
    assert sum(p.amount for p in rolling) == 5000 + 12 * 30000


def test_time_ordered_ids_sort_by_time() -> None:
    import time

    from pos.ids import uuid7

    first = uuid7()
    time.sleep(0.002)
    later = [uuid7() for _ in range(100)]
    assert first.version == 7 and all(u.version == 7 for u in later)
    assert all(str(first) < str(u) for u in later)  # a later millisecond sorts after
    assert len(set(later)) == 100
