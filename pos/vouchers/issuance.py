"""Issuing vouchers: credits from the program, a signed token and a manual code each.

Two ways in: `issue_vouchers` for a short JSON list answered inline, and `issue_batch` for
a beneficiary list of any size (CSV or JSON, from `pos issue` or an upload), which checks
every row before issuing any, writes the whole batch in one transaction in chunks
(`pos.vouchers.batch_writer`), and is idempotent by batch id. Tokens are never stored:
Ed25519 signatures are deterministic, so `export_batch` (`pos.vouchers.carried`)
regenerates each voucher's current token and code from the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pos import codes
from pos.db.pool import Connection
from pos.errors import (
    BATCH_CHANGED,
    ISSUANCE_CONFLICT,
    PROGRAM_ENDED,
    VALIDATION_ERROR,
    Problem,
    validation_error,
)
from pos.service.services import Services
from pos.storage import issuances as issuance_store
from pos.storage import setup as setup_store
from pos.storage import vouchers as voucher_store
from pos.storage.setup import Program
from pos.vouchers import beneficiary_list
from pos.vouchers.batch_writer import BatchWriter
from pos.vouchers.carried import (
    CHUNK_SIZE,
    EXPORT_COLUMNS,
    Carried,
    batch_faces,
    carried,
    export_batch,
    export_row,
    export_rows,
    holder_link,
    nbf_of,
    voucher_code,
    voucher_token,
)
from pos.vouchers.credits import CreditPlan, plan_credits

# The export half lives in `carried`; its names stay reachable here for existing callers.
__all__ = [
    "CHUNK_SIZE",
    "EXPORT_COLUMNS",
    "Carried",
    "IssuanceResult",
    "Opener",
    "ProgramTerms",
    "Progress",
    "batch_faces",
    "carried",
    "export_batch",
    "export_row",
    "export_rows",
    "holder_link",
    "issue_batch",
    "issue_vouchers",
    "nbf_of",
    "program_terms",
    "voucher_code",
    "voucher_token",
]

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


async def _scan(conn: Connection, program_id: str, open_source: Opener,
                fmt: beneficiary_list.Format, chunk_size: int) -> _Scan:
    """Read the whole list once: every row checked, duplicates found, the content hashed,
    and beneficiaries who already hold a voucher of the program looked up per chunk (the
    database looks one chunk up while the next is read)."""
    scan = _Scan()
    digest = beneficiary_list.ContentHash(program_id)
    first_line: dict[tuple[str, str], int] = {}
    pending: list[beneficiary_list.BeneficiaryRow] = []
    looking: asyncio.Task[None] | None = None

    async def check_issued(rows: list[beneficiary_list.BeneficiaryRow]) -> None:
        found = await issuance_store.refs_already_issued(
            conn, program_id, [(r.ref, r.grant or "") for r in rows])
        for row in rows:
            if (row.ref, row.grant or "") in found:
                scan.already_rows += 1
                if len(scan.already) < beneficiary_list.MAX_REPORTED:
                    scan.already.append(beneficiary_list.RowProblem(row.line, row.ref, (
                        "this beneficiary already holds this grant of this program",)))

    async def look_up() -> None:
        nonlocal looking, pending
        if looking is not None:
            await looking
        looking = asyncio.create_task(check_issued(pending))
        pending = []
        await asyncio.sleep(0)  # the query is sent; read on while the database looks

    try:
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
                        await look_up()
            if pending:
                await look_up()
        if looking is not None:
            await looking
    finally:
        if looking is not None and not looking.done():
            await asyncio.gather(looking, return_exceptions=True)
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
    async with services.pool.acquire() as conn:
        scan = await _scan(conn, program_id, open_source, fmt, chunk_size)
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

    stamp = voucher_store.BatchStamp(
        program_id=program_id, currency=terms.currency, issuance_id=issuance_id,
        token_kid=await services.signing_kid(), token_iat=int(time.time()),
        token_exp=terms.exp, uses_left=terms.uses, credits=terms.plans)
    try:
        async with services.pool.acquire() as conn, conn.transaction():
            await issuance_store.create_issuance(conn, issuance_id, program_id, scan.digest,
                                                 scan.count, source)
            await voucher_store.lock_program_issues(conn, program_id)
            writer = BatchWriter(conn, stamp, services.code_secret, chunk_size)
            try:
                await _write_rows(writer, open_source, fmt, program_id, scan,
                                  chunk_size, progress)
            except BaseException:
                await writer.abandon()
                raise
    except issuance_store.IssuanceExists:
        existing = await issuance_store.get_issuance(services.pool, issuance_id)
        assert existing is not None
        return _replay(existing, program_id, scan.digest)
    return IssuanceResult(issuance_id, program_id, scan.count, True)


async def _write_rows(writer: BatchWriter, open_source: Opener, fmt: beneficiary_list.Format,
                      program_id: str, scan: _Scan, chunk_size: int,
                      progress: Progress | None) -> None:
    """The second reading of the list: each row (checked again, and hashed again, so a
    list changed since the scan is refused) into the writer, a chunk at a time."""
    digest = beneficiary_list.ContentHash(program_id)
    with open_source() as src:
        for raw in beneficiary_list.read_rows(src, fmt):
            row, _ = beneficiary_list.check_row(raw)
            if row is None:
                raise _list_changed()
            digest.add(row)
            if writer.add(row) >= chunk_size:
                sent = await writer.flush()
                if progress is not None:
                    progress(sent, scan.count)
    sent = await writer.flush()
    await writer.drain()
    if progress is not None and sent:
        progress(sent, scan.count)
    if digest.digest() != scan.digest:
        raise _list_changed()


def _list_changed() -> Problem:
    return BATCH_CHANGED("The list changed while it was being issued; "
                        "nothing was issued. Send it again.")
