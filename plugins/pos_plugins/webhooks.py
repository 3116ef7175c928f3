"""`webhooks`: posts each redemption event as signed JSON to the program's own system.

A program opts in with `rule_settings.webhooks.url` (and may limit `events` to
`["redemption.committed"]` or `["redemption.voided"]`). The body is the event; headers:

    X-Pos-Event-Id:  the event's id (the same on every retry: deduplicate on it)
    X-Pos-Event:     redemption.committed | redemption.voided
    X-Pos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with `secret`>

Any answer but 2xx (or no answer within `timeout_seconds`) raises, and the outbox retries
later with the same event id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Mapping
from typing import Any

import aiohttp

from pos import hookimpl
from pos.plugin.types import RedemptionEvent, Setting


class WebhookFailed(Exception):
    """The program's server did not take the event; the outbox will retry."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event_body(event: RedemptionEvent) -> bytes:
    payload = {
        "id": event.event_id, "type": event.kind, "occurred_at": event.occurred_at,
        "program": {"id": event.program.id, "name": event.program.name},
        "redemption": dict(event.redemption),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode()


async def _post(url: str, event: RedemptionEvent, settings: Mapping[str, Any]) -> None:
    if not settings["secret"]:
        # Never post unsigned: the receiver could not tell us from anyone else. The event
        # waits in the outbox (and is logged) until a secret is configured.
        raise WebhookFailed("[plugins.webhooks] secret is not set; nothing was posted")
    body = event_body(event)
    headers = {
        "Content-Type": "application/json",
        "X-Pos-Event-Id": event.event_id,
        "X-Pos-Event": event.kind,
        "X-Pos-Signature": signature(settings["secret"], int(time.time()), body),
    }
    timeout = aiohttp.ClientTimeout(total=float(settings["timeout_seconds"]))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.post(url, data=body, headers=headers) as response:
                if not 200 <= response.status < 300:
                    raise WebhookFailed(f"{url} answered {response.status}")
        except aiohttp.ClientError as exc:
            raise WebhookFailed(f"{url}: {exc}") from exc


def _deliver(event: RedemptionEvent, settings: Mapping[str, Any]) -> Awaitable[None] | None:
    program = event.program.settings_for("webhooks")
    url = program.get("url")
    events = program.get("events")
    if not isinstance(url, str) or not url:
        return None  # this program has no webhook: nothing to do
    if isinstance(events, list) and event.kind not in events:
        return None
    return _post(url, event, settings)


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("secret", str, "", "Secret the posted JSON is signed with (HMAC-SHA256)."),
        Setting("timeout_seconds", float, 5.0,
                "How long the program's server may take to answer, in seconds."),
    ]


@hookimpl
def pos_redemption_committed(
    event: RedemptionEvent, settings: Mapping[str, Any]
) -> Awaitable[None] | None:
    return _deliver(event, settings)


@hookimpl
def pos_redemption_voided(
    event: RedemptionEvent, settings: Mapping[str, Any]
) -> Awaitable[None] | None:
    return _deliver(event, settings)
