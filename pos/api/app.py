"""`create_app(config)`: the aiohttp application, its resources in cleanup contexts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from pos.api import (
    account_routes,
    admin_routes,
    console_routes,
    directory_routes,
    observability,
    offline_routes,
    pairing_routes,
    public_routes,
    report_routes,
    settlement_routes,
    till_app_routes,
    till_routes,
    voucher_routes,
)
from pos.api.auth import Authenticator
from pos.api.openapi import ROUTE_SPECS
from pos.api.plugin_routes import routes as plugin_routes
from pos.api.problems import problem_middleware, quiet_answered_body_errors
from pos.api.routing import Routes
from pos.api.state import ADMIN_TOKEN, AUTH, SERVICES
from pos.config import Config
from pos.events.background import background
from pos.service import admin_token, metrics_token
from pos.service.change_listener import listening
from pos.service.startup import running_services

log = logging.getLogger(__name__)

ROUTE_TABLES: tuple[Routes, ...] = (public_routes.routes, admin_routes.routes,
                                    till_routes.routes, pairing_routes.routes,
                                    till_app_routes.routes, settlement_routes.routes,
                                    report_routes.routes)
# Vouchers as people hold them: issuance batches, QR codes, cards, lifecycle, holder page.
ROUTE_TABLES += (voucher_routes.routes,)

# Named accounts, the audit log, and the program officer's console at /admin/.
ROUTE_TABLES += (account_routes.routes, directory_routes.routes, console_routes.routes)
# Offline tills: the signed kit, forwarded offline sales, offline limits.
ROUTE_TABLES += (offline_routes.routes,)

# Calls of built-in plugins: approved product lists, payment providers' webhooks.
ROUTE_TABLES += (plugin_routes,)

# What an operator watches: /metrics and /readyz.
ROUTE_TABLES += (observability.routes,)


def setup_routes(app: web.Application) -> None:
    specs = []
    for table in ROUTE_TABLES:
        table.install(app)
        specs.extend(table.specs)
    app[ROUTE_SPECS] = specs


def setup_middlewares(app: web.Application) -> None:
    app.middlewares.append(problem_middleware)
    quiet_answered_body_errors()
    observability.setup(app)  # request id, metrics and access log, outside the problems


def create_app(config: Config, *, extra_plugins: Mapping[str, object] | None = None
               ) -> web.Application:
    app = web.Application(client_max_size=config.server.max_body_bytes)
    setup_middlewares(app)
    setup_routes(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with running_services(config, extra_plugins=extra_plugins) as services, \
                listening(services.pool) as changes:
            token = admin_token.resolve(config)
            app[SERVICES] = services
            app[ADMIN_TOKEN] = token
            app[AUTH] = Authenticator(token, services.pool, changes,
                                      metrics_token=metrics_token.resolve(config))
            yield

    app.cleanup_ctx.append(resources)
    # After `resources`, so it starts once the services exist and stops before they go.
    app.cleanup_ctx.append(background(lambda app: app[SERVICES]))
    return app


