"""Writing a checked beneficiary list as vouchers, a chunk at a time, while the next chunk
is being built.

The database runs in its own process, so it can store one chunk while Python makes the
ids and code hashes of the next: each chunk is sent as one statement
(`pos.storage.vouchers.insert_batch_chunk`: vouchers, credits and the balanced issue
ledger entries) and only awaited when the following chunk is ready. A chunk is kept as
columns (`VoucherColumns`), never as an object per voucher, and at most two chunks are
held at once, so memory stays flat however long the list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable

from pos import codes
from pos.db.pool import Connection
from pos.storage import vouchers as voucher_store
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
class WrittenChunk:
    """A chunk just sent to the database (not yet committed): what a caller needs to hand
    the new vouchers out (their codes' bodies, from which the codes follow) while the
    database stores it."""

    stamp: BatchStamp
    token_nbf: int
    columns: VoucherColumns
    bodies: list[str]


# Called with each chunk as it is sent; what it makes is the caller's to discard if the
# batch is not committed in the end.
ChunkSink = Callable[[WrittenChunk], Awaitable[None]]


class BatchWriter:
    """Sends chunks of checked rows as new vouchers, one in flight at a time."""

    def __init__(self, conn: Connection, stamp: BatchStamp, code_secret: bytes,
                 *, token_nbf: int, sink: ChunkSink | None = None) -> None:
        self._conn = conn
        self._stamp = stamp
        self._nbf = token_nbf
        self._secret = code_secret
        self._sink = sink
        self._writing: asyncio.Task[None] | None = None

    async def send(self, rows: CheckedRows) -> int:
        """Give a chunk of checked rows an id and a code each and send it once the previous
        chunk is stored, then hand it to the sink; returns its size. The database stores
        it while the sink and the caller work on."""
        ids = random_voucher_ids(len(rows))
        iat, secret = self._stamp.token_iat, self._secret
        bodies = [codes.derive_body(secret, voucher_id, iat) for voucher_id in ids]
        chunk = VoucherColumns(ids=ids, refs=rows.refs, holders=rows.holders,
                               code_hashes=[codes.code_hash(body) for body in bodies],
                               lines=rows.lines, notes=rows.notes, grants=rows.grants)
        await self.drain()
        if not ids:
            return 0
        self._writing = asyncio.create_task(
            voucher_store.insert_batch_chunk(self._conn, self._stamp, chunk))
        await asyncio.sleep(0)  # let the task send the statement before the caller goes on
        if self._sink is not None:
            await self._sink(WrittenChunk(self._stamp, self._nbf, chunk, bodies))
        return len(ids)

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
