"""A program's report for officers and funders: where the money went, by category,
merchant and month, and which beneficiaries have not used their voucher yet.

The same figures feed `GET /v1/programs/{id}/report`, `pos report`, the page at
`/reports/{program}` and its CSV downloads. Money is integer minor units throughout;
CSV files also carry major units with the currency's decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from pos.db.pool import Executor
from pos.money import exponent, format_major
from pos.storage import report_queries as store
from pos.storage import setup as setup_store
from pos.storage.setup import Program

# The JSON report lists this many unused beneficiaries; the CSV download lists them all.
UNUSED_LISTED = 1000
SECTIONS = ("summary", "categories", "merchants", "months", "unused")


def _header(program: Program) -> dict[str, Any]:
    """What a report says about its program: a part of the program's usual answer."""
    shown = program.as_json()
    return {key: shown[key] for key in ("id", "name", "currency", "valid_from", "valid_until")}


def rounded_average(total: int, count: int) -> int:
    """total / count rounded half up, in integers (no floats in the money path)."""
    return (2 * total + count) // (2 * count) if count else 0


async def _categories(db: Executor, program_id: str, redeemed: int) -> list[dict[str, Any]]:
    categories = await store.by_category(db, program_id)
    uncategorised = redeemed - sum(c["amount"] for c in categories)
    if uncategorised:
        # Redemptions with no eligible line on record: kept visible, never silently lost.
        categories.append({"category": "uncategorised", "redemptions": None,
                           "amount": uncategorised})
    return categories


async def program_report(db: Executor, program_id: str, timezone: str) -> dict[str, Any]:
    program = await setup_store.get_program(db, program_id)
    t = await store.totals(db, program_id)
    categories = await _categories(db, program_id, t["redeemed"])
    refs = await store.unused_refs(db, program_id, UNUSED_LISTED)
    return {
        "program": _header(program),
        "currency": program.currency,
        "exponent": exponent(program.currency),
        "generated_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "vouchers": {"issued": t["vouchers"], "unused": t["unused"]},
        "value": {
            "issued": t["issued"], "redeemed": t["redeemed"], "voided": t["voided"],
            "expired": t["expired"], "remaining": t["remaining"],
            # Zero when every yuan issued is redeemed, expired or still held.
            "unaccounted": t["issued"] - t["redeemed"] - t["expired"] - t["remaining"],
        },
        "redemptions": {
            "count": t["redemptions"], "voided": t["voids"],
            "average_basket": rounded_average(t["baskets"], t["redemptions"]),
            "average_covered": rounded_average(t["redeemed"], t["redemptions"]),
        },
        "by_category": categories,
        "by_merchant": await store.by_merchant(db, program_id),
        "by_month": await store.by_month(db, program_id, timezone),
        "unused_beneficiaries": {"count": t["unused"], "refs": refs,
                                 "truncated": t["unused"] > len(refs)},
    }


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    # With a BOM, Excel reads the file as UTF-8 and shows Chinese names.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


async def report_csv(db: Executor, program_id: str, section: str, timezone: str) -> bytes:
    """One section of the report as a CSV file (reading only what that section needs)."""
    cur = (await setup_store.get_program(db, program_id)).currency

    def money(amount: int) -> tuple[str, int]:
        return format_major(amount, cur), amount

    if section == "summary":
        report = await program_report(db, program_id, timezone)
        value, red = report["value"], report["redemptions"]
        rows: list[Sequence[Any]] = [
            ("vouchers_issued", report["vouchers"]["issued"], ""),
            ("vouchers_unused", report["vouchers"]["unused"], ""),
            ("redemptions", red["count"], ""),
            ("voids", red["voided"], ""),
        ]
        rows += [(f"value_{k}", *money(v)) for k, v in value.items()]
        rows += [("average_basket", *money(red["average_basket"])),
                 ("average_covered", *money(red["average_covered"]))]
        return _csv(("figure", f"value ({cur})", "minor_units"), rows)
    if section == "categories":
        return _csv(("category", "redemptions", f"amount ({cur})", "amount_minor"),
                    ((c["category"], c["redemptions"] or "", *money(c["amount"]))
                     for c in await _categories(db, program_id,
                                                (await store.totals(db, program_id))["redeemed"])))
    if section == "merchants":
        return _csv(("merchant_id", "merchant_name", "redemptions", f"redeemed ({cur})",
                     "redeemed_minor", "voids", f"voided ({cur})", "voided_minor"),
                    ((m["merchant_id"], m["merchant_name"], m["redemptions"],
                      *money(m["redeemed"]), m["voids"], *money(m["voided"]))
                     for m in await store.by_merchant(db, program_id)))
    if section == "months":
        return _csv(("month", "redemptions", f"redeemed ({cur})", "redeemed_minor", "voids",
                     f"voided ({cur})", "voided_minor"),
                    ((m["month"], m["redemptions"], *money(m["redeemed"]), m["voids"],
                      *money(m["voided"])) for m in await store.by_month(db, program_id,
                                                                        timezone)))
    refs = await store.unused_refs(db, program_id, None)
    return _csv(("beneficiary_ref",), ((ref,) for ref in refs))
