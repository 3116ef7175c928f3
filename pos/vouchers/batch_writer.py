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
import os

from pos import codes
from pos.db.pool import Connection
from pos.storage import vouchers as voucher_store
from pos.storage.vouchers import BatchStamp, VoucherColumns
from pos.vouchers.beneficiary_list import BeneficiaryRow


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


class BatchWriter:
    """Adds rows to the current chunk; `flush` sends it and lets the caller go on."""

    def __init__(self, conn: Connection, stamp: BatchStamp, code_secret: bytes,
                 chunk_size: int) -> None:
        self._conn = conn
        self._stamp = stamp
        self._secret = code_secret
        self._chunk_size = chunk_size
        self._chunk = VoucherColumns()
        self._ids: list[str] = []
        self._writing: asyncio.Task[None] | None = None

    def add(self, row: BeneficiaryRow) -> int:
        """Add a row; returns how many rows the current chunk holds."""
        chunk = self._chunk
        if not self._ids:
            self._ids = random_voucher_ids(self._chunk_size)
        voucher_id = self._ids.pop()
        body = codes.derive_body(self._secret, voucher_id, self._stamp.token_iat)
        chunk.ids.append(voucher_id)
        chunk.refs.append(row.ref)
        chunk.holders.append(row.holder_ref)
        chunk.code_hashes.append(codes.code_hash(body))
        chunk.lines.append(row.line)
        chunk.notes.append(row.note)
        chunk.grants.append(row.grant or "")
        return len(chunk.ids)

    async def flush(self) -> int:
        """Send the current chunk once the previous one is stored; returns its size. The
        database works on it while the caller builds the next one."""
        await self.drain()
        chunk, self._chunk = self._chunk, VoucherColumns()
        if not chunk.ids:
            return 0
        self._writing = asyncio.create_task(
            voucher_store.insert_batch_chunk(self._conn, self._stamp, chunk))
        await asyncio.sleep(0)  # let the task send the statement before the caller goes on
        return len(chunk.ids)

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
