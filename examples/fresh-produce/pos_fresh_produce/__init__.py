# ruff: noqa: RUF001
"""`fresh_produce`: a voucher pays for fresh fruit and vegetables only.

An example of a complete plugin: it declares its settings, registers one restriction rule,
and gives every line a reason a cashier can read aloud. It imports nothing of the service
but `pos.hookimpl` and `pos.plugin.types`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pos import hookimpl
from pos.plugin.types import BasketLine, LineDecision, RestrictionRegistry, RuleContext, Setting

FRESH = "fruit_vegetables"


class FreshProduceRule:
    name = "fresh_produce"
    description = "Fresh fruit and vegetables only."
    # Every reason in both languages: the core shows the one the till asks for (Chinese
    # first). `{description}` is the line's; other fields come from the decision's params.
    messages = {
        # Not a reason: what the voucher buys, in plain words, for the holder's page.
        "buys": {"zh-CN": "新鲜蔬果", "en": "fresh fruit and vegetables"},
        "not_fresh": {"zh-CN": "{description}：本券只支付新鲜蔬果。",
                      "en": "{description}: only fresh fruit and vegetables are paid for by "
                            "this voucher."},
        "excluded": {"zh-CN": "{description}：本项目不支付这件商品。",
                     "en": "{description}: this product is excluded by the program."},
        "over_cap": {"zh-CN": "{description}：超过本券单行可支付的 {cap_amount} 元。",
                     "en": "{description}: more than the {cap_amount} this voucher pays for "
                           "one line of fresh produce."},
        "fresh": {"zh-CN": "{description}：新鲜蔬果，可用本券支付。",
                  "en": "{description}: fresh produce is covered."},
    }

    async def decide(self, ctx: RuleContext, lines: Sequence[BasketLine]) -> list[LineDecision]:
        # ctx.settings is this plugin's [plugins.fresh_produce] table, already checked and
        # converted to the declared types; the program's own options are separate.
        covered = {FRESH, *ctx.settings["also_cover"]}
        cap = ctx.settings["max_line_total"]
        excluded = set(ctx.program.settings_for(self.name).get("exclude_gtins", []))
        return [self._decide(line, covered, cap, excluded) for line in lines]

    @staticmethod
    def _decide(line: BasketLine, covered: set[str], cap: int, excluded: set[str]
                ) -> LineDecision:
        if line.category not in covered:
            return LineDecision(False, "not_fresh")
        if line.gtin is not None and line.gtin in excluded:
            return LineDecision(False, "excluded")
        if cap and line.total > cap:
            # A decision may carry detail; it is stored with the redemption line.
            return LineDecision(False, "over_cap", {"cap_amount": cap}, {"cap": cap})
        return LineDecision(True, "fresh")


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("max_line_total", int, 0,
                "Largest line total paid for, in minor units (0 = no cap)."),
        Setting("also_cover", tuple, (), "More category codes this rule pays for."),
    ]


@hookimpl
def pos_register_restrictions(register: RestrictionRegistry, settings: Mapping[str, Any]) -> None:
    register.add(FreshProduceRule())
