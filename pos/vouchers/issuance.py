"""Issuing vouchers: credits from the program, a signed token and a manual code each.

Two ways in: `issue_vouchers` for a short JSON list answered inline, and `issue_batch` for
a beneficiary list of any size (CSV or JSON, from `pos issue` or an upload), which checks
every row before issuing any, writes the whole batch in one transaction in chunks
(`pos.vouchers.batch_writer`; COPY, `pos.storage.issuances.copy_batch_chunk`), and is
idempotent by batch id. Tokens are never stored:
Ed25519 signatures are deterministic, so `export_batch` (`pos.vouchers.carried`)
regenerates each voucher's current token and code from the database.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from pos import codes
from pos.errors import (
    ISSUANCE_CONFLICT,
    PROGRAM_ENDED,
    VALIDATION_ERROR,
    validation_error,
)
from pos.messages import words
from pos.service.services import Services
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store
from pos.storage.setup import Program
from pos.storage.vouchers import VoucherColumns
from pos.vouchers import batch_writer, beneficiary_list
from pos.vouchers.batch_writer import BatchWriter, ChunkSink, MintedChunk, TokenTerms
from pos.vouchers.carried import CHUNK_SIZE, voucher_code, voucher_token
from pos.vouchers.credits import CreditPlan, plan_credits
from pos.vouchers.list_scan import CheckedRows, Opener, Scan, scan_list


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
        raise VALIDATION_ERROR(words("名单中同一受助人以相同的发放批次标签出现了两次。",
                                     "A beneficiary appears twice in this list with the "
                                     "same grant."))
    async with services.pool.acquire() as conn, conn.transaction():
        await voucher_store.insert_vouchers(conn, program_id, program.currency, new)
    return issued


# ------------------------------------------------------------------------------------------
# batch issuance

# (vouchers written just now, vouchers in the whole list)
Progress = Callable[[int, int], None]

# Batch ids derived from a list's content live in their own uuid5 namespace.
_BATCH_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c7d-9e0f-a1b2c3d4e5f6")


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
        raise validation_error(words("批次编号须是 UUID。", "A batch id must be a UUID.")
                               ) from None


async def issue_batch(
    services: Services, program_id: str, open_source: Opener, fmt: beneficiary_list.Format, *,
    source: str, batch_id: str | None = None, progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE, check_only: bool = False, sink: ChunkSink | None = None,
) -> IssuanceResult:
    """Issue one voucher per row of a beneficiary list, all or none, at most once.

    The list is read once (`list_scan`), its checked rows minted (an id and a code each)
    and spooled in chunks rather than held, and the spool issued. One bad row refuses the
    whole list with a report naming every bad row. The batch id (given, or derived from the
    list's content) makes a re-run return the first run's batch instead of issuing again,
    even when two runs race. With `check_only`, the list is checked (the same report) and
    nothing is written. `sink`, when given, is handed each chunk of new vouchers as it is
    minted, while the list is still being read (so their tokens can be signed and written
    out meanwhile); what it made belongs to a batch that exists only if this returns with
    `created` true.
    """
    program = await setup_store.get_program(services.pool, program_id)
    terms = program_terms(program)
    stamp = voucher_store.BatchStamp(
        program_id=program_id, currency=terms.currency, issuance_id="",
        token_kid=await services.signing_kid(), token_iat=int(time.time()),
        token_exp=terms.exp, uses_left=terms.uses, credits=terms.plans)
    tokens = TokenTerms(program_id, stamp.token_kid, stamp.token_iat, terms.nbf, terms.exp)
    secret = services.code_secret

    async def mint(rows: CheckedRows) -> VoucherColumns:
        columns, bodies = batch_writer.mint(rows, secret, stamp.token_iat)
        if sink is not None:
            await sink(MintedChunk(tokens, columns, bodies))
        return columns

    async with services.pool.acquire() as conn:
        scan = await scan_list(conn, program_id, open_source, fmt, chunk_size,
                               None if check_only else mint)
    try:
        return await _issue_scanned(services, scan, stamp, source=source, batch_id=batch_id,
                                    progress=progress, check_only=check_only)
    finally:
        scan.close()


async def _issue_scanned(
    services: Services, scan: Scan, stamp: voucher_store.BatchStamp, *, source: str,
    batch_id: str | None, progress: Progress | None, check_only: bool,
) -> IssuanceResult:
    program_id = stamp.program_id
    issuance_id = _batch_id(program_id, scan.digest, batch_id)
    existing = await issuance_store.get_issuance(services.pool, issuance_id)
    if existing is not None:
        return _replay(existing, program_id, scan.digest)
    if scan.bad_rows or scan.already_rows:
        raise beneficiary_list.batch_invalid(scan.problems + scan.already,
                                  scan.bad_rows + scan.already_rows)
    if scan.count == 0:
        raise beneficiary_list.file_problem(words("名单中没有任何一行。", "The list has no rows."))
    if check_only:
        return IssuanceResult(issuance_id, program_id, scan.count, False, checked_only=True)

    stamp = dataclasses.replace(stamp, issuance_id=issuance_id)
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await issuance_store.create_issuance(conn, issuance_id, program_id, scan.digest,
                                                 scan.count, source)
            await voucher_store.lock_program_issues(conn, program_id)
            writer = BatchWriter(conn, stamp)
            try:
                for chunk in scan.chunks():
                    sent = await writer.send(chunk)
                    if progress is not None:
                        progress(sent, scan.count)
                await writer.drain()
            except BaseException:
                await writer.abandon()
                raise
    except issuance_store.IssuanceExists:
        existing = await issuance_store.get_issuance(services.pool, issuance_id)
        assert existing is not None
        return _replay(existing, program_id, scan.digest)
    return IssuanceResult(issuance_id, program_id, scan.count, True)
