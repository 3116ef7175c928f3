"""The list of codes, tokens and holder links of a batch being issued, made while the
database stores it.

`issue_batch(sink=...)` hands each chunk over as it is sent to the database; here it
becomes CSV text (`EXPORT_COLUMNS`), exactly as `export_batch` regenerates it from the
database after the commit, without reading it back. Signing is most of the work, so the
chunks are signed in worker processes (the database's process, this one and the workers
share the machine's cores) and their text is written in list order. Workers load the key
from the data folder themselves: no key material crosses a pipe. At most a few chunks are
in flight, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import functools
import io
import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from pos import codes
from pos.service.services import Services
from pos.signing import keys
from pos.signing.tokens import TokenSigner
from pos.vouchers.batch_writer import WrittenChunk
from pos.vouchers.carried import link_base


@dataclasses.dataclass(frozen=True)
class _Job:
    """One chunk's share of the work, as sent to a worker (picklable, no key)."""

    data_dir: str
    issuer: str
    audience: str
    link_base: str
    chunk: WrittenChunk


@functools.lru_cache(maxsize=8)
def _signer(data_dir: str, kid: str, issuer: str, audience: str) -> TokenSigner:
    key = keys.load_private_key(Path(data_dir), kid)
    return TokenSigner(key, kid, issuer=issuer, audience=audience)


def chunk_rows(signer: TokenSigner, base: str, chunk: WrittenChunk) -> list[list[str]]:
    """The export rows of a chunk of new (so active) vouchers."""
    stamp, columns = chunk.stamp, chunk.columns
    sign = signer.sign
    program_id, iat, nbf, exp = (stamp.program_id, stamp.token_iat, chunk.token_nbf,
                                 stamp.token_exp)
    out = []
    for voucher_id, line, ref, holder, grant, body in zip(
            columns.ids, columns.lines, columns.refs, columns.holders, columns.grants,
            chunk.bodies, strict=True):
        code = codes.format_code(body)
        token = sign(voucher_id=voucher_id, program_id=program_id, iat=iat, nbf=nbf, exp=exp)
        out.append([str(line), ref, holder or "", voucher_id, "active", code, token,
                    base + code, grant])
    return out


def _chunk_text(job: _Job) -> str:
    signer = _signer(job.data_dir, job.chunk.stamp.token_kid, job.issuer, job.audience)
    return csv_text(chunk_rows(signer, job.link_base, job.chunk))


def csv_text(rows: list[list[str]]) -> str:
    """Rows exactly as `csv.writer` writes them (commas, CRLF, quotes only where needed),
    but joined directly when no field needs quoting, as in a list of codes and tokens
    (checked on the text, not assumed): the csv module looks at every character of every
    token and takes about as long as signing it."""
    text = "".join([",".join(row) + "\r\n" for row in rows])
    if (text.count(",") == sum(len(row) - 1 for row in rows) and '"' not in text
            and text.count("\r") == text.count("\n") == len(rows)):
        return text
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def _ready() -> None:
    """Run once per worker as the pool starts, so start-up overlaps the list's check."""


def worker_count() -> int:
    """One worker per core beyond the first, which this process and the database share."""
    return max(1, (os.cpu_count() or 2) - 1)


class FreshList:
    """Makes each chunk's CSV text in a worker and hands the texts to `write` in order.

    Use as `async with FreshList(services, write) as fresh: ... sink=fresh.add ...`; on a
    clean exit every chunk handed in has been written. `workers=0` signs in this process.
    """

    def __init__(self, services: Services, write: Callable[[str], object], *,
                 workers: int | None = None, in_flight: int = 4) -> None:
        tokens = services.config.tokens
        self._job = functools.partial(_Job, str(services.data_dir), tokens.issuer,
                                      tokens.audience, link_base(services))
        self._write = write
        self._workers = worker_count() if workers is None else workers
        self._in_flight = in_flight
        self._pool: Executor | None = None
        self._pending: deque[asyncio.Future[str]] = deque()

    async def __aenter__(self) -> FreshList:
        if self._workers:
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self._workers):
                self._pool.submit(_ready)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                while self._pending:
                    self._write(await self._pending.popleft())
        finally:
            for future in self._pending:
                future.cancel()
            if self._pool is not None:
                await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)

    async def add(self, chunk: WrittenChunk) -> None:
        """Hand a chunk in; writes the texts that are done, waiting when too many are not."""
        job = self._job(chunk)
        if self._pool is None:
            self._write(_chunk_text(job))
            return
        self._pending.append(asyncio.get_running_loop().run_in_executor(
            self._pool, _chunk_text, job))
        while self._pending and (self._pending[0].done()
                                 or len(self._pending) > self._in_flight):
            self._write(await self._pending.popleft())
