"""Making checked rows new vouchers (`mint`: an id and a manual code each) and writing them
to the database a chunk at a time (`BatchWriter`), while the next chunk is read.

Rows are minted as the list is checked (`pos.vouchers.list_scan`), so their tokens can be
signed while the rest of the list is still being read and before the batch's id (derived
from the whole list) is known; what is minted for a list that is then refused is simply
dropped. Writing starts once the list is known good: the database runs in its own
process, so it stores one chunk (`pos.storage.issuances.copy_batch_chunk`: vouchers,
credits and the balanced issue ledger entries) while Python reads the next from the spool,
and a chunk is only awaited when the following one is ready. A chunk is kept as columns
(`VoucherColumns`), never as an object per voucher, and the writer holds at most two.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable

from pos import codes
from pos.db.pool import Connection
from pos.storage import issuances as issuance_store
from pos.storage.vouchers import BatchStamp, VoucherColumns
from pos.vouchers.list_scan import CheckedRows


def random_voucher_ids(count: int) -> list[str]:
    """`count` random (version 4) uuids as text, from one read of the system's random
    source instead of one per voucher."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = raw[start:start + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


@dataclasses.dataclass(frozen=True)
class TokenTerms:
    """What every token of a batch carries besides its voucher's id."""

    program_id: str
    kid: str
    iat: int
    nbf: int
    exp: int


@dataclasses.dataclass(frozen=True)
class MintedChunk:
    """A chunk of checked rows made new vouchers, not yet stored: what a caller needs to
    hand them out (their codes' bodies, from which the codes follow)."""

    terms: TokenTerms
    columns: VoucherColumns
    bodies: list[str]


# Called with each chunk as it is minted; what it makes is the caller's to discard if the
# batch is not committed in the end.
ChunkSink = Callable[[MintedChunk], Awaitable[None]]


def mint(rows: CheckedRows, code_secret: bytes, generation: int
         ) -> tuple[VoucherColumns, list[str]]:
    """Give each checked row a new voucher id and its manual code (of token generation
    `generation`): the vouchers as stored (the code's hash, never the code) and the codes'
    bodies."""
    ids = random_voucher_ids(len(rows))
    bodies = codes.derive_bodies(code_secret, ids, generation)
    code_hash = codes.code_hash
    return VoucherColumns(ids=ids, refs=rows.refs, holders=rows.holders,
                          code_hashes=[code_hash(body) for body in bodies], lines=rows.lines,
                          notes=rows.notes, grants=rows.grants), bodies


class BatchWriter:
    """Stores chunks of minted vouchers of one batch, one in flight at a time."""

    def __init__(self, conn: Connection, stamp: BatchStamp) -> None:
        self._conn = conn
        self._stamp = stamp
        self._writing: asyncio.Task[None] | None = None

    async def send(self, chunk: VoucherColumns) -> int:
        """Send a chunk once the previous one is stored; returns its size. The database
        stores it while the caller goes on."""
        await self.drain()
        if not chunk.ids:
            return 0
        self._writing = asyncio.create_task(issuance_store.copy_batch_chunk(
            self._conn, self._stamp, chunk, random_voucher_ids(len(chunk))))
        await asyncio.sleep(0)  # let the task send the rows before the caller goes on
        return len(chunk)

    async def drain(self) -> None:
        """Wait for the chunk in flight; its failure (a beneficiary issued meanwhile) is
        raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await writing

    async def abandon(self) -> None:
        """On the way out after an error: the connection must be idle before the
        transaction rolls back, so wait for the chunk in flight, and drop its outcome."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)
