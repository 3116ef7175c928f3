"""The list of codes, tokens and holder links of a batch being issued, made while the
list is read and the database stores it.

`issue_batch(sink=...)` hands each chunk of new vouchers over as it is minted; here it
becomes CSV text (`EXPORT_COLUMNS`), exactly as `export_batch` regenerates it from the
database after the commit, without reading it back. Signing is most of the work, so the
chunks are signed in worker processes (the database's process, this one and the workers
share the machine's cores) and their text is written in list order. Handing a chunk in
never waits for the workers: reading the list and storing it must not wait for signing,
which takes longest. A chunk waits as one compact `marshal` blob of the columns a worker
needs (about 100 bytes a voucher) until a worker is free, and a few are in flight at a
time. Workers load the key from the data folder themselves: no key material crosses a
pipe.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import functools
import io
import marshal
import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pos import codes
from pos.service.services import Services
from pos.signing import keys
from pos.signing.tokens import TokenSigner
from pos.vouchers.batch_writer import MintedChunk, TokenTerms
from pos.vouchers.carried import link_base


@dataclasses.dataclass(frozen=True)
class _Job:
    """One chunk's share of the work, as sent to a worker (picklable, no key): the columns
    `chunk_rows` reads, marshalled."""

    data_dir: str
    issuer: str
    audience: str
    link_base: str
    terms: TokenTerms
    columns: bytes


def _job(data_dir: str, issuer: str, audience: str, base: str, chunk: MintedChunk) -> _Job:
    c = chunk.columns
    return _Job(data_dir, issuer, audience, base, chunk.terms, marshal.dumps(
        (c.ids, c.lines, c.refs, c.holders, c.grants, chunk.bodies)))


@functools.lru_cache(maxsize=8)
def _signer(data_dir: str, kid: str, issuer: str, audience: str) -> TokenSigner:
    key = keys.load_private_key(Path(data_dir), kid)
    return TokenSigner(key, kid, issuer=issuer, audience=audience)


def chunk_rows(signer: TokenSigner, base: str, terms: TokenTerms, ids: list[str],
               lines: list[int], refs: list[str], holders: list[str | None],
               grants: list[str], bodies: list[str]) -> list[list[str]]:
    """The export rows of a chunk of new (so active) vouchers."""
    sign = signer.sign
    program_id, iat, nbf, exp = terms.program_id, terms.iat, terms.nbf, terms.exp
    out = []
    for voucher_id, line, ref, holder, grant, body in zip(
            ids, lines, refs, holders, grants, bodies, strict=True):
        code = codes.format_code(body)
        token = sign(voucher_id=voucher_id, program_id=program_id, iat=iat, nbf=nbf, exp=exp)
        out.append([str(line), ref, holder or "", voucher_id, "active", code, token,
                    base + code, grant])
    return out


def _chunk_text(job: _Job) -> str:
    signer = _signer(job.data_dir, job.terms.kid, job.issuer, job.audience)
    # our own blob, made by `_job` in the issuing process
    columns = marshal.loads(job.columns)  # noqa: S302
    return csv_text(chunk_rows(signer, job.link_base, job.terms, *columns))


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
                 workers: int | None = None, in_flight: int | None = None) -> None:
        tokens = services.config.tokens
        self._job = functools.partial(_job, str(services.data_dir), tokens.issuer,
                                      tokens.audience, link_base(services))
        self._write = write
        self._workers = worker_count() if workers is None else workers
        # Enough in flight that no worker waits for the next chunk between two.
        self._in_flight = 2 * self._workers if in_flight is None else in_flight
        self._pool: ProcessPoolExecutor | None = None
        self._waiting: deque[_Job] = deque()
        self._pending: deque[asyncio.Future[str]] = deque()
        self._failure: BaseException | None = None
        self._closed = False

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
                    await asyncio.wait([self._pending[0]])
                    self._pump()
                    self._raise_failure()
        finally:
            self._closed = True
            self._waiting.clear()
            for future in self._pending:
                future.cancel()
            if self._pool is not None:
                await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)

    async def add(self, chunk: MintedChunk) -> None:
        """Hand a chunk in: it is signed when a worker is free. Never waits for one."""
        self._raise_failure()
        job = self._job(chunk)
        if self._pool is None:
            self._write(_chunk_text(job))
            return
        self._waiting.append(job)
        self._pump()

    def _pump(self, _done: object = None) -> None:
        """Write the texts that are done, in order, and give free workers the next chunks
        (also run as each worker's result arrives)."""
        if self._closed or self._failure is not None or self._pool is None:
            return
        pending = self._pending
        try:
            while pending and pending[0].done():
                self._write(pending.popleft().result())
        except BaseException as exc:  # a worker's error, or the file's: raised by the caller
            self._failure = exc
            return
        loop = asyncio.get_running_loop()
        while self._waiting and len(pending) < self._in_flight:
            future = loop.run_in_executor(self._pool, _chunk_text, self._waiting.popleft())
            future.add_done_callback(self._pump)
            pending.append(future)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
