"""A restriction rule's decision written as data, so a till can apply it without the network.

A rule that can describe itself returns an `OfflineRule` from the `pos_describe_restriction`
hook: which categories it pays for, which it never pays for, which shops, and what a barcode
must be (an ISBN-13, or a product on the approved list of a given version). `decide_line`
is the one decision function: the built-in rules decide online through it, and the tablet's
`offline_rules.js` is the same function in JavaScript, applied to the same description
from the signed offline kit (tests run both on many baskets and compare). A rule that
cannot be described is online-only, and so is every program that uses it.

`decide_line` answers with a `why` code; each rule turns it into its own sentence online,
the tablet into a sentence in the cashier's language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pos.plugin.types import BasketLine

GtinCheck = Literal["", "isbn13", "approved"]

# The outcomes of `decide_line`; only "covered" is eligible.
WHY_CODES = ("never", "excluded", "not_covered", "not_this_shop", "not_isbn", "no_list",
             "no_gtin", "not_listed", "covered")


@dataclasses.dataclass(frozen=True)
class OfflineRule:
    """One rule's decision as data (what the offline kit carries per program and rule).

    `allowed` None pays for any category; `denied` are never paid for; `excluded` are
    refused by this program's own settings; `merchants` None means any partner shop.
    """

    rule: str
    purpose: str = ""
    allowed: tuple[str, ...] | None = None
    denied: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    merchants: tuple[str, ...] | None = None
    gtin_check: GtinCheck = ""
    approved_gtins: tuple[str, ...] = ()
    list_version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OfflineRule:
        def tup(key: str) -> tuple[str, ...] | None:
            value = data.get(key)
            return None if value is None else tuple(str(v) for v in value)

        return cls(
            rule=str(data["rule"]), purpose=str(data.get("purpose", "")),
            allowed=tup("allowed"), denied=tup("denied") or (),
            excluded=tup("excluded") or (), merchants=tup("merchants"),
            gtin_check=data.get("gtin_check", ""), approved_gtins=tup("approved_gtins") or (),
            list_version=data.get("list_version"))


def is_isbn13(code: str) -> bool:
    """An ISBN-13 (Bookland EAN): 13 digits, prefix 978/979, weights 1,3,1,3... sum to 0
    mod 10."""
    if len(code) != 13 or not code.isdigit() or code[:3] not in ("978", "979"):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code))
    return total % 10 == 0


def decide_line(rule: OfflineRule, line: BasketLine, merchant_id: str) -> str:
    """The `why` code of one line (see WHY_CODES); checks run in this fixed order, and
    `offline_rules.js` runs the same ones in the same order."""
    if line.category in rule.denied:
        return "never"
    if line.category in rule.excluded:
        return "excluded"
    if rule.allowed is not None and line.category not in rule.allowed:
        return "not_covered"
    if rule.merchants is not None and merchant_id not in rule.merchants:
        return "not_this_shop"
    if rule.gtin_check == "isbn13" and line.gtin is not None and not is_isbn13(line.gtin):
        return "not_isbn"
    if rule.gtin_check == "approved":
        if rule.list_version is None:
            return "no_list"
        if not line.gtin:
            return "no_gtin"
        if line.gtin not in rule.approved_gtins:
            return "not_listed"
    return "covered"


def decide_lines(rule: OfflineRule, lines: Sequence[BasketLine], merchant_id: str
                 ) -> list[str]:
    return [decide_line(rule, line, merchant_id) for line in lines]
