"""A small terminal client for the till API, for examples, scripts and benchmarks.

It does what the tablet app does, in Python: pair once, quote, redeem and void with an
idempotency key that is kept across retries, so a dropped connection is resolved by sending
the same request again (the service answers a repeated key with its first answer).

    async with await TerminalClient.pair("http://127.0.0.1:8080", "K3QH-7T2M") as till:
        basket = {"currency": "CNY", "lines": [{"sku": "1", "category": "stationery",
                  "description": "Notebook", "quantity": 1, "unit_price": 1300}]}
        print(await till.quote(code="ABCD-EFGH-JKMN-P", basket=basket))
        sale = await till.redeem(code="ABCD-EFGH-JKMN-P", basket=basket)
        await till.void(sale["id"])
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp


class Refused(Exception):
    """The service said no: an RFC 9457 problem with a `code` and a cashier's `detail`."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        self.code = str(problem.get("code", "http_error"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.code}: {self.detail}")


class OutcomeUnknown(Exception):
    """No answer after every retry. The request may or may not have been done; send it
    again later with the same `key` to find out (it is never done twice)."""

    def __init__(self, key: str, cause: BaseException | None) -> None:
        self.key = key
        super().__init__(f"no answer for idempotency key {key}: {cause!r}")


def _transient(status: int, body: Mapping[str, Any]) -> bool:
    """Answers after which the same request may be sent again for a final one."""
    return status >= 500 or (status == 409 and body.get("code") == "idempotency_in_progress")


class TerminalClient:
    def __init__(self, base_url: str, secret: str, *,
                 session: aiohttp.ClientSession | None = None, attempts: int = 6,
                 backoff: float = 0.2, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self._own_session = session is None
        self._session = session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout))

    @classmethod
    async def pair(cls, base_url: str, code: str, **kwargs: Any) -> TerminalClient:
        """Trade an administrator's pairing code for this terminal's own till secret."""
        async with aiohttp.ClientSession() as session, session.post(
                f"{base_url.rstrip('/')}/v1/pairings", json={"code": code}) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 201:
                raise Refused(resp.status, body)
        return cls(base_url, body["secret"], **kwargs)

    async def __aenter__(self) -> TerminalClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()

    # --------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None,
                    key: str | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.secret}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self._session.request(method, self.base_url + path, json=body,
                                         headers=headers) as resp:
            data: dict[str, Any] = await resp.json(content_type=None)
            return resp.status, data

    async def _write(self, path: str, body: Any, key: str) -> dict[str, Any]:
        """Send until a final answer; the same key every time."""
        cause: BaseException | None = None
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, data = await self._call("POST", path, body, key)
            except (TimeoutError, aiohttp.ClientError) as exc:
                cause = exc
                continue
            if _transient(status, data):
                cause = Refused(status, data)
                continue
            if status >= 400:
                raise Refused(status, data)
            return data
        raise OutcomeUnknown(key, cause)

    @staticmethod
    def _credential(token: str | None, code: str | None,
                    vouchers: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        """One voucher (`token` or `code`), or several paying one basket (`vouchers`, each
        `{"token": ...}` or `{"code": ...}`, in scan order)."""
        if vouchers is not None and token is None and code is None:
            return {"vouchers": [dict(v) for v in vouchers]}
        if token is not None and code is None and vouchers is None:
            return {"token": token}
        if code is not None and token is None and vouchers is None:
            return {"code": code}
        raise ValueError("give the voucher's token, its manual code, or a list of vouchers")

    async def quote(self, *, basket: Mapping[str, Any], token: str | None = None,
                    code: str | None = None, channel: str = "cash",
                    identity_confirmed: bool = False,
                    vouchers: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        body = {**self._credential(token, code, vouchers), "basket": basket,
                "channel": channel,
                "identity_confirmed": identity_confirmed}
        status, data = await self._call("POST", "/v1/quotes", body)
        if status != 200:
            raise Refused(status, data)
        return data

    async def redeem(self, *, basket: Mapping[str, Any], token: str | None = None,
                     code: str | None = None, channel: str = "cash",
                     identity_confirmed: bool = False, amount: int | None = None,
                     key: str | None = None,
                     vouchers: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        """Redeem, exactly once. Pass `key` to resume a redemption whose outcome was unknown."""
        body: dict[str, Any] = {**self._credential(token, code, vouchers), "basket": basket,
                                "channel": channel, "identity_confirmed": identity_confirmed}
        if amount is not None:
            body["amount"] = amount
        return await self._write("/v1/redemptions", body, key or uuid.uuid4().hex)

    async def void(self, redemption_id: str, *, key: str | None = None) -> dict[str, Any]:
        return await self._write(f"/v1/redemptions/{redemption_id}/void", None,
                                 key or uuid.uuid4().hex)

    async def redemption(self, redemption_id: str) -> dict[str, Any]:
        status, data = await self._call("GET", f"/v1/redemptions/{redemption_id}")
        if status != 200:
            raise Refused(status, data)
        return data
