# ruff: noqa: RUF001
"""The one reading of a beneficiary list: every row checked, duplicates found, the content
hashed, beneficiaries who already hold a voucher of the program looked up, and the checked
rows, a chunk at a time, made new vouchers (`mint`, given by the caller) and spooled to a
temporary file.

Issuing then reads the spool (`Scan.chunks`), not the list: what is issued is exactly what
was checked and hashed, and no row is parsed or checked twice. Minting as the list is read
lets the caller start on the new vouchers (signing their tokens) before the list is done;
once a row is bad the batch cannot be issued, so nothing more is minted or spooled. The
spool holds each chunk as columns (`marshal`, no object per row, each chunk read back in
one piece), so memory stays flat however long the list; the file is removed when closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import marshal
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from typing import IO, BinaryIO

from pos.db.pool import Connection
from pos.messages import words
from pos.storage import issuances as issuance_store
from pos.storage.vouchers import VoucherColumns
from pos.vouchers import beneficiary_list
from pos.vouchers.beneficiary_list import RowProblem

Opener = Callable[[], AbstractContextManager[BinaryIO]]
# Each chunk of a list checked good so far, a chunk's length prefix in the spool.
_LENGTH = 8


@dataclasses.dataclass
class CheckedRows:
    """A chunk of checked rows, column by column: list line, ref, holder, note, grant."""

    lines: list[int] = dataclasses.field(default_factory=list)
    refs: list[str] = dataclasses.field(default_factory=list)
    holders: list[str | None] = dataclasses.field(default_factory=list)
    notes: list[str | None] = dataclasses.field(default_factory=list)
    grants: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


@dataclasses.dataclass
class Scan:
    spool: IO[bytes]
    count: int = 0
    digest: bytes = b""
    problems: list[RowProblem] = dataclasses.field(default_factory=list)
    bad_rows: int = 0
    # Rows whose beneficiary already holds a voucher of the program: a problem only if this
    # is not a re-run of the batch that issued them.
    already: list[RowProblem] = dataclasses.field(default_factory=list)
    already_rows: int = 0

    def chunks(self) -> Iterator[VoucherColumns]:
        """The minted vouchers, in list order, a chunk at a time."""
        spool = self.spool
        spool.seek(0)
        while size := int.from_bytes(spool.read(_LENGTH), "little"):
            # our own unnamed temporary file, written just now by `scan_list` (read in one
            # piece: `marshal.load` on a file reads it a field at a time)
            yield VoucherColumns(*marshal.loads(spool.read(size)))  # noqa: S302

    def write_chunk(self, chunk: VoucherColumns) -> None:
        data = marshal.dumps((chunk.ids, chunk.refs, chunk.holders, chunk.code_hashes,
                              chunk.lines, chunk.notes, chunk.grants))
        self.spool.write(len(data).to_bytes(_LENGTH, "little"))
        self.spool.write(data)

    def close(self) -> None:
        self.spool.close()


# Makes a chunk of checked rows new vouchers (and may start on them).
Minter = Callable[[CheckedRows], Awaitable[VoucherColumns]]


async def scan_list(conn: Connection, program_id: str, open_source: Opener,
                    fmt: beneficiary_list.Format, chunk_size: int,
                    mint: Minter | None) -> Scan:
    """Read the whole list once (see the module). Beneficiaries who already hold a voucher
    are looked up a chunk at a time while the next is read, and not at all for a program
    with no vouchers yet. With `mint` None (only a check), nothing is spooled. The caller
    closes the scan."""
    scan = Scan(tempfile.TemporaryFile())
    try:
        await _read(scan, conn, program_id, open_source, fmt, chunk_size, mint)
    except BaseException:
        scan.close()
        raise
    return scan


async def _read(scan: Scan, conn: Connection, program_id: str, open_source: Opener,
                fmt: beneficiary_list.Format, chunk_size: int, mint: Minter | None) -> None:
    digest = beneficiary_list.ContentHash(program_id)
    first_line: dict[tuple[str, str], int] = {}
    pending = CheckedRows()
    looking: asyncio.Task[None] | None = None
    anyone_holds = await issuance_store.program_has_vouchers(conn, program_id)

    async def check_issued(rows: CheckedRows) -> None:
        found = await issuance_store.refs_already_issued(
            conn, program_id, list(zip(rows.refs, rows.grants, strict=True)))
        for line, ref, grant in zip(rows.lines, rows.refs, rows.grants, strict=True):
            if (ref, grant) in found:
                scan.already_rows += 1
                if len(scan.already) < beneficiary_list.MAX_REPORTED:
                    scan.already.append(RowProblem(line, ref, (words(
                        "这位受助人已持有本项目的这一批次券",
                        "this beneficiary already holds this grant of this program"),)))

    async def chunk_done() -> None:
        nonlocal looking, pending
        rows, pending = pending, CheckedRows()
        if anyone_holds:
            if looking is not None:
                await looking
            looking = asyncio.create_task(check_issued(rows))
        if mint is not None and not (scan.bad_rows or scan.already_rows):
            scan.write_chunk(await mint(rows))
        # The look-up is sent and the caller has seen the chunk: read on while the database
        # looks and the caller works.
        await asyncio.sleep(0)

    try:
        with open_source() as source:
            for raw in beneficiary_list.read_rows(source, fmt):
                scan.count += 1
                if scan.count > beneficiary_list.MAX_ROWS:
                    raise beneficiary_list.file_problem(words(
                        "名单超过 {most} 行，请分批发放。",
                        "The list has more than {most} rows; split it into batches.",
                        most=beneficiary_list.MAX_ROWS))
                row, problems = beneficiary_list.check_row(raw)
                if row is not None:
                    digest.add(row)
                    grant = row.grant or ""
                    earlier = first_line.setdefault((row.ref, grant), row.line)
                    if earlier != row.line:
                        problems.append(words(
                            "ref {ref}{grant_zh} 在第 {earlier} 行也出现过",
                            "ref {ref}{grant_en} is also on line {earlier}", ref=row.ref,
                            earlier=earlier,
                            grant_zh=f"（批次 {row.grant}）" if row.grant else "",
                            grant_en=f" (grant {row.grant})" if row.grant else ""))
                if problems:
                    scan.bad_rows += 1
                    if len(scan.problems) < beneficiary_list.MAX_REPORTED:
                        ref = raw.values.get("ref")
                        scan.problems.append(RowProblem(
                            raw.line, ref if isinstance(ref, str) else None, tuple(problems)))
                elif row is not None:
                    pending.lines.append(row.line)
                    pending.refs.append(row.ref)
                    pending.holders.append(row.holder_ref)
                    pending.notes.append(row.note)
                    pending.grants.append(grant)
                    if len(pending) >= chunk_size:
                        await chunk_done()
            if pending:
                await chunk_done()
        if looking is not None:
            await looking
    finally:
        if looking is not None and not looking.done():
            await asyncio.gather(looking, return_exceptions=True)
    scan.digest = digest.digest()
