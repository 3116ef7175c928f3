# ruff: noqa: RUF001
"""Four eyes on money: a settlement batch is approved by another account than the one that
cut its run, and a large top-up (or top-ups of one voucher that add up to much within a day)
or reissue asked for by one account is carried out only when a different account confirms it.

Named accounts are held to this, in the console and the API and at the command line alike:
`pos settle approve ID --as LOGIN` names the approving account (`settlement_account`) and
goes through the same `check_approver` as the console. The bootstrap admin token is for
set-up and automation; its actions are logged like anyone's but it is one identity, so it
cannot be "another person" and is not asked to be.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pos.accounts.staff import Staff
from pos.api.requests import TopUpIn
from pos.errors import (
    ALREADY_DECIDED,
    FORBIDDEN,
    NOT_FOUND,
    SECOND_PERSON_REQUIRED,
    Problem,
    not_found,
)
from pos.messages import Message, Phrase, msg, words
from pos.roles import ADMITS
from pos.service.services import Services
from pos.storage import accounts as account_store
from pos.storage import confirmations as store
from pos.storage import console_lists
from pos.storage import vouchers as voucher_store
from pos.vouchers import lifecycle


def _second_person(detail: Message | Phrase) -> Problem:
    return SECOND_PERSON_REQUIRED(detail)


async def check_approver(services: Services, batch_id: str, staff: Staff) -> None:
    """Refuse the approval of a batch by the account that cut its run."""
    cut = await console_lists.run_cut_by(services.pool, batch_id)
    if cut is None:
        raise not_found("settlement batch")
    if staff.is_person and cut[1] == staff.account_id:
        raise _second_person(msg("second_person_required.batch", login=staff.login))


async def settlement_account(services: Services, login: str) -> Staff:
    """The named account a settlement command acts as (`--as LOGIN`): it must exist, be
    enabled and hold a role the API's settlement routes admit (finance, admin). It is then
    held to four eyes exactly as it would be signed in."""
    login = login.strip().lower()
    account = await account_store.account_by_login(services.pool, login)
    if account is None:
        raise NOT_FOUND(msg("not_found.account", login=login))
    if account.disabled:
        raise FORBIDDEN(msg("forbidden.account_disabled", login=login))
    if account.role not in ADMITS["finance"]:
        raise FORBIDDEN(msg("forbidden.cannot_settle", login=login))
    return Staff(role=account.role, via="command_line", login=account.login,
                 account_id=account.id)


def _threshold(services: Services) -> int:
    return services.config.console.second_confirmation_above


def top_up_amount(payload: TopUpIn, unit_price: int | None) -> int:
    if payload.amount is not None:
        return payload.amount
    return (payload.uses or 0) * (unit_price or 0)


@dataclasses.dataclass(frozen=True)
class Held:
    """A change that waits for a second account."""

    pending: store.PendingChange

    def answer(self) -> dict[str, Any]:
        return {"status": "awaiting_confirmation", "confirmation": self.pending.as_dict(),
                "detail": "Above the amount one person may move alone: another account must "
                          "confirm this before it happens."}


async def hold_top_up(services: Services, staff: Staff, voucher_id: str, payload: TopUpIn,
                      key: str) -> Held | None:
    """Hold a large top-up by a named account for confirmation; None: go ahead now."""
    threshold = _threshold(services)
    if not staff.is_person or threshold <= 0:
        return None
    voucher = await voucher_store.get_voucher(services.pool, voucher_id)
    amount = top_up_amount(payload, voucher.get("unit_price"))
    # Top-ups granted alone in the last day count too, so splitting one large top-up into
    # small ones does not move it past the second person.
    granted, alone = await store.recent_top_ups(services.pool, voucher_id, key)
    if granted or amount + alone <= threshold:
        return None  # a retry of a granted top-up gets its first answer
    body = {"top_up": payload.model_dump(mode="json", exclude_none=True), "key": key}
    for earlier in await store.open_changes(services.pool, voucher_id):
        if earlier.payload == body:  # a retry of the same request: the same wait
            return Held(earlier)
    return Held(await store.request(services.pool, "top_up", voucher_id, amount, body,
                                    staff.login, staff.account_id))


async def hold_reissue(services: Services, staff: Staff, voucher_id: str) -> Held | None:
    """Hold the reissue of a voucher holding much value; None: go ahead now."""
    threshold = _threshold(services)
    if not staff.is_person or threshold <= 0:
        return None
    voucher = await voucher_store.get_voucher(services.pool, voucher_id)
    value = int(voucher["total_remaining"])
    if value <= threshold:
        return None
    return Held(await store.request(services.pool, "reissue", voucher_id, value, {},
                                    staff.login, staff.account_id))


async def confirm(services: Services, staff: Staff, pending_id: str) -> dict[str, Any]:
    """Carry out a held change as the second person; its answer is kept with it."""
    pending = await store.get(services.pool, pending_id)
    if pending is None:
        raise not_found("change awaiting confirmation")
    if pending.status != "pending":
        raise ALREADY_DECIDED(f"This change was already {pending.status}.")
    if staff.is_person and staff.account_id == pending.requested_by_id:
        raise _second_person(words("这项变更是您提出的，须由另一个账号确认。",
                                   "You asked for this change; another account must confirm "
                                   "it."))
    if not await store.decide(services.pool, pending_id, "confirmed", staff.login):
        raise ALREADY_DECIDED("This change was just decided by someone else.")
    try:
        outcome = await _carry_out(services, pending)
    except Exception:
        await store.reopen(services.pool, pending_id)
        raise
    # A reissue's new token and code go to whoever confirmed, never into the database.
    kept = {k: v for k, v in outcome.items() if k not in _HELD_BY_THE_HOLDER}
    await store.record_outcome(services.pool, pending_id, kept)
    return {"status": "confirmed", "confirmation": pending_id, "outcome": outcome}


_HELD_BY_THE_HOLDER = frozenset({"token", "code", "holder_link"})


async def cancel(services: Services, staff: Staff, pending_id: str) -> None:
    if await store.get(services.pool, pending_id) is None:
        raise not_found("change awaiting confirmation")
    if not await store.decide(services.pool, pending_id, "cancelled", staff.login):
        raise ALREADY_DECIDED("This change was already decided.")


async def _carry_out(services: Services, pending: store.PendingChange) -> dict[str, Any]:
    if pending.kind == "reissue":
        return await lifecycle.reissue(services, pending.voucher_id)
    payload = TopUpIn.model_validate_json(json.dumps(pending.payload["top_up"]))
    done = await lifecycle.top_up(services, pending.voucher_id, payload,
                                  f"confirmed:{pending.id}")
    return dict(done.answer)
