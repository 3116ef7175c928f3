"""Issuing vouchers: credits from the program, a signed token and a manual code each.

Two ways in: `issue_vouchers` for a short JSON list answered inline, and `issue_batch` for
a beneficiary list of any size (CSV or JSON, from `pos issue` or an upload), which checks
every row before issuing any, writes the whole batch in one transaction in chunks, and is
idempotent by batch id. Tokens are never stored: Ed25519 signatures are deterministic, so
`export_batch` regenerates each voucher's current token and code from the database.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pos import codes
from pos.errors import (
    BATCH_CHANGED,
    ISSUANCE_CONFLICT,
    NOT_FOUND,
    PROGRAM_ENDED,
    VALIDATION_ERROR,
    Problem,
    validation_error,
)
from pos.printing.cards import CardFace, card_face
from pos.service.services import Services
from pos.signing import tokens
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store
from pos.storage.issuances import HeldVoucher
from pos.storage.setup import Program
from pos.vouchers import beneficiary_list
from pos.vouchers.credits import CreditPlan, plan_credits


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
    terms = program_terms(program)
    plans, nbf, exp = terms.plans, terms.nbf, terms.exp
    kid = await services.signing_kid()
    iat = int(time.time())
    new, issued = [], []
    for b in beneficiaries:
        voucher_id = voucher_store.new_voucher_id()
        code = voucher_code(services, voucher_id, iat)
        body = codes.normalise(code)
        assert body is not None
        new.append(voucher_store.NewVoucher(
            id=voucher_id, beneficiary_ref=b["ref"], holder_ref=b.get("holder_ref"),
            token_kid=kid, token_iat=iat, token_exp=exp, code_hash=codes.code_hash(body),
            uses_left=program.uses, credits=plans, grant_label=b.get("grant") or "",
        ))
        issued.append({
            "id": voucher_id, "beneficiary_ref": b["ref"], "grant": b.get("grant"),
            "code": code,
            "token": voucher_token(services, voucher_id=voucher_id, program_id=program_id,
                                   kid=kid, iat=iat, nbf=nbf, exp=exp),
        })
    refs = [(b["ref"], b.get("grant") or "") for b in beneficiaries]
    if len(set(refs)) != len(refs):
        raise VALIDATION_ERROR("A beneficiary appears twice in this list with the same grant.")
    async with services.pool.acquire() as conn, conn.transaction():
        await voucher_store.insert_vouchers(conn, program_id, program.currency, new)
    return issued


# ------------------------------------------------------------------------------------------
# batch issuance

Opener = Callable[[], AbstractContextManager[BinaryIO]]
# (vouchers written just now, vouchers in the whole list)
Progress = Callable[[int, int], None]

# Batch ids derived from a list's content live in their own uuid5 namespace.
_BATCH_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c7d-9e0f-a1b2c3d4e5f6")
CHUNK_SIZE = 1000


@dataclasses.dataclass(frozen=True)
class ProgramTerms:
    """What every voucher of a program gets, and the token times derived from it."""

    program_id: str
    currency: str
    uses: int | None
    plans: list[CreditPlan]
    nbf: int
    exp: int


def program_terms(program: Program) -> ProgramTerms:
    valid_from, valid_until = program.valid_from, program.valid_until
    if valid_until.timestamp() <= time.time():
        raise PROGRAM_ENDED("This program has ended; no vouchers can be issued.")
    allowance = program.allowance or {}
    face_value = program.face_value
    if program.uses is not None and program.unit_price is not None and face_value == 0:
        face_value = program.uses * program.unit_price
    plans = plan_credits(
        face_value=face_value, valid_from=valid_from, valid_until=valid_until,
        allowance_amount=allowance.get("amount"), allowance_count=allowance.get("count", 0),
        allowance_rollover=bool(allowance.get("rollover", False)),
        zone=ZoneInfo(program.time_zone),
    )
    return ProgramTerms(program.id, program.currency, program.uses, plans,
                        int(valid_from.timestamp()), int(valid_until.timestamp()))


@dataclasses.dataclass(frozen=True)
class IssuanceResult:
    issuance_id: str
    program_id: str
    count: int
    created: bool  # False: issued before (or only checked); nothing was issued now
    checked_only: bool = False  # the list was checked and would be issued as this batch

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.issuance_id, "program_id": self.program_id,
                "voucher_count": self.count, "created": self.created,
                "checked_only": self.checked_only}


@dataclasses.dataclass
class _Scan:
    count: int = 0
    digest: bytes = b""
    problems: list[beneficiary_list.RowProblem] = dataclasses.field(default_factory=list)
    bad_rows: int = 0
    # Rows whose beneficiary already holds a voucher of the program: a problem only if this
    # is not a re-run of the batch that issued them.
    already: list[beneficiary_list.RowProblem] = dataclasses.field(default_factory=list)
    already_rows: int = 0


async def _scan(services: Services, program_id: str, open_source: Opener,
                fmt: beneficiary_list.Format, chunk_size: int) -> _Scan:
    """Read the whole list once: every row checked, duplicates found, the content hashed,
    and beneficiaries who already hold a voucher of the program looked up per chunk."""
    scan = _Scan()
    digest = beneficiary_list.ContentHash(program_id)
    first_line: dict[tuple[str, str], int] = {}
    pending: list[beneficiary_list.BeneficiaryRow] = []

    async def check_issued() -> None:
        found = await issuance_store.refs_already_issued(
            services.pool, program_id, [(r.ref, r.grant or "") for r in pending])
        for row in pending:
            if (row.ref, row.grant or "") in found:
                scan.already_rows += 1
                if len(scan.already) < beneficiary_list.MAX_REPORTED:
                    scan.already.append(beneficiary_list.RowProblem(row.line, row.ref, (
                        "this beneficiary already holds this grant of this program",)))
        pending.clear()

    with open_source() as source:
        for raw in beneficiary_list.read_rows(source, fmt):
            scan.count += 1
            if scan.count > beneficiary_list.MAX_ROWS:
                raise beneficiary_list.file_problem(
                    f"The list has more than {beneficiary_list.MAX_ROWS} rows; "
                    "split it into batches.")
            row, problems = beneficiary_list.check_row(raw)
            if row is not None:
                digest.add(row)
                earlier = first_line.setdefault((row.ref, row.grant or ""), row.line)
                if earlier != row.line:
                    grant = f" (grant {row.grant})" if row.grant else ""
                    problems.append(f"ref {row.ref}{grant} is also on line {earlier}")
            if problems:
                scan.bad_rows += 1
                if len(scan.problems) < beneficiary_list.MAX_REPORTED:
                    ref = raw.values.get("ref")
                    scan.problems.append(beneficiary_list.RowProblem(
                        raw.line, ref if isinstance(ref, str) else None, tuple(problems)))
            elif row is not None:
                pending.append(row)
                if len(pending) >= chunk_size:
                    await check_issued()
        if pending:
            await check_issued()
    scan.digest = digest.digest()
    return scan


def _replay(existing: dict[str, Any], program_id: str, digest: bytes) -> IssuanceResult:
    if existing["program_id"] != program_id or bytes(existing["content_hash"]) != digest:
        raise ISSUANCE_CONFLICT(
            "This batch id was already used for a different list; nothing was issued.",
            issuance_id=existing["id"])
    return IssuanceResult(existing["id"], program_id, existing["voucher_count"], False)


def _batch_id(program_id: str, digest: bytes, requested: str | None) -> str:
    if requested is None:
        return str(uuid.uuid5(_BATCH_NAMESPACE, f"{program_id}:{digest.hex()}"))
    try:
        return str(uuid.UUID(requested))
    except ValueError:
        raise validation_error("A batch id must be a UUID.") from None


async def issue_batch(
    services: Services, program_id: str, open_source: Opener, fmt: beneficiary_list.Format, *,
    source: str, batch_id: str | None = None, progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE, check_only: bool = False,
) -> IssuanceResult:
    """Issue one voucher per row of a beneficiary list, all or none, at most once.

    `open_source` is called twice (check, then issue), so the list is streamed rather than
    held. One bad row refuses the whole list with a report naming every bad row. The batch
    id (given, or derived from the list's content) makes a re-run return the first run's
    batch instead of issuing again, even when two runs race. With `check_only`, the list
    is checked (the same report) and nothing is written.
    """
    program = await setup_store.get_program(services.pool, program_id)
    terms = program_terms(program)
    scan = await _scan(services, program_id, open_source, fmt, chunk_size)
    issuance_id = _batch_id(program_id, scan.digest, batch_id)
    existing = await issuance_store.get_issuance(services.pool, issuance_id)
    if existing is not None:
        return _replay(existing, program_id, scan.digest)
    if scan.bad_rows or scan.already_rows:
        raise beneficiary_list.batch_invalid(scan.problems + scan.already,
                                  scan.bad_rows + scan.already_rows)
    if scan.count == 0:
        raise beneficiary_list.file_problem("The list has no rows.")
    if check_only:
        return IssuanceResult(issuance_id, program_id, scan.count, False, checked_only=True)

    kid = await services.signing_kid()
    iat = int(time.time())
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await issuance_store.create_issuance(conn, issuance_id, program_id, scan.digest,
                                                 scan.count, source)
            digest = beneficiary_list.ContentHash(program_id)
            chunk: list[voucher_store.NewVoucher] = []

            async def flush() -> None:
                await voucher_store.insert_vouchers(conn, program_id, terms.currency, chunk)
                if progress is not None:
                    progress(len(chunk), scan.count)
                chunk.clear()

            with open_source() as src:
                for raw in beneficiary_list.read_rows(src, fmt):
                    row, _ = beneficiary_list.check_row(raw)
                    if row is None:
                        raise _list_changed()
                    digest.add(row)
                    chunk.append(_new_voucher(services, terms, row, kid, iat, issuance_id))
                    if len(chunk) >= chunk_size:
                        await flush()
                if chunk:
                    await flush()
            if digest.digest() != scan.digest:
                raise _list_changed()
    except issuance_store.IssuanceExists:
        existing = await issuance_store.get_issuance(services.pool, issuance_id)
        assert existing is not None
        return _replay(existing, program_id, scan.digest)
    return IssuanceResult(issuance_id, program_id, scan.count, True)


def _list_changed() -> Problem:
    return BATCH_CHANGED("The list changed while it was being issued; "
                        "nothing was issued. Send it again.")


def _new_voucher(services: Services, terms: ProgramTerms, row: beneficiary_list.BeneficiaryRow,
                 kid: str, iat: int, issuance_id: str) -> voucher_store.NewVoucher:
    voucher_id = voucher_store.new_voucher_id()
    body = codes.normalise(voucher_code(services, voucher_id, iat))
    assert body is not None
    return voucher_store.NewVoucher(
        id=voucher_id, beneficiary_ref=row.ref, holder_ref=row.holder_ref, token_kid=kid,
        token_iat=iat, token_exp=terms.exp, code_hash=codes.code_hash(body),
        uses_left=terms.uses, credits=terms.plans, issuance_id=issuance_id,
        issuance_line=row.line, note=row.note, grant_label=row.grant or "",
    )


# ------------------------------------------------------------------------------------------
# what holders carry, regenerated


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
    server = services.config.server
    base = server.public_url.rstrip("/") or f"http://{server.host}:{server.port}"
    return f"{base}/v/{code}"


async def export_batch(services: Services, issuance_id: str,
                       chunk_size: int = CHUNK_SIZE) -> AsyncIterator[list[Carried]]:
    """The batch's vouchers, in the order of the list, with tokens signed afresh, a chunk
    at a time."""
    found = await issuance_store.get_issuance(services.pool, issuance_id)
    if found is None:
        raise NOT_FOUND("No issuance was found.")
    program = await setup_store.get_program(services.pool, found["program_id"])
    nbf = nbf_of(program)
    after = 0
    while True:
        page = await issuance_store.issuance_page(services.pool, issuance_id, after, chunk_size)
        if not page:
            return
        yield [carried(services, v, nbf) for v in page]
        after = page[-1].issuance_line or 0


EXPORT_COLUMNS = ("line", "ref", "holder_ref", "voucher_id", "status", "code", "token",
                  "holder_link", "grant")


def export_row(services: Services, item: Carried) -> list[str]:
    v = item.voucher
    return [str(v.issuance_line or ""), v.beneficiary_ref, v.holder_ref or "", v.id, v.status,
            item.code, item.token, holder_link(services, item.code), v.grant_label]


async def batch_faces(services: Services, issuance_id: str, *, first: int = 1,
                      count: int | None = None) -> tuple[Program, list[CardFace]]:
    """The program and the cards to print of a batch: up to `count` live vouchers (active
    or suspended; a revoked or expired voucher is not worth paper), starting at list line
    `first`, in the order of the list."""
    found = await issuance_store.get_issuance(services.pool, issuance_id)
    if found is None:
        raise NOT_FOUND("No issuance was found.")
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
