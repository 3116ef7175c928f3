"""Issuing vouchers: credits from the program, a signed token and a manual code each."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pos import codes, tokens
from pos.credits import plan_credits
from pos.errors import InputProblem
from pos.services import Services
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store


def voucher_token(services: Services, *, voucher_id: str, program_id: str, kid: str,
                  iat: int, nbf: int, exp: int) -> str:
    """The voucher's token. Ed25519 is deterministic, so the same claims give the same
    token: a card can be printed again from the database and the data folder."""
    return tokens.sign(
        services.private_key(kid), kid, issuer=services.config.tokens.issuer,
        audience=services.config.tokens.audience, voucher_id=voucher_id,
        program_id=program_id, iat=iat, nbf=nbf, exp=exp,
    )


def voucher_code(services: Services, voucher_id: str, iat: int) -> str:
    return codes.derive_code(services.code_secret, voucher_id, iat)


async def issue_vouchers(
    services: Services, program_id: str, beneficiaries: Sequence[dict[str, Any]]
) -> list[dict[str, str]]:
    """Issue one voucher per beneficiary, all or none. Returns id, token and code of each."""
    program = await setup_store.get_program(services.pool, program_id)
    valid_from = datetime.fromisoformat(program["valid_from"])
    valid_until = datetime.fromisoformat(program["valid_until"])
    if valid_until.timestamp() <= time.time():
        raise InputProblem("program_ended", "This program has ended; no vouchers can be issued.",
                           status=409)
    allowance = program["allowance"] or {}
    face_value = program["face_value"]
    if program["uses"] is not None and face_value == 0:
        face_value = program["uses"] * program["unit_price"]
    plans = plan_credits(
        face_value=face_value, valid_from=valid_from, valid_until=valid_until,
        allowance_amount=allowance.get("amount"), allowance_count=allowance.get("count", 0),
        allowance_rollover=bool(allowance.get("rollover", False)),
    )
    kid = await services.signing_kid()
    iat = int(time.time())
    nbf, exp = int(valid_from.timestamp()), int(valid_until.timestamp())
    new, issued = [], []
    for b in beneficiaries:
        voucher_id = voucher_store.new_voucher_id()
        code = voucher_code(services, voucher_id, iat)
        body = codes.normalise(code)
        assert body is not None
        new.append(voucher_store.NewVoucher(
            id=voucher_id, beneficiary_ref=b["ref"], holder_ref=b.get("holder_ref"),
            token_kid=kid, token_iat=iat, token_exp=exp, code_hash=codes.code_hash(body),
            uses_left=program["uses"], credits=plans,
        ))
        issued.append({
            "id": voucher_id, "beneficiary_ref": b["ref"], "code": code,
            "token": voucher_token(services, voucher_id=voucher_id, program_id=program_id,
                                   kid=kid, iat=iat, nbf=nbf, exp=exp),
        })
    refs = [b["ref"] for b in beneficiaries]
    if len(set(refs)) != len(refs):
        raise InputProblem("validation_error", "A beneficiary appears twice in this list.",
                           status=422)
    async with services.pool.acquire() as conn, conn.transaction():
        await voucher_store.insert_vouchers(conn, program_id, program["currency"], new)
    return issued
