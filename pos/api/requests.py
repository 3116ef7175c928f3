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

from pos.api.field_errors import refusal
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
        raise refusal("unknown_currency", currency=value)
    return value


class AllowanceIn(Strict):
    amount: PositiveAmount
    every: Literal["month"] = "month"
    count: Annotated[int, Field(strict=True, ge=1, le=120)]
    rollover: bool = False


TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                                pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$")]


class LimitIn(Strict):
    """A limit across all merchants: at most so many redemptions and/or so much money per
    local day, week (Monday to Sunday) or calendar month."""

    period: Literal["day", "week", "month"]
    max_redemptions: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    max_amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _bounded(self) -> LimitIn:
        if self.max_redemptions is None and self.max_amount is None:
            raise refusal("limit_bounded")
        return self

    def stored(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


Limits = Annotated[list[LimitIn], Field(max_length=6)]


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
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA time zone of the program's days and months; "
        "the service's redemption.timezone when absent.")
    limits: Limits = Field(default_factory=list)

    _currency = field_validator("currency")(_check_currency)

    @model_validator(mode="after")
    def _consistent(self) -> ProgramIn:
        if (self.uses is None) != (self.unit_price is None):
            raise refusal("uses_with_price")
        for moment in (self.valid_from, self.valid_until):
            if not 2000 <= moment.year <= 9000:
                raise refusal("program_years")
        if self.allowance is None and self.uses is None and self.face_value == 0:
            raise refusal("program_value")
        return self


class ProgramPatchIn(Strict):
    """What may change in a running program; every other field is refused. Changes apply
    to later redemptions only, and are recorded with `by`."""

    # Who changed it; a named account is recorded as itself whatever is sent here.
    by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=200)] | None = None
    name: Name | None = None
    valid_until: date | datetime | None = None
    per_visit_cap: PositiveAmount | None = None
    limits: Limits | None = None
    rule_settings: dict[str, dict[str, Any]] | None = None
    merchant_ids: Annotated[list[Annotated[str, StringConstraints(
        min_length=36, max_length=36)]], Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _in_range(self) -> ProgramPatchIn:
        if self.valid_until is not None and not 2000 <= self.valid_until.year <= 9000:
            raise refusal("program_years")
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
    grant: Ref | None = Field(
        default=None, description="Which grant of the program this voucher is, when a "
        "beneficiary receives several (e.g. 'first', 'second'); each (ref, grant) once.")


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
            raise refusal("one_credential")
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
                raise refusal("list_or_one")
        elif (self.token is None) == (self.code is None):
            raise refusal("one_credential")
        return self


class RedemptionIn(QuoteIn):
    amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _amount_for_one(self) -> RedemptionIn:
        if self.vouchers is not None and self.amount is not None:
            raise refusal("amount_for_one")
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
            raise refusal("amount_or_uses")
        for moment in (self.valid_from, self.valid_until):
            if moment is not None and moment.tzinfo is None:
                raise refusal("time_zone_needed")
        return self


# Pairing a tablet

DeviceKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class PairingIn(Strict):
    code: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    # The tablet's own Ed25519 public key (raw, base64url): it signs offline sales.
    device_key: DeviceKey | None = None


# Settlement


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise refusal("not_an_id") from None


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


# ------------------------------------------------------------------------------------------
# accounts and the console

Login = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2,
                                         max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]+$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class AccountIn(Strict):
    """A named account; the answer carries a one-time password (and with `token`, a
    personal API token), shown only once."""

    login: Login
    role: Literal["admin", "officer", "finance", "auditor"]
    token: bool = False


class PasswordChangeIn(Strict):
    current: Password
    new: Password


class TokenIn(Strict):
    name: Name = Field(description="What the token is for, e.g. the script that uses it.")


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
    """What a tablet signs for each offline sale (read from `OfflineSaleIn.sale`).

    The voucher is named by the token the till scanned, or, for a typed manual code, by
    `code_hash`: the code's hash as the service stores it (base64url of SHA-256 of its
    normalised body), so the tablet keeps no typed code in the clear."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    till_id: uuid.UUID
    kit_version: Annotated[int, Field(strict=True, gt=0)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    code_hash: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")] | None = None
    program_id: uuid.UUID
    voucher_id: uuid.UUID
    occurred_at_ms: Annotated[int, Field(strict=True, gt=0)]
    basket: BasketIn
    covered: PositiveAmount
    identity_confirmed: bool = False

    @model_validator(mode="after")
    def _one_voucher_credential(self) -> OfflineSaleRecord:
        if (self.token is None) == (self.code_hash is None):
            raise refusal("offline_credential")
        return self
