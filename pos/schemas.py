"""Request bodies of the HTTP API, validated strictly: integers for money, no extra fields.

The same models give the OpenAPI document its schemas.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
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


class QuoteIn(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    basket: BasketIn
    identity_confirmed: bool = False
    channel: RuleName = "cash"

    @model_validator(mode="after")
    def _one_credential(self) -> QuoteIn:
        if (self.token is None) == (self.code is None):
            raise ValueError("send either the voucher's token or its manual code, not both")
        return self


class RedemptionIn(QuoteIn):
    amount: PositiveAmount | None = None


class KeyStatusIn(Strict):
    status: Literal["retired", "revoked"]
