# ruff: noqa: RUF001
"""`approved_products`: only products on the program's approved product list (by GTIN), as
eWIC retailers receive an approved product list from their agency.

The list is uploaded as CSV through the admin API (`PUT /v1/programs/<id>/approved-products`)
and versioned; each decision carries the version it was made against
(`detail.list_version`), which is stored with the redemption line.

The lists and their upload route are core features; the rule reads them as any plugin may,
through `ctx.reads.approved_products` (one statement, so one snapshot: a list replaced
meanwhile is seen whole or not at all).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from pos import hookimpl
from pos.plugin.offline_rules import OfflineRule, decide_line
from pos.plugin.types import BasketLine, LineDecision, RestrictionRegistry, RuleContext


class ApprovedProductsRule:
    name = "approved_products"
    description = "Only products on the program's approved product list (GTINs)."
    messages = {
        "buys": {"zh-CN": "项目核准商品清单上的商品",
                 "en": "products on the program's approved list"},
        "no_list": {"zh-CN": "{description}：本项目还没有核准商品清单。",
                    "en": "{description}: this program has no approved product list yet."},
        "no_gtin": {"zh-CN": "{description}：请扫描条码，只支付清单上的商品。",
                    "en": "{description}: scan the barcode; only listed products are "
                          "paid for."},
        "covered": {"zh-CN": "{description}：在核准商品清单上（第 {version} 版）。",
                    "en": "{description}: on the approved product list (version {version})."},
        "not_listed": {"zh-CN": "{description}：不在核准商品清单上（第 {version} 版）。",
                       "en": "{description}: not on the approved product list "
                             "(version {version})."},
    }

    async def describe(self, ctx: RuleContext, gtins: Sequence[str] | None = None
                       ) -> OfflineRule:
        """The list as data: the whole current list (for the offline kit), or only the
        entries among `gtins` (a basket's barcodes, online)."""
        if ctx.reads is None:
            raise RuntimeError("approved_products needs ctx.reads to look the list up")
        found = await ctx.reads.approved_products(ctx.program.id, gtins)
        return OfflineRule(rule=self.name, gtin_check="approved",
                           approved_gtins=tuple(sorted(found.listed)),
                           list_version=found.version)

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        rule = await self.describe(ctx, sorted({line.gtin for line in lines if line.gtin}))
        version = rule.list_version
        detail = {"list_version": version}
        decisions = []
        for line in lines:
            why = decide_line(rule, line, ctx.merchant_id)
            decisions.append(LineDecision(why == "covered", why, {"version": version}, detail))
        return decisions


@hookimpl
def pos_describe_restriction(rule: str, ctx: RuleContext) -> Awaitable[OfflineRule] | None:
    return ApprovedProductsRule().describe(ctx) if rule == ApprovedProductsRule.name else None


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(ApprovedProductsRule())
