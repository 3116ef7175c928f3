"""Calls anyone may make: health, the public keys, the API description."""

from __future__ import annotations

from aiohttp import web
from pos_terminals import TABLET_DIR

from pos.api.routing import Routes
from pos.api.state import json_response, services
from pos.signing import keys

routes = Routes("public")


@routes.get("/healthz", summary="Is the process alive (liveness; /readyz asks for the "
            "database too)", auth="none")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/.well-known/jwks.json", summary="Public keys that verify voucher tokens",
            auth="none")
async def jwks(request: web.Request) -> web.Response:
    found = await keys.list_keys(services(request).pool)
    response = json_response(keys.jwks(found))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@routes.get("/favicon.ico", summary="The service's icon (the till's), which browsers ask "
            "for on every page", auth="none", content_type="image/svg+xml")
async def favicon(request: web.Request) -> web.Response:
    return web.Response(body=(TABLET_DIR / "icon.svg").read_bytes(),
                        content_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@routes.get("/v1/openapi.json", summary="This API, as OpenAPI 3.1", auth="none")
async def openapi(request: web.Request) -> web.Response:
    from pos.api.openapi import openapi_document

    return json_response(openapi_document(request.app))
