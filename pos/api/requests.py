"""Request bodies of the HTTP API, validated strictly: integers for money, no extra fields.

The same models give the OpenAPI document its schemas.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from pos.money import MAX_AMOUNT, is_currency

Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_AMOUNT)]
PositiveAmount = Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)]
UnitPrice = Annotated[int, Field(strict=True, ge=0, le=10**9)]
Quantity = Annotated[int, Field(strict=True, gt=0, le=10_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9._:/-]+$")]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
RuleName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                            pattern=r"^[a-z][a-z0-9_]*$")]
CategoryCode = Annotated[str, StringConstraints(min_length=1, max_length=40,
                                                pattern=r"^[a-z][a-z0-9_]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"{value} is not a currency this service knows (ISO 4217)")
    return value


class AllowanceIn(Strict):
    amount: PositiveAmount
    every: Literal["month"] = "month"
    count: Annotated[int, Field(strict=True, ge=1, le=120)]
    rollover: bool = False


class ProgramIn(Strict):
    name: Name
    currency: Currency = "CNY"
    restrictions: Annotated[list[RuleName], Field(min_length=1, max_length=10)]
    rule_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    face_value: Amount = 0
    per_visit_cap: PositiveAmount | None = None
    uses: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    unit_price: PositiveAmount | None = None
    valid_from: date | datetime
    valid_until: date | datetime
    allowance: AllowanceIn | None = None
    require_identity: bool = False
    channels: Annotated[list[RuleName], Field(min_length=1, max_length=10)] = ["cash"]

    _currency = field_validator("currency")(_check_currency)

    @model_validator(mode="after")
    def _consistent(self) -> ProgramIn:
        if (self.uses is None) != (self.unit_price is None):
            raise ValueError(
                "uses and unit_price go together: a count of sessions and a price each")
        for moment in (self.valid_from, self.valid_until):
            if not 2000 <= moment.year <= 9000:
                raise ValueError("program dates must fall between the years 2000 and 9000")
        if self.allowance is None and self.uses is None and self.face_value == 0:
            raise ValueError(
                "a program needs a face_value, an allowance, or uses with a unit_price")
        return self


class MerchantIn(Strict):
    name: Name


class PartnerIn(Strict):
    merchant_id: Annotated[str, StringConstraints(min_length=36, max_length=36)]


class TillIn(Strict):
    name: Name


class BeneficiaryIn(Strict):
    ref: Ref
    holder_ref: Ref | None = None


class IssueIn(Strict):
    beneficiaries: Annotated[list[BeneficiaryIn], Field(min_length=1, max_length=1000)]


class BasketLineIn(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    gtin: Annotated[str, StringConstraints(pattern=r"^[0-9]{8,14}$")] | None = None
    category: CategoryCode
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                  max_length=200)]
    quantity: Quantity
    unit_price: UnitPrice


class BasketIn(Strict):
    currency: Currency
    lines: Annotated[list[BasketLineIn], Field(min_length=1, max_length=200)]


Token = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
ManualCode = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_VOUCHERS = 10  # vouchers paying one basket


class VoucherRefIn(Strict):
    """One voucher of a sale paid by several: its token or its manual code."""

    token: Token | None = None
    code: ManualCode | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> VoucherRefIn:
        if (self.token is None) == (self.code is None):
            raise ValueError("send either the voucher's token or its manual code, not both")
        return self


class QuoteIn(Strict):
    """One voucher (`token` or `code`), or several paying one basket (`vouchers`, in the
    order they were scanned)."""

    token: Token | None = None
    code: ManualCode | None = None
    vouchers: Annotated[list[VoucherRefIn], Field(min_length=1, max_length=MAX_VOUCHERS)
                        ] | None = None
    basket: BasketIn
    identity_confirmed: bool = False
    channel: RuleName = "cash"

    @model_validator(mode="after")
    def _one_credential(self) -> QuoteIn:
        if self.vouchers is not None:
            if self.token is not None or self.code is not None:
                raise ValueError("send either a list of vouchers or one token or code")
        elif (self.token is None) == (self.code is None):
            raise ValueError("send either the voucher's token or its manual code, not both")
        return self


class RedemptionIn(QuoteIn):
    amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _amount_for_one(self) -> RedemptionIn:
        if self.vouchers is not None and self.amount is not None:
            raise ValueError("an exact amount can be asked of one voucher only; with a list "
                             "of vouchers the split is worked out")
        return self


# Vouchers after issue

NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=500)]


class TopUpIn(Strict):
    """A new credit for a voucher: an amount (minor units), or for a program counted in
    uses, a number of uses (worth uses x unit price). Valid from now (or `valid_from`)
    until the program ends (or an earlier `valid_until`)."""

    amount: Annotated[int, Field(strict=True, gt=0, le=MAX_AMOUNT)] | None = None
    uses: Annotated[int, Field(strict=True, gt=0, le=10_000)] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    note: NoteText | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> TopUpIn:
        if (self.amount is None) == (self.uses is None):
            raise ValueError("send either an amount or a number of uses")
        for moment in (self.valid_from, self.valid_until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need a time zone, e.g. 2026-12-31T23:59:59+08:00")
        return self


# Pairing a tablet

DeviceKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class PairingIn(Strict):
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    # The tablet's own Ed25519 public key (raw, base64url): it signs offline sales.
    device_key: DeviceKey | None = None


# Settlement


def _canonical_uuid(value: str) -> str:
    return str(uuid.UUID(value))  # a ValueError becomes a validation_error problem


Id = Annotated[str, StringConstraints(min_length=32, max_length=36),
               AfterValidator(_canonical_uuid)]
Actor = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SettlementIn(Strict):
    period_end: date | datetime
    merchant_id: Id | None = None
    program_id: Id | None = None
    by: Actor = Field(description="Who runs the settlement (recorded on every batch).")


class ApproveIn(Strict):
    by: Actor


class PaidIn(Strict):
    by: Actor
    reference: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=200)] | None = None


class FailedIn(Strict):
    by: Actor
    reason: Note


class PayoutIn(Strict):
    by: Actor
    channel: RuleName = "bank_transfer"


class PayeeIn(Strict):
    account_name: Name
    account_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=34, pattern=r"^[A-Za-z0-9 -]+$")]
    agent_bic: Annotated[str, StringConstraints(
        pattern=r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")] | None = None
    agent_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=35, pattern=r"^[A-Za-z0-9]+$")
                        ] | None = None


# Offline tills (docs/offline.md)

class DeviceKeyIn(Strict):
    public_key: DeviceKey


class OfflineLimitsIn(Strict):
    """A program's offline limits, for one merchant (`merchant_id`) or for all."""

    merchant_id: uuid.UUID | None = None
    enabled: bool = True
    max_per_sale: Amount
    max_till_total: Amount
    max_offline_seconds: Annotated[int, Field(strict=True, gt=0, le=30 * 86400)]


class OfflineSaleIn(Strict):
    """A forwarded offline sale: `sale` is the JSON text the tablet signed (an
    `OfflineSaleRecord`), `signature` its Ed25519 signature, base64url."""

    sale: Annotated[str, StringConstraints(min_length=2, max_length=60_000)]
    signature: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$")]


class OfflineSaleRecord(BaseModel):
    """What a tablet signs for each offline sale (read from `OfflineSaleIn.sale`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    till_id: uuid.UUID
    kit_version: Annotated[int, Field(strict=True, gt=0)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    program_id: uuid.UUID
    voucher_id: uuid.UUID
    occurred_at_ms: Annotated[int, Field(strict=True, gt=0)]
    basket: BasketIn
    covered: PositiveAmount
    identity_confirmed: bool = False
