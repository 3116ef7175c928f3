"""Who is acting, for the audit log: a context variable the API sets while it serves a
signed-in person (and `pos` commands set for their whole run), copied onto every pooled
connection the request acquires as the settings `pos.actor` and `pos.actor_id`.

The triggers of migration 0301 (`pos_audit_append`) read these settings and append one
hash-chained `audit_log` row per changed table in the same transaction as the change. The
settings are session-level: a connection tagged with an actor gets asyncpg's full reset
(`RESET ALL` among it) when it goes back to the pool, so a connection that next serves a
till carries no actor; untagged connections (the till's) skip that round trip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any


@dataclasses.dataclass(frozen=True)
class Actor:
    """A person (or a command) changing things, as the audit log records them."""

    login: str
    role: str
    action: str
    account_id: str | None = None
    address: str | None = None
    request_id: str | None = None

    def as_setting(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


CURRENT_ACTOR: ContextVar[Actor | None] = ContextVar("pos_current_actor", default=None)
# The connections (not their pool proxies) that carry an actor until their next reset.
_TAGGED: weakref.WeakSet[Any] = weakref.WeakSet()


@contextlib.contextmanager
def acting(actor: Actor | None) -> Iterator[None]:
    """Within this block, connections acquired from the pool carry `actor`."""
    token = CURRENT_ACTOR.set(actor)
    try:
        yield
    finally:
        CURRENT_ACTOR.reset(token)


async def apply_actor(conn: Any) -> None:
    """Pool `setup`: tag the connection with the current actor, when there is one (the till's
    hot path has none and pays nothing)."""
    actor = CURRENT_ACTOR.get()
    if actor is None:
        return
    await conn.execute(
        "SELECT set_config('pos.actor', $1, false), set_config('pos.actor_id', $2, false)",
        actor.as_setting(), actor.account_id or "")
    _TAGGED.add(getattr(conn, "_con", conn))  # the pool's proxy wraps the connection


async def reset_if_tagged(conn: Any) -> None:
    """Pool `reset`: a connection that carried an actor is reset whole; others need nothing."""
    if conn in _TAGGED:
        _TAGGED.discard(conn)
        await conn.reset()

