"""`http_wallet`: a generic HTTP wallet provider, the worked example for provider plugins.

Outbound (we call the provider), every call a JSON POST to `base_url` + path:

    /v1/payments  {"amount", "currency", "merchant_id", "redemption_id", "metadata"}
    /v1/refunds   {"payment_key", "amount", "currency"}  reverse the payment made with
                  that idempotency key; if it never arrived, the provider must refuse it
                  should it arrive later (so a reversal after a timeout is always safe)
    /v1/payouts   {"amount", "currency", "merchant_id"}

with headers `Idempotency-Key`, `X-Timestamp` (unix seconds) and `X-Signature` (hex
HMAC-SHA256 of `"<timestamp>." + body` with `secret`). A 2xx answer `{"id": ...}` is
success; 402 or another 4xx is a refusal; timeouts, connection errors, 409 and 5xx are
retried (same key, fresh signature) up to `max_attempts` times, then `ChannelUnavailable`.

Inbound webhooks (`POST /v1/channels/http_wallet/webhooks`) carry `X-Wallet-Timestamp`
and `X-Wallet-Signature` over the same construction with `webhook_secret`; a body
`{"id", "type", "data": {"payment_id"}}`. Stale ones (outside `webhook_tolerance_seconds`)
are refused here; the core refuses replays and makes duplicates harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from pos import hookimpl
from pos.plugin.types import (
    ChannelRegistry,
    ChannelRequest,
    ChannelResult,
    ChannelUnavailable,
    Setting,
    WebhookEvent,
    WebhookRejected,
    WebhookRequest,
)

log = logging.getLogger(__name__)

_RETRYABLE = {408, 409, 425, 429}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class HttpWalletChannel:
    name = "http_wallet"
    description = "A wallet provider over HTTP: signed requests, retries, webhooks."
    external = True  # money moves at the provider: the core journals and reverses

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.base_url = str(settings["base_url"]).rstrip("/")
        self.secret = str(settings["secret"])
        self.webhook_secret = str(settings["webhook_secret"]) or self.secret
        self.timeout = float(settings["timeout_seconds"])
        self.attempts = max(1, int(settings["max_attempts"]))
        self.backoff = float(settings["backoff_seconds"])
        self.tolerance = int(settings["webhook_tolerance_seconds"])
        # The core's guard around a whole call: every attempt and every pause, and a margin.
        self.call_timeout = (self.attempts * self.timeout
                             + sum(self.backoff * 2**i for i in range(self.attempts)) + 1.0)
        self._session: aiohttp.ClientSession | None = None

    # -- outbound ----------------------------------------------------------------------

    async def collect(self, request: ChannelRequest) -> ChannelResult:
        return await self._call("/v1/payments", request, {
            "amount": request.amount, "currency": request.currency,
            "merchant_id": request.merchant_id, "redemption_id": request.redemption_id,
            "metadata": dict(request.metadata)})

    async def refund(self, request: ChannelRequest) -> ChannelResult:
        return await self._call("/v1/refunds", request, {
            "payment_key": request.metadata.get("payment_key"),
            "amount": request.amount, "currency": request.currency})

    async def payout(self, request: ChannelRequest) -> ChannelResult:
        return await self._call("/v1/payouts", request, {
            "amount": request.amount, "currency": request.currency,
            "merchant_id": request.merchant_id})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def _call(self, path: str, request: ChannelRequest, payload: Mapping[str, Any]
                    ) -> ChannelResult:
        if not self.base_url or not self.secret:
            return ChannelResult(False, message="The wallet provider is not configured.")
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        problem = "no attempt made"
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            timestamp = int(time.time())
            headers = {"Content-Type": "application/json",
                       "Idempotency-Key": request.idempotency_key,
                       "X-Timestamp": str(timestamp),
                       "X-Signature": sign(self.secret, timestamp, body)}
            try:
                async with self._client().post(self.base_url + path, data=body,
                                               headers=headers) as response:
                    status = response.status
                    answer = await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                log.warning("http_wallet %s attempt %d failed: %s", path, attempt + 1, problem)
                continue
            if 200 <= status < 300 and isinstance(answer, dict) and answer.get("id"):
                return ChannelResult(True, reference=str(answer["id"]),
                                     message=str(answer.get("message", "")))
            if status >= 500 or status in _RETRYABLE or (200 <= status < 300):
                problem = f"provider answered {status}"
                log.warning("http_wallet %s attempt %d: %s", path, attempt + 1, problem)
                continue
            message = answer.get("message") if isinstance(answer, dict) else None
            return ChannelResult(False, message=str(message or "The wallet refused the payment."))
        raise ChannelUnavailable(f"{path}: {problem} after {self.attempts} attempt(s)")

    # -- inbound -----------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest) -> WebhookEvent:
        timestamp = request.headers.get("X-Wallet-Timestamp", "")
        given = request.headers.get("X-Wallet-Signature", "")
        # Bounded before int(): a timestamp of thousands of digits is simply unsigned.
        well_formed = (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
                       and bool(given) and len(given) <= 256)
        if not self.webhook_secret or not well_formed:
            raise WebhookRejected("webhook_signature_invalid",
                                  "The webhook is not signed.")
        expected = sign(self.webhook_secret, int(timestamp), request.body)
        if not hmac.compare_digest(expected, given):
            raise WebhookRejected("webhook_signature_invalid",
                                  "The webhook's signature is not right.")
        # Checked after the signature, so an unsigned caller learns nothing about timing.
        if abs(time.time() - int(timestamp)) > self.tolerance:
            raise WebhookRejected("webhook_stale", "The webhook is too old (or from the "
                                  "future) and was not taken.")
        try:
            event = json.loads(request.body)
            event_id, kind = str(event["id"]), str(event["type"])
            data = event.get("data") or {}
            if not isinstance(data, dict):
                raise TypeError("data")
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected(
                "webhook_invalid", "The webhook's body is not an event.") from None
        reference = data.get("payment_id")
        return WebhookEvent(event_id=event_id, type=kind, fingerprint=f"{timestamp}:{given}",
                            reference=None if reference is None else str(reference), data=data)


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("base_url", str, "", "The provider's API address; empty: not configured."),
        Setting("secret", str, "", "Shared secret our requests are signed with."),
        Setting("webhook_secret", str, "", "Secret the provider signs webhooks with "
                "(empty: `secret`)."),
        Setting("timeout_seconds", float, 3.0, "How long one request may take, in seconds."),
        Setting("max_attempts", int, 3, "Attempts per call (same idempotency key)."),
        Setting("backoff_seconds", float, 0.2, "First pause between attempts (doubling)."),
        Setting("webhook_tolerance_seconds", int, 300,
                "Webhooks older or newer than this are refused as stale."),
    ]


@hookimpl
def pos_register_payment_channels(register: ChannelRegistry, settings: Mapping[str, Any]) -> None:
    register.add(HttpWalletChannel(settings))
