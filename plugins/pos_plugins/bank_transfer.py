"""`bank_transfer`: merchants are reimbursed by bank transfer, through settlement files.

A payout does not move money by itself: it records an instruction (amount, merchant,
the paying organisation's account from this plugin's settings) that the settlement export
(e.g. ISO 20022 pain.001) carries to the bank. It cannot take a basket's remainder at the
till, so `collect` and `refund` decline: list it in a program's `channels` only for payouts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.types import ChannelRegistry, ChannelRequest, ChannelResult, Setting


class BankTransferChannel:
    name = "bank_transfer"
    description = "Merchant payouts by bank transfer, carried by settlement files."
    external = False  # no provider is called: nothing to journal or reverse

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.debtor = {k: str(settings.get(k, "")) for k in
                       ("debtor_name", "debtor_iban", "debtor_bic")}

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(False, message="A bank transfer cannot pay at the till.")

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        return ChannelResult(False, message="Nothing was taken by bank transfer at the till.")

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        if request.amount <= 0 or not request.merchant_id:
            return ChannelResult(False, message="A payout needs a merchant and an amount.")
        # The end-to-end id the bank file carries: stable for the same idempotency key, so
        # a repeated payout instruction is recognisably the same transfer.
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:20]
        return ChannelResult(True, reference=f"BT-{digest.upper()}",
                             message="Included in the next settlement file for the bank.")


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("debtor_name", str, "", "Name of the paying organisation's account."),
        Setting("debtor_iban", str, "", "IBAN (or account number) payouts are made from."),
        Setting("debtor_bic", str, "", "BIC of the paying organisation's bank."),
    ]


@hookimpl
def pos_register_payment_channels(register: ChannelRegistry, settings: Mapping[str, Any]) -> None:
    register.add(BankTransferChannel(settings))
