"""Booking an offline sale a tablet forwards (`POST /v1/offline-sales`), exactly once.

The sale must be signed by the tablet the till paired (its Ed25519 key), name a kit that
was issued to this till, have happened within that kit's life, and stay within the limits
that kit published: the kit's rules decide the basket again here, the amount is at most
what they allow, the till's offline total for the program and one sale per voucher per
till per local day hold. Then it is honoured for the merchant in full, booked at the time
it happened; what the voucher no longer holds goes to the program's offline-risk account
(`pos_redeem_offline`, through `pos.storage.offline_sales`).

The voucher is named by its scanned token or by a typed code's hash. Either must be the
voucher's current one, or one a reissue replaced only after the sale's kit was made: the
till could not have known (docs/offline.md, "A reissued voucher"). Each refusal carries a
`reason` besides its `code` where the code has several, so the till can put it into the
cashier's words in either language.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError

from pos import codes
from pos.api.requests import OfflineSaleIn, OfflineSaleRecord
from pos.errors import (
    IDENTITY_CHECK_REQUIRED,
    OFFLINE_KEY_MISMATCH,
    OFFLINE_KIT_EXPIRED,
    OFFLINE_KIT_UNKNOWN,
    OFFLINE_LIMIT_EXCEEDED,
    OFFLINE_NOT_ALLOWED,
    OFFLINE_SALE_SIGNATURE_INVALID,
    OFFLINE_SALE_UNREADABLE,
    OFFLINE_VOUCHER_INVALID,
    Problem,
)
from pos.messages import msg
from pos.plugin.types import BasketLine
from pos.service.services import Services
from pos.signing import kit_signing
from pos.signing.tokens import ALGORITHM
from pos.storage import offline_kits, offline_sales
from pos.storage import till_lookup as store
from pos.storage.offline_kits import IssuedKit, VoucherCredentials
from pos.till import offline_basket
from pos.till.engine import request_hash
from pos.till.voucher_lookup import Till, take_typed_code_try

CLOCK_SKEW = timedelta(minutes=5)
# A kit is read a moment after it is recorded, and a reissue is stamped when its
# transaction starts: a card replaced less than this before the kit was recorded may not
# be in it, so a sale with it is honoured.
KIT_READ_MARGIN = timedelta(minutes=1)


def _not_signed() -> Problem:
    return OFFLINE_SALE_SIGNATURE_INVALID(msg("offline_sale_signature_invalid"))


def _over_limit(reason: str, **params: Any) -> Problem:
    return OFFLINE_LIMIT_EXCEEDED(msg(f"offline_limit_exceeded.{reason}", **params),
                                  reason=reason)


def _voucher_invalid(reason: str | None = None) -> Problem:
    if reason is None:
        return OFFLINE_VOUCHER_INVALID(msg("offline_voucher_invalid"))
    return OFFLINE_VOUCHER_INVALID(msg(f"offline_voucher_invalid.{reason}"), reason=reason)


async def _signed_sale(services: Services, till: Till, payload: OfflineSaleIn
                       ) -> OfflineSaleRecord:
    device = await offline_kits.device_key(services.pool, till.till_id)
    if device is None or not kit_signing.device_signature_ok(
            device, payload.sale.encode(), payload.signature):
        raise _not_signed()
    try:
        sale = OfflineSaleRecord.model_validate_json(payload.sale)
    except ValidationError:
        raise OFFLINE_SALE_UNREADABLE(msg("offline_sale_unreadable")) from None
    if str(sale.till_id) != till.till_id:
        raise _not_signed()
    return sale


def _token_claims(services: Services, sale: OfflineSaleRecord, at: datetime
                  ) -> tuple[str, dict[str, Any]]:
    """The scanned token's kid and claims: genuine, and valid when the sale happened."""
    assert sale.token is not None
    try:
        kid = jwt.get_unverified_header(sale.token).get("kid")
        key = services.public_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _voucher_invalid()
        tokens = services.config.tokens
        claims = jwt.decode(sale.token, key, algorithms=[ALGORITHM], audience=tokens.audience,
                            issuer=tokens.issuer,
                            options={"verify_exp": False, "verify_nbf": False})
    except jwt.PyJWTError:
        raise _voucher_invalid() from None
    moment = at.timestamp()
    if not (claims.get("nbf", 0) - tokens.leeway_seconds <= moment
            <= claims.get("exp", 0) + tokens.leeway_seconds):
        raise _voucher_invalid("not_valid_then")
    if claims.get("jti") != str(sale.voucher_id) or claims.get("prg") != str(sale.program_id):
        raise _voucher_invalid()
    assert isinstance(kid, str)
    return kid, claims


def _replaced_before_kit(retired_at: datetime, kit: IssuedKit) -> bool:
    """Whether a reissue replaced a code (or the token generation it belongs to), or a key
    was revoked, early enough to be in the sale's kit, so the till should have refused it."""
    return retired_at < kit.issued_at - KIT_READ_MARGIN


async def _check_voucher(services: Services, sale: OfflineSaleRecord, kit: IssuedKit,
                         at: datetime, program: dict[str, Any], till_id: str) -> None:
    """The voucher's token or typed code was genuine and current for the sale's kit."""
    voucher_id = str(sale.voucher_id)
    held = await offline_kits.voucher_credentials(services.pool, voucher_id)
    if held is None or held.program_id != str(sale.program_id):
        raise _voucher_invalid()
    if await offline_kits.blocked_in_kit(services.pool, kit.version, voucher_id):
        raise _voucher_invalid("blocked")  # the kit said to refuse it
    if sale.token is not None:
        kid, claims = _token_claims(services, sale, at)
        # The kit lists the revoked kids: a key revoked before it was made, the till should
        # have refused. One revoked since could not have been known, and is honoured.
        revoked_at = await offline_kits.key_revoked_at(services.pool, kid)
        if revoked_at is not None and _replaced_before_kit(revoked_at, kit):
            raise _voucher_invalid()
        if (kid, claims.get("iat")) == (held.token_kid, held.token_iat):
            return
        # A card's code goes with its token generation (`pos.codes.derive_body`), and the
        # code of a replaced generation is kept with the moment it was replaced.
        body = codes.derive_body(services.code_secret, voucher_id, int(claims.get("iat", 0)))
        retired_at = await offline_kits.code_retired_at(services.pool, codes.code_hash(body),
                                                        voucher_id)
        if retired_at is None or _replaced_before_kit(retired_at, kit):
            raise _voucher_invalid("replaced")
        return
    _check_code_dates(services, held, at, program)
    assert sale.code_hash is not None
    typed = kit_signing.unb64url(sale.code_hash)
    if typed == held.code_hash:
        return
    # Not the voucher's code: the answer tells a till whether a guess was right, so wrong
    # ones spend from the till's typed-code throttle, as look-ups online do.
    await take_typed_code_try(services, till_id)
    retired_at = await offline_kits.code_retired_at(services.pool, typed, voucher_id)
    if retired_at is None:
        raise _voucher_invalid("unknown_code")
    if _replaced_before_kit(retired_at, kit):
        raise _voucher_invalid("replaced")


def _check_code_dates(services: Services, held: VoucherCredentials, at: datetime,
                      program: dict[str, Any]) -> None:
    """A typed code has no token to carry dates: the voucher's and its program's hold."""
    leeway = services.config.tokens.leeway_seconds
    moment = at.timestamp()
    if not (int(program["valid_from"]) - leeway <= moment <= held.token_exp + leeway):
        raise _voucher_invalid("not_valid_then")


async def _book(services: Services, till: Till, sale: OfflineSaleRecord, key: str,
                owner: str) -> tuple[int, dict[str, Any]]:
    kit = await offline_kits.load_kit(services.pool, sale.kit_version, till.till_id)
    if kit is None:
        raise OFFLINE_KIT_UNKNOWN(msg("offline_kit_unknown"))
    at = datetime.fromtimestamp(sale.occurred_at_ms / 1000, UTC)
    if not (kit.issued_at - CLOCK_SKEW <= at <= kit.expires_at
            and at <= datetime.now(UTC) + CLOCK_SKEW):
        raise OFFLINE_KIT_EXPIRED(msg("offline_kit_expired"))
    program = kit.programs.get(str(sale.program_id))
    if program is None:
        raise OFFLINE_NOT_ALLOWED(msg("offline_not_allowed"))
    if program.get("require_identity") and not sale.identity_confirmed:
        raise IDENTITY_CHECK_REQUIRED(msg("identity_check_required"))
    await services.public_keys.load_all(services.pool)
    await _check_voucher(services, sale, kit, at, program, till.till_id)
    lines = [BasketLine(line_no=i + 1, sku=ln.sku, gtin=ln.gtin, category=ln.category,
                        description=ln.description, quantity=ln.quantity,
                        unit_price=ln.unit_price) for i, ln in enumerate(sale.basket.lines)]
    quote = offline_basket.quote(program, lines, till.merchant_id)
    if sale.covered > quote.covered or sale.basket.currency != program["currency"]:
        raise _over_limit("per_sale", covered_amount=sale.covered,
                          allowed_amount=quote.covered, currency=program["currency"])
    taken = await offline_sales.taken_with_kit(services.pool, till.till_id, kit.version,
                                               str(sale.program_id))
    if taken + sale.covered > int(program["max_till_total"]):
        raise _over_limit("till_total")
    if await offline_sales.sold_on_local_day(services.pool, till.till_id,
                                             str(sale.voucher_id), at, program["timezone"]):
        raise _over_limit("once_a_day")
    basket_total = sum(line.total for line in lines)
    redemption_id = str(uuid.uuid4())
    response = {
        "id": redemption_id, "voucher_id": str(sale.voucher_id),
        "program_id": str(sale.program_id), "merchant_id": till.merchant_id,
        "till_id": till.till_id, "currency": program["currency"], "status": "captured",
        "channel": "cash", "basket_total": basket_total,
        "eligible_total": quote.eligible_total, "offline": True,
        "occurred_at": at.isoformat(), "kit_version": kit.version,
        "lines": [o.as_dict() for o in quote.outcomes], "payment": None,
    }
    outcome = await offline_sales.book(
        services.pool, redemption_id=redemption_id, voucher_id=str(sale.voucher_id),
        merchant_id=till.merchant_id, till_id=till.till_id, idem_key=key, idem_owner=owner,
        currency=program["currency"], basket_total=basket_total,
        eligible_total=quote.eligible_total, covered=sale.covered, channel="cash",
        lines=response["lines"], response=response, occurred_at=at, kit_version=kit.version)
    if outcome["outcome"] != "ok":
        raise _voucher_invalid()
    return 201, outcome["answer"]


async def forward(services: Services, till: Till, payload: OfflineSaleIn, key: str,
                  path: str) -> tuple[int, dict[str, Any]]:
    """Book a forwarded sale once; the same key again gets the first answer."""
    sale = await _signed_sale(services, till, payload)
    if sale.key != key:
        raise OFFLINE_KEY_MISMATCH(msg("offline_key_mismatch"))
    owner = str(uuid.uuid4())
    claim = await store.claim_key(
        services.pool, till.till_id, key, request_hash(path, payload.model_dump(mode="json")),
        owner, services.config.redemption.idempotency_lease_seconds)
    if not claim.owned:
        assert claim.response_status is not None and claim.response_body is not None
        return claim.response_status, claim.response_body
    try:
        return await _book(services, till, sale, key, owner)
    except BaseException:
        await asyncio.shield(store.release_key(services.pool, till.till_id, key, owner))
        raise
