"""Demo data for `make run`: two programs, two merchants, a till each, a few vouchers.

Loaded once per data folder; what a person needs to try the till (till secrets, a voucher
token and code) is kept in `demo.json` in the data folder, readable only by the service.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pos.api.auth import new_till_secret, secret_hash
from pos.service.services import Services
from pos.signing.keys import write_secret_file
from pos.storage import setup as setup_store
from pos.vouchers import issuance

FILE_NAME = "demo.json"


def _program(name: str, zone: ZoneInfo, **values: Any) -> dict[str, Any]:
    today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    base: dict[str, Any] = {
        "name": name, "currency": "CNY", "rule_settings": {}, "face_value": 0,
        "per_visit_cap": None, "uses": None, "unit_price": None,
        "valid_from": today - timedelta(days=1), "valid_until": today + timedelta(days=180),
        "allowance": None, "require_identity": False, "channels": ["cash"],
    }
    base.update(values)
    return base


async def load_demo(services: Services) -> dict[str, Any]:
    """Create the demo data unless this data folder has it; return what to show."""
    path = services.data_dir / FILE_NAME
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    pool = services.pool
    zone = ZoneInfo(services.config.redemption.timezone)
    wish = await setup_store.create_program(pool, _program(
        "Wish voucher 心愿券", zone, restrictions=["categories"], face_value=30000,
        per_visit_cap=10000, rule_settings={"categories": {
            "allowed": ["stationery", "school_bags", "sports_goods", "daily_goods"]}}))
    nutrition = await setup_store.create_program(pool, _program(
        "Nutrition growth voucher 营养成长券", zone, restrictions=["categories"],
        face_value=15000, rule_settings={"categories": {
            "allowed": ["dairy", "infant_formula", "food"], "denied": ["sweets"]}}))
    shops = {}
    for name, programs in (("Township Stationery 乡镇文具店", [wish]),
                           ("Little Sprout Mother & Baby 小芽母婴店", [nutrition, wish])):
        merchant = await setup_store.create_merchant(pool, name)
        for program in programs:
            await setup_store.add_partner(pool, program, merchant)
        secret = new_till_secret()
        await setup_store.create_till(pool, merchant, "Counter 1", secret_hash(secret))
        shops[name] = {"merchant_id": merchant, "till_secret": secret}
    vouchers = {
        "wish": await issuance.issue_vouchers(
            services, wish, [{"ref": f"demo-child-{i:03d}"} for i in range(1, 4)]),
        "nutrition": await issuance.issue_vouchers(
            services, nutrition, [{"ref": f"demo-child-{i:03d}"} for i in range(1, 4)]),
    }
    demo = {"programs": {"wish": wish, "nutrition": nutrition}, "merchants": shops,
            "vouchers": vouchers}
    write_secret_file(path, json.dumps(demo, ensure_ascii=False, indent=2).encode())
    return demo
