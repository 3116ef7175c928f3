"""Demo data for `make run`: two programs, two merchants, a till each, a few vouchers, and
for each program one basket that works at the till.

The programs are defined through the same checks as the API's (`define_program`), so the
demo cannot name a category that does not exist, and each pays for what its name says: the
wish voucher for study supplies, sports and daily goods, at most 100 per shop and day; the
nutrition growth voucher for milk and milk powder (two vouchers of 150 per child), never
for sweets. Loaded once per data folder; what a person needs to try the till (till
secrets, vouchers' tokens and codes, the baskets) is kept in `demo.json` in the data
folder, readable only by the service.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pos.accounts import signing_in
from pos.api.auth import new_till_secret, secret_hash
from pos.api.requests import ProgramIn
from pos.cli.texts import CLI_TEXTS, say
from pos.money import format_major
from pos.roles import Role
from pos.service.services import Services
from pos.signing.keys import write_secret_file
from pos.storage import setup as setup_store
from pos.vouchers import issuance
from pos.vouchers.programs import define_program

FILE_NAME = "demo.json"

WISH = {
    "name": "Wish voucher 心愿券", "restrictions": ["categories"], "face_value": 30000,
    "per_visit_cap": 10000, "rule_settings": {"categories": {"allowed": [
        "stationery", "school_bags", "art_supplies", "sports_goods", "books", "clothing",
        "shoes", "household", "toiletries"]}},
}
NUTRITION = {
    "name": "Nutrition growth voucher 营养成长券", "restrictions": ["nutrition"],
    "face_value": 15000, "rule_settings": {"nutrition": {"only": [
        "milk", "milk_powder", "dairy", "infant_formula"]}},
}
# One basket per program that the till can take, as a cashier would scan it.
BASKETS: dict[str, dict[str, Any]] = {
    "wish": {"currency": "CNY", "lines": [
        {"sku": "PEN-BOX", "category": "stationery", "description": "Pencil case 笔袋",
         "quantity": 1, "unit_price": 4500},
        {"sku": "BALL-5", "category": "sports_goods", "description": "Football 足球",
         "quantity": 1, "unit_price": 8500}]},
    "nutrition": {"currency": "CNY", "lines": [
        {"sku": "MILK-1L", "category": "milk", "description": "Whole milk 纯牛奶 1L",
         "quantity": 2, "unit_price": 1500},
        {"sku": "CANDY", "category": "sweets", "description": "Candy 糖果",
         "quantity": 1, "unit_price": 800}]},
}
def _program(values: dict[str, Any], zone: ZoneInfo) -> ProgramIn:
    today = datetime.now(zone).date()
    return ProgramIn.model_validate({
        **values, "currency": "CNY", "valid_from": today - timedelta(days=1),
        "valid_until": today + timedelta(days=180), "time_zone": zone.key})


async def load_demo(services: Services) -> dict[str, Any]:
    """Create the demo data unless this data folder has it; return what to show."""
    path = services.data_dir / FILE_NAME
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    pool = services.pool
    zone = ZoneInfo(services.config.redemption.timezone)
    wish = await define_program(services, _program(WISH, zone))
    nutrition = await define_program(services, _program(NUTRITION, zone))
    shops = {}
    for name, programs in (("Township Stationery 乡镇文具店", [wish]),
                           ("Little Sprout Mother & Baby 小芽母婴店", [nutrition, wish])):
        merchant = await setup_store.create_merchant(pool, name)
        for program in programs:
            await setup_store.add_partner(pool, program, merchant)
        secret = new_till_secret()
        await setup_store.create_till(pool, merchant, "1 号收银台 Counter 1",
                                       secret_hash(secret))
        shops[name] = {"merchant_id": merchant, "till_secret": secret}
    children = [f"demo-child-{i:03d}" for i in range(1, 4)]
    vouchers = {
        "wish": await issuance.issue_vouchers(services, wish, [{"ref": c} for c in children]),
        # Two vouchers of 150 per child: two grants.
        "nutrition": await issuance.issue_vouchers(
            services, nutrition,
            [{"ref": c, "grant": g} for c in children for g in ("first", "second")]),
    }
    # People to sign in to the console with: each one-time password must be changed at the
    # first sign-in, so what the data folder keeps stops working once someone has.
    accounts = {}
    people: tuple[tuple[str, Role], ...] = (
        ("demo.officer", "officer"), ("demo.finance", "finance"), ("demo.auditor", "auditor"))
    for login, role in people:
        made = await signing_in.add_account(pool, login, role, with_token=False)
        accounts[login] = {"role": role, "one_time_password": made.one_time_password}
    demo = {"programs": {"wish": wish, "nutrition": nutrition}, "merchants": shops,
            "vouchers": vouchers, "baskets": BASKETS, "accounts": accounts}
    write_secret_file(path, json.dumps(demo, ensure_ascii=False, indent=2).encode())
    return demo


def basket_lines(demo: dict[str, Any]) -> list[str]:
    """What `pos run --demo` prints: per program, a voucher code and a basket that works,
    in the terminal's language (`pos.cli.texts`)."""
    out = []
    for program, basket in demo.get("baskets", BASKETS).items():
        voucher = demo["vouchers"][program][0]
        items = say("list_sep").join(say("serve.basket_item", quantity=line["quantity"],
                                  description=line["description"],
                                  price=format_major(line["unit_price"], "CNY"))
                              for line in basket["lines"])
        outcome = (say(f"serve.outcome.{program}") if f"serve.outcome.{program}" in CLI_TEXTS
                   else "")
        out.append(say("serve.basket", program=program, code=voucher["code"], items=items,
                       outcome=outcome))
    return out
