"""Booking an offline sale a tablet forwards (`POST /v1/offline-sales`), exactly once.

The sale must be signed by the tablet the till paired (its Ed25519 key), name a kit that
was issued to this till, have happened within that kit's life, and stay within the limits
that kit published: the kit's rules decide the basket again here, the amount is at most
what they allow, the till's offline total for the program and one sale per voucher per
till per local day hold. Then it is honoured for the merchant in full, booked at the time
it happened; what the voucher no longer holds goes to the program's offline-risk account
(`pos_redeem_offline`, through `pos.storage.offline_sales`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pydantic import ValidationError

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
    not_found,
)
from pos.plugin.types import BasketLine
from pos.service.services import Services
from pos.signing import kit_signing
from pos.signing.tokens import ALGORITHM
from pos.storage import offline_kits, offline_sales
from pos.storage import till_lookup as store
from pos.till import offline_basket
from pos.till.engine import request_hash
from pos.till.voucher_lookup import Till

CLOCK_SKEW = timedelta(minutes=5)


def _not_signed() -> Problem:
    return OFFLINE_SALE_SIGNATURE_INVALID(
        "This offline sale is not signed by this till's tablet, so it is not accepted. "
        "Nothing was booked.")


def _over_limit(detail: str) -> Problem:
    return OFFLINE_LIMIT_EXCEEDED(detail)


async def _signed_sale(services: Services, till: Till, payload: OfflineSaleIn
                       ) -> OfflineSaleRecord:
    device = await offline_kits.device_key(services.pool, till.till_id)
    if device is None or not kit_signing.device_signature_ok(
            device, payload.sale.encode(), payload.signature):
        raise _not_signed()
    try:
        sale = OfflineSaleRecord.model_validate_json(payload.sale)
    except ValidationError:
        raise OFFLINE_SALE_UNREADABLE("This offline sale is not readable.") from None
    if str(sale.till_id) != till.till_id:
        raise _not_signed()
    return sale


def _check_token(services: Services, sale: OfflineSaleRecord, at: datetime) -> None:
    """The voucher token was genuine and valid when the sale happened."""
    bad = OFFLINE_VOUCHER_INVALID("The voucher of this offline sale is not genuine.")
    try:
        kid = jwt.get_unverified_header(sale.token).get("kid")
        key = services.public_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise bad
        tokens = services.config.tokens
        claims = jwt.decode(sale.token, key, algorithms=[ALGORITHM], audience=tokens.audience,
                            issuer=tokens.issuer,
                            options={"verify_exp": False, "verify_nbf": False})
    except jwt.PyJWTError:
        raise bad from None
    moment = at.timestamp()
    if not (claims.get("nbf", 0) - tokens.leeway_seconds <= moment
            <= claims.get("exp", 0) + tokens.leeway_seconds):
        raise OFFLINE_VOUCHER_INVALID("The voucher was not valid when this sale was made.")
    if claims.get("jti") != str(sale.voucher_id) or claims.get("prg") != str(sale.program_id):
        raise bad


async def _book(services: Services, till: Till, sale: OfflineSaleRecord, key: str,
                owner: str) -> tuple[int, dict[str, Any]]:
    kit = await offline_kits.load_kit(services.pool, sale.kit_version, till.till_id)
    if kit is None:
        raise OFFLINE_KIT_UNKNOWN("This offline sale names a kit this till was never given.")
    at = datetime.fromtimestamp(sale.occurred_at_ms / 1000, UTC)
    if not (kit.issued_at - CLOCK_SKEW <= at <= kit.expires_at
            and at <= datetime.now(UTC) + CLOCK_SKEW):
        raise OFFLINE_KIT_EXPIRED(
            "This sale was made outside the life of the till's offline kit.")
    program = kit.programs.get(str(sale.program_id))
    if program is None:
        raise OFFLINE_NOT_ALLOWED("This program cannot be used offline at this shop.")
    if program.get("require_identity") and not sale.identity_confirmed:
        raise IDENTITY_CHECK_REQUIRED("The holder's identity was not confirmed.")
    await services.public_keys.load_all(services.pool)
    _check_token(services, sale, at)
    lines = [BasketLine(line_no=i + 1, sku=ln.sku, gtin=ln.gtin, category=ln.category,
                        description=ln.description, quantity=ln.quantity,
                        unit_price=ln.unit_price) for i, ln in enumerate(sale.basket.lines)]
    quote = offline_basket.quote(program, lines, till.merchant_id)
    if sale.covered > quote.covered or sale.basket.currency != program["currency"]:
        raise _over_limit(f"This offline sale took {sale.covered}; its kit allowed at most "
                          f"{quote.covered} for this basket.")
    taken = await offline_sales.taken_with_kit(services.pool, till.till_id, kit.version,
                                               str(sale.program_id))
    if taken + sale.covered > int(program["max_till_total"]):
        raise _over_limit("This till went past its offline total for this program.")
    if await offline_sales.sold_on_local_day(services.pool, till.till_id,
                                             str(sale.voucher_id), at, program["timezone"]):
        raise _over_limit("This till already sold to this voucher offline that day.")
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
        raise not_found("voucher")
    return 201, outcome["answer"]


async def forward(services: Services, till: Till, payload: OfflineSaleIn, key: str,
                  path: str) -> tuple[int, dict[str, Any]]:
    """Book a forwarded sale once; the same key again gets the first answer."""
    sale = await _signed_sale(services, till, payload)
    if sale.key != key:
        raise OFFLINE_KEY_MISMATCH(
            "The Idempotency-Key must be the key the tablet signed with the sale.")
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
