"""The background task every app runs beside its requests: deliver outbox events and
finish reversals of channel channel_payments. A failing listener or an unreachable provider only
ever delays this task, never a till's request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from pos.db.availability import is_database_away
from pos.events import delivery
from pos.service.services import Services
from pos.storage import throttles
from pos.till import channel_payments

log = logging.getLogger(__name__)


async def run_once(services: Services) -> int:
    """One pass: returns how many events and payments were worked on."""
    return await delivery.deliver_due(services) + await channel_payments.retry_due(services)


PRUNE_EVERY_SECONDS = 3600.0


async def _loop(services: Services) -> None:
    pause = services.config.plugins.event_poll_seconds
    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
    while True:
        await asyncio.sleep(pause)
        try:
            while await run_once(services):
                pass  # a full batch may mean more is waiting
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                await delivery.prune(services)
                await throttles.prune(services.pool)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_database_away(exc):  # an outage: one line, and try again on the next pass
                log.warning("background delivery paused: database unavailable (%s)",
                            type(exc).__name__)
            else:
                log.exception("background delivery pass failed")


def background(get_services: Callable[[web.Application], Services]
               ) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: starts the loop once the services exist, stops it before they go
    (the start-up routine then closes the plugins and the pool)."""
    async def context(app: web.Application) -> AsyncIterator[None]:
        services = get_services(app)
        task = asyncio.create_task(_loop(services), name="pos-background")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return context
