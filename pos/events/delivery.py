"""Delivering events from the outbox to listener plugins, off the till's path.

Each event is delivered to every plugin implementing its hook (`pos_redemption_committed`,
`pos_redemption_voided`). A listener's success is recorded per event id, so a retry calls
only the listeners that have not yet taken the event: each listener takes each event once.
A listener that fails is tried again after a pause that doubles each time (from
`plugins.event_retry_seconds` up to `plugins.event_retry_max_seconds`) until
`plugins.event_max_attempts`, when the event is parked (`failed_at`) and logged.

What became of a claimed batch is written back in one statement once every event of it
was tried (`pos.storage.event_queue.settle`). The one gap: a listener that acts and then
the process dies before that statement is called again for that event; it receives the
same `event_id` and should act on it once.
"""

from __future__ import annotations

import logging
from typing import Any

from pos.plugin.types import ProgramView, RedemptionEvent
from pos.service.services import Services
from pos.storage import event_queue as store
from pos.storage.event_queue import OutboxEvent

log = logging.getLogger(__name__)

HOOKS = {
    "redemption.committed": "pos_redemption_committed",
    "redemption.voided": "pos_redemption_voided",
}


def _program(data: dict[str, Any] | None) -> ProgramView:
    data = data or {}
    return ProgramView(
        id=str(data.get("id", "")), name=str(data.get("name", "")),
        currency=str(data.get("currency", "")).strip(),
        restrictions=tuple(data.get("restrictions") or ()),
        rule_settings=data.get("rule_settings") or {},
        require_identity=bool(data.get("require_identity", False)))


def to_event(row: OutboxEvent) -> RedemptionEvent:
    return RedemptionEvent(
        event_id=row.id, kind=row.kind, occurred_at=row.created_at.isoformat(),
        redemption=row.payload, program=_program(row.program))


def retry_delay(services: Services, attempts: int) -> float:
    cfg = services.config.plugins
    return float(min(cfg.event_retry_max_seconds,
                     cfg.event_retry_seconds * 2 ** max(0, attempts - 1)))


async def deliver_due(services: Services, limit: int = 100) -> int:
    """Deliver what is due now; returns how many events were worked on."""
    lease = services.config.plugins.event_timeout_seconds * 2 + 30
    rows = await store.claim_due(services.pool, limit, lease)
    outcome = store.BatchOutcome()
    for row in rows:
        await _deliver(services, row, outcome)
    await store.settle(services.pool, outcome)
    return len(rows)


# Delivered events are history the program's own systems now hold; a week covers any
# investigation of a delivery without letting the table grow for ever.
KEEP_DELIVERED_DAYS = 7


async def prune(services: Services) -> int:
    return await store.prune(services.pool, KEEP_DELIVERED_DAYS)


async def _deliver(services: Services, row: OutboxEvent, outcome: store.BatchOutcome
                   ) -> None:
    hook = HOOKS.get(row.kind)
    if hook is None:
        outcome.delivered.append(row.id)  # a kind no hook listens to
        return
    event = to_event(row)
    failures = []
    for listener in services.plugins.listeners(hook):
        if listener in row.done:
            continue
        try:
            await services.plugins.notify(hook, listener, event)
        except Exception as exc:
            log.warning("event %s (%s) to %s failed, attempt %d: %r", row.id, row.kind,
                        listener, row.attempts, exc)
            failures.append(f"{listener}: {exc!r}")
            continue
        outcome.taken.append((row.id, listener, row.attempts))
    if not failures:
        outcome.delivered.append(row.id)
        return
    give_up = row.attempts >= services.config.plugins.event_max_attempts
    if give_up:
        log.error("event %s (%s) parked after %d attempts: %s", row.id, row.kind,
                  row.attempts, "; ".join(failures))
    outcome.retries.append((row.id, retry_delay(services, row.attempts), "; ".join(failures),
                            give_up))
