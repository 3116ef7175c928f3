"""Pairing a tablet with a till, so the raw till secret never has to be typed.

An administrator asks for a pairing code for a till; the tablet sends the code once and
receives a fresh till secret, which it keeps. The new secret replaces the till's previous
one (a till is one device; pairing another tablet moves the till to it). Every process
hears of the change at once (migration 0401) and stops accepting the old secret.
"""

from __future__ import annotations

from aiohttp import web

from pos.api.auth import new_till_secret, secret_hash
from pos.api.client_address import client_address
from pos.api.requests import PairingIn
from pos.api.routing import Routes
from pos.api.state import body, calling_till, json_response, path_id, services
from pos.errors import INVALID_PAIRING_CODE, RATE_LIMITED, Problem
from pos.messages import msg, words
from pos.signing import kit_signing
from pos.storage import offline_kits, throttles
from pos.storage import till_pairing as store
from pos.till import pairing_code

routes = Routes("pairing")


def _invalid() -> Problem:
    return INVALID_PAIRING_CODE(msg("invalid_pairing_code"))


@routes.post("/v1/tills/{id}/pairing-codes",
             summary="A one-time code (ten minutes) that pairs a tablet with this till",
             auth="officer", status=201,
             action=words("生成收银台配对码", "Make a till's pairing code"))
async def create_pairing_code(request: web.Request) -> web.Response:
    till_id = path_id(request, "id", "till")
    code = pairing_code.new_code()
    symbols = pairing_code.normalise(code)
    assert symbols is not None
    expires_at = await store.create_code(
        services(request).pool, till_id, pairing_code.code_hash(symbols), pairing_code.TTL_SECONDS)
    response = json_response({"till_id": till_id, "code": code,
                              "expires_at": expires_at.isoformat()}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/v1/pairings", summary="Trade a pairing code for this tablet's till secret",
             auth="none", body=PairingIn, status=201)
async def pair(request: web.Request) -> web.Response:
    # Rate-limited before anything else, so guessing costs the same whatever is sent. Per
    # client address (read through trusted proxies), in PostgreSQL across every process.
    svc = services(request)
    address = client_address(request, svc.config.server.trusted_proxies)
    if not await throttles.take(svc.pool, f"pairing:{address}",
                                svc.config.limits.pairing_attempts_per_minute):
        raise RATE_LIMITED("Too many pairing attempts. Wait a minute and try again.")
    payload = await body(request, PairingIn)
    symbols = pairing_code.normalise(payload.code)
    if symbols is None:
        raise _invalid()
    secret = new_till_secret()
    till = await store.spend_code(services(request).pool, pairing_code.code_hash(symbols),
                                  secret_hash(secret))
    if till is None:
        raise _invalid()
    if payload.device_key is not None:
        await offline_kits.set_device_key(services(request).pool, till["till_id"],
                                          payload.device_key)
    response = json_response({**till, "secret": secret, **_kit_key(request),
                              "time_zone": _time_zone(request)}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/v1/till", summary="The calling till: its id, its shop and their names, and "
            "the time zone its receipts are in", auth="till")
async def whoami(request: web.Request) -> web.Response:
    till = calling_till(request)
    return json_response({**await store.till_profile(services(request).pool, till.till_id),
                          "time_zone": _time_zone(request)})


def _time_zone(request: web.Request) -> str:
    """The shop's clock for what the tablet prints and shows (a receipt, a refused offline
    sale): the service's time zone, as the console shows times, never the tablet's own."""
    return services(request).config.redemption.timezone


def _kit_key(request: web.Request) -> dict[str, str]:
    """The public key offline kits are signed with: the tablet pins it (docs/offline.md)."""
    return {"kit_public_key": kit_signing.public_text(
        kit_signing.kit_key(services(request).data_dir))}
