"""What holders carry, regenerated: a voucher's current token and manual code.

Tokens are never stored: Ed25519 signatures are deterministic, so the same claims give the
same token, and a card can be printed again from the database and the data folder. One
voucher at a time (`carried`, for the holder page, a card or a reissue) or a whole batch
(`export_batch`, for the list of codes and the cards), where the key's header and the
program's claims are prepared once and the next page is read while this one is signed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

from pos import codes
from pos.errors import not_found
from pos.printing.cards import CardFace, card_face
from pos.service.services import Services
from pos.signing.tokens import TokenSigner
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage.issuances import HeldVoucher
from pos.storage.setup import Program

CHUNK_SIZE = 1000


def token_signer(services: Services, kid: str) -> TokenSigner:
    tokens = services.config.tokens
    return TokenSigner(services.private_key(kid), kid, issuer=tokens.issuer,
                       audience=tokens.audience)


def voucher_token(services: Services, *, voucher_id: str, program_id: str, kid: str,
                  iat: int, nbf: int, exp: int) -> str:
    """The voucher's token. Ed25519 is deterministic, so the same claims give the same
    token: a card can be printed again from the database and the data folder."""
    return token_signer(services, kid).sign(voucher_id=voucher_id, program_id=program_id,
                                            iat=iat, nbf=nbf, exp=exp)


def voucher_code(services: Services, voucher_id: str, iat: int) -> str:
    return codes.derive_code(services.code_secret, voucher_id, iat)


@dataclasses.dataclass(frozen=True)
class Carried:
    """A voucher with its current token and code, as printed or shown to the holder."""

    voucher: HeldVoucher
    token: str
    code: str


def nbf_of(program: Program) -> int:
    return int(program.valid_from.timestamp())


def carried(services: Services, voucher: HeldVoucher, nbf: int) -> Carried:
    token = voucher_token(services, voucher_id=voucher.id, program_id=voucher.program_id,
                          kid=voucher.token_kid, iat=voucher.token_iat, nbf=nbf,
                          exp=voucher.token_exp)
    return Carried(voucher, token, voucher_code(services, voucher.id, voucher.token_iat))


def holder_link(services: Services, code: str) -> str:
    return f"{link_base(services)}{code}"


def link_base(services: Services) -> str:
    """What a holder link is before the code: the public address's holder page."""
    server = services.config.server
    base = server.public_url.rstrip("/") or f"http://{server.host}:{server.port}"
    return f"{base}/v/"


class _BatchCarrier:
    """Regenerates a batch's tokens and codes with each key's signer made once."""

    def __init__(self, services: Services, nbf: int) -> None:
        self._services = services
        self._nbf = nbf
        self._secret = services.code_secret
        self._signers: dict[str, TokenSigner] = {}

    def carry(self, voucher: HeldVoucher) -> Carried:
        signer = self._signers.get(voucher.token_kid)
        if signer is None:
            signer = self._signers[voucher.token_kid] = token_signer(
                self._services, voucher.token_kid)
        token = signer.sign(voucher_id=voucher.id, program_id=voucher.program_id,
                            iat=voucher.token_iat, nbf=self._nbf, exp=voucher.token_exp)
        return Carried(voucher, token,
                       codes.derive_code(self._secret, voucher.id, voucher.token_iat))


async def export_batch(services: Services, issuance_id: str,
                       chunk_size: int = CHUNK_SIZE) -> AsyncIterator[list[Carried]]:
    """The batch's vouchers, in the order of the list, with tokens signed afresh, a chunk
    at a time. The next page is asked for before this one is signed, so the database
    reads it while Python signs."""
    found = await issuance_store.get_issuance(services.pool, issuance_id)
    if found is None:
        raise not_found("issuance")
    program = await setup_store.get_program(services.pool, found["program_id"])
    carrier = _BatchCarrier(services, nbf_of(program))

    def read(after: int) -> asyncio.Task[list[HeldVoucher]]:
        return asyncio.create_task(
            issuance_store.issuance_page(services.pool, issuance_id, after, chunk_size))

    reading = read(0)
    try:
        while True:
            page = await reading
            if not page:
                return
            reading = read(page[-1].issuance_line or 0)
            await asyncio.sleep(0)  # let the read start before signing takes the loop
            yield [carrier.carry(v) for v in page]
    finally:
        if not reading.done():
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)


EXPORT_COLUMNS = ("line", "ref", "holder_ref", "voucher_id", "status", "code", "token",
                  "holder_link", "grant")


def export_row(services: Services, item: Carried) -> list[str]:
    return export_rows(services, [item])[0]


def export_rows(services: Services, chunk: list[Carried]) -> list[list[str]]:
    """`export_row` for a chunk, with the holder links' base worked out once."""
    base = link_base(services)
    return [[str(c.voucher.issuance_line or ""), c.voucher.beneficiary_ref,
             c.voucher.holder_ref or "", c.voucher.id, c.voucher.status, c.code, c.token,
             base + c.code, c.voucher.grant_label] for c in chunk]


async def batch_faces(services: Services, issuance_id: str, *, first: int = 1,
                      count: int | None = None) -> tuple[Program, list[CardFace]]:
    """The program and the cards to print of a batch: up to `count` live vouchers (active
    or suspended; a revoked or expired voucher is not worth paper), starting at list line
    `first`, in the order of the list."""
    found = await issuance_store.get_issuance(services.pool, issuance_id)
    if found is None:
        raise not_found("issuance")
    program = await setup_store.get_program(services.pool, found["program_id"])
    faces: list[CardFace] = []
    async for chunk in export_batch(services, issuance_id):
        for item in chunk:
            if count is not None and len(faces) >= count:
                return program, faces
            if (item.voucher.issuance_line or 0) >= first and item.voucher.status in (
                    "active", "suspended"):
                faces.append(card_face(program, token=item.token, code=item.code,
                                       timezone=program.time_zone))
    return program, faces
