"""`cash`: the remainder of the basket is paid in cash at the till. Recorded, nothing to call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.types import ChannelRegistry, ChannelRequest, ChannelResult


class CashChannel:
    name = "cash"
    description = "The holder pays the remainder in cash at the till."
    external = False  # no provider is called: nothing for the core to journal or reverse

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(True, message="Collect the remainder in cash.")

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(True, message="Give the remainder back in cash.")

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(False, message="Merchants are not paid out in cash.")


@hookimpl
def pos_register_payment_channels(register: ChannelRegistry, settings: Mapping[str, Any]) -> None:
    register.add(CashChannel())
