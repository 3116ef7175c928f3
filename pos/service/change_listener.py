"""Hear about changes other processes make (migration 0401: `LISTEN pos_changes`).

Each process holds one pooled connection listening on the channel; a change to `tills` or
`signing_keys` arrives with the table's name and every subscriber drops what it cached.
While the connection is down (the database is away, say) nothing can be heard, so
`hearing` is False and callers must not trust their caches; when it is back, subscribers
are told `*` (anything may have changed meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg

from pos.db.availability import is_database_away

log = logging.getLogger(__name__)

CHANNEL = "pos_changes"
RECONNECT_SECONDS = 1.0
EVERYTHING = "*"


class ChangeListener:
    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool
        self._subscribers: list[Callable[[str], None]] = []
        self.hearing = False

    def subscribe(self, callback: Callable[[str], None]) -> None:
        self._subscribers.append(callback)

    def _tell(self, table: str) -> None:
        for callback in self._subscribers:
            callback(table)

    def _on_notification(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        self._tell(str(payload))

    async def _listen_once(self) -> None:
        lost = asyncio.Event()
        async with self._pool.acquire() as conn:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._on_notification)
            self.hearing = True
            self._tell(EVERYTHING)
            try:
                await lost.wait()
            finally:
                self.hearing = False
                # A connection the server dropped has already gone back to the pool, and
                # then even asking whether it is closed raises: nothing is left to remove.
                with contextlib.suppress(Exception):
                    if not conn.is_closed():
                        await conn.remove_listener(CHANNEL, self._on_notification)

    async def run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_database_away(exc):
                    log.exception("listening for changes failed")
            self.hearing = False
            self._tell(EVERYTHING)
            await asyncio.sleep(RECONNECT_SECONDS)


@contextlib.asynccontextmanager
async def listening(pool: asyncpg.Pool[Any]) -> AsyncIterator[ChangeListener]:
    """A listener running beside the app, stopped on the way out."""
    listener = ChangeListener(pool)
    task = asyncio.create_task(listener.run(), name="pos-change-listener")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
