"""Request bodies of the settlement API, validated as strictly as the till's."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from pos.schemas import Name, RuleName, Strict


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
