"""Finding and checking the voucher a till names, by token or manual code.

A token is read once, unverified, to find the row (so the load can share a round trip with
the idempotency claim); that reading is verified in full, with one Ed25519 call, before
anything is decided on it.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Protocol

from pos import codes
from pos.errors import (
    INVALID_TOKEN,
    MERCHANT_NOT_ACCEPTED,
    RATE_LIMITED,
    TOKEN_EXPIRED,
    TOKEN_NOT_YET_VALID,
    VOUCHER_EXHAUSTED,
    VOUCHER_REVOKED,
    VOUCHER_SUSPENDED,
    Problem,
    not_found,
)
from pos.messages import msg
from pos.service.services import Services
from pos.signing import tokens
from pos.signing.tokens import ParsedToken, VoucherClaims
from pos.storage import issuances as issuance_store
from pos.storage import throttles
from pos.storage import till_lookup as store
from pos.storage.redemptions import RedeemRefusal
from pos.storage.till_lookup import VoucherState


class Credential(Protocol):
    """What names one voucher: a quote's own token or code, or one entry of its list."""

    @property
    def token(self) -> str | None: ...

    @property
    def code(self) -> str | None: ...


@dataclasses.dataclass(frozen=True)
class Till:
    """The till making a request, and its merchant."""

    till_id: str
    merchant_id: str


# ------------------------------------------------------------------------------------------
# refusals


def expired() -> Problem:
    return TOKEN_EXPIRED(msg("token_expired"))


def revoked() -> Problem:
    return VOUCHER_REVOKED(msg("voucher_revoked"))


def suspended() -> Problem:
    return VOUCHER_SUSPENDED(msg("voucher_suspended"))


def exhausted() -> Problem:
    return VOUCHER_EXHAUSTED(msg("voucher_exhausted"))


_STATUS_PROBLEMS = {"suspended": suspended, "revoked": revoked, "expired": expired}


def refused(refusal: RedeemRefusal) -> Problem:
    """The problem for why `pos_redeem` wrote nothing (the voucher changed under the lock)."""
    if refusal is RedeemRefusal.NOT_FOUND:
        return not_found("voucher")
    return {RedeemRefusal.VOUCHER_SUSPENDED: suspended, RedeemRefusal.VOUCHER_REVOKED: revoked,
            RedeemRefusal.VOUCHER_EXPIRED: expired,
            RedeemRefusal.VOUCHER_EXHAUSTED: exhausted}[refusal]()


# ------------------------------------------------------------------------------------------
# finding the voucher


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _verify_token(services: Services, token: ParsedToken) -> VoucherClaims:
    """`token` is what `locate` read: verified here without reading it again."""
    if not services.public_keys.knows(token.kid):
        await services.public_keys.look_up(services.pool, token.kid)
    return services.verifier.verify_parsed(token)


def _not_genuine() -> Problem:
    return INVALID_TOKEN(msg("invalid_token"))


def _peek(services: Services, token: str) -> ParsedToken:
    """The token read before its signature is checked: its voucher id and kid are enough to
    find the row, never enough to trust it."""
    try:
        parsed = tokens.parse(token, services.verifier.max_bytes)
    except Problem:
        raise _not_genuine() from None
    jti = parsed.claims.get("jti")
    if not isinstance(jti, str) or not _is_uuid(jti):
        raise _not_genuine()
    return parsed


@dataclasses.dataclass(frozen=True)
class Locator:
    """Where a voucher's row is, from the token (unverified) or the manual code."""

    voucher_id: str | None
    kid: str
    code_hash: bytes | None
    token: ParsedToken | None = None  # read, not yet verified
    claims: VoucherClaims | None = None  # the token's, once verified (`verify_located`)
    till_id: str = ""  # who typed the code: a code it found is no guess when re-quoted


# Codes each till found lately, (till, code hash) -> until (monotonic): re-quoting a basket
# under a code already found is not a guess and spends nothing from the till's throttle.
# Per process and brief; a wrong code is never remembered, so guesses all count.
FOUND_FOR_SECONDS = 600.0
_FOUND: dict[tuple[str, bytes], float] = {}


def _remember_found(till_id: str, code_hash: bytes) -> None:
    now = time.monotonic()
    if len(_FOUND) >= 100_000:
        for key in [k for k, until in _FOUND.items() if until <= now]:
            del _FOUND[key]
        if len(_FOUND) >= 100_000:
            _FOUND.clear()
    _FOUND[(till_id, code_hash)] = now + FOUND_FOR_SECONDS


def _found_lately(till_id: str, code_hash: bytes) -> bool:
    return _FOUND.get((till_id, code_hash), 0.0) > time.monotonic()


def _too_many_codes() -> Problem:
    return RATE_LIMITED(msg("rate_limited"))


async def take_typed_code_try(services: Services, till_id: str) -> None:
    """One typed code's try from the till's allowance (`limits.code_lookups_per_minute`):
    online look-ups and the codes of forwarded offline sales spend from the same one."""
    if not await throttles.take(services.pool, f"code-till:{till_id}",
                                services.config.limits.code_lookups_per_minute):
        raise _too_many_codes()


async def locate(services: Services, till: Till, request: Credential) -> Locator:
    """Find where to look; a manual code is throttled first, per till and per code, in
    PostgreSQL so the limits hold across every process of the service."""
    if request.token is not None:
        parsed = _peek(services, request.token)
        return Locator(parsed.claims["jti"], parsed.kid, None, parsed)
    assert request.code is not None
    limits = services.config.limits
    body = codes.normalise(request.code)
    digest = None if body is None else codes.code_hash(body)
    if digest is not None and _found_lately(till.till_id, digest):
        return Locator(None, "", digest, till_id=till.till_id)  # a re-quote, not a guess
    await take_typed_code_try(services, till.till_id)
    if digest is None:
        raise INVALID_TOKEN(msg("invalid_token.malformed_code"))
    if not await throttles.take(services.pool, f"code:{digest.hex()}",
                                limits.code_tries_per_minute):
        raise _too_many_codes()
    return Locator(None, "", digest, till_id=till.till_id)


async def verify_located(services: Services, where: Locator) -> Locator:
    """Verify a located token before any database work is done for it: its signature and
    claims need only the public key (so a redemption never looks a key up while it holds a
    connection). What needs the voucher's row is checked by `check_voucher`."""
    if where.token is None or where.claims is not None:
        return where
    return dataclasses.replace(where, claims=await _verify_token(services, where.token))


async def load(services: Services, till: Till, where: Locator) -> VoucherState | None:
    if where.voucher_id is not None:
        return await store.load_by_id(services.pool, where.voucher_id, where.kid,
                                      till.merchant_id)
    assert where.code_hash is not None
    return await store.load_by_code(services.pool, where.code_hash, till.merchant_id)


async def check_voucher(
    services: Services, request: Credential, where: Locator, state: VoucherState | None
) -> VoucherState:
    """Every check that does not depend on the basket: genuine, current, active, in its
    dates, at a partner shop."""
    if request.token is not None:
        assert where.token is not None  # locate read it
        claims = where.claims or await _verify_token(services, where.token)
        if state is None or state.program_id != claims.program_id:
            raise _not_genuine()
        if state.key_status not in ("active", "retired"):
            raise INVALID_TOKEN(msg("invalid_token.key_withdrawn"))
        if (state.token_kid, state.token_iat) != (claims.kid, claims.iat):
            raise VOUCHER_REVOKED(msg("voucher_revoked.replaced"))
    elif state is None or not state.partner:
        # A real code typed at a shop that does not take it answers exactly as a made-up
        # one: the till must not learn which guesses are somebody's voucher.
        body = codes.normalise(request.code or "")
        if body is not None and await issuance_store.code_was_replaced(
                services.pool, codes.code_hash(body)):
            raise VOUCHER_REVOKED(msg("voucher_revoked.replaced"))
        raise INVALID_TOKEN(msg("invalid_token.unknown_code"))
    assert state is not None
    if where.code_hash is not None:
        _remember_found(where.till_id, where.code_hash)

    if state.status in _STATUS_PROBLEMS:
        raise _STATUS_PROBLEMS[state.status]()
    if state.db_now < state.valid_from:
        raise TOKEN_NOT_YET_VALID(msg("token_not_yet_valid"))
    if state.db_now >= state.valid_until:
        raise expired()
    if not state.partner:
        raise MERCHANT_NOT_ACCEPTED(msg("merchant_not_accepted"))
    return state


async def find_voucher(services: Services, till: Till, request: Credential) -> VoucherState:
    """The voucher a token or manual code names, checked (one database round trip)."""
    where = await locate(services, till, request)
    return await check_voucher(services, request, where, await load(services, till, where))
