"""What an operator watches: a request id on every request and log line, request metrics,
`GET /metrics` (Prometheus text format) and `GET /readyz` (is the database reachable).

`/healthz` (in `public_routes`) is liveness only: the process answers. `/readyz` is
readiness: 200 when PostgreSQL answers within a second, else `503 service_unavailable`,
so a load balancer stops sending tills to a worker that cannot serve them, and sends them
again when the database is back (the pool reconnects by itself).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from pos import logs, metrics
from pos.api.problems import PROBLEM_CODE, database_unavailable, problem_response
from pos.api.routing import Routes
from pos.api.state import SERVICES, json_response, services
from pos.db.availability import is_database_away
from pos.storage import service_health

log = logging.getLogger(__name__)
access_log = logging.getLogger("pos.access")

REQUEST_ID_HEADER = "X-Request-Id"
# An id a proxy already gave the request is kept when it is short and plain.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
READY_TIMEOUT_SECONDS = 1.0

routes = Routes("operations")


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


# Each request's counter and histogram, by (route template, method, status): a bounded set,
# looked up once instead of through prometheus-client's locked label map on every answer.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
POOL_GAUGE_SECONDS = 0.5  # how stale the pool's gauges may be
_pool_seen = -POOL_GAUGE_SECONDS


def _request_series(route: str, method: str, status: int) -> tuple[Any, Any]:
    series = _SERIES.get((route, method, status))
    if series is None:
        labels = (route, method, str(status))
        series = _SERIES[(route, method, status)] = (
            metrics.REQUESTS.labels(*labels), metrics.REQUEST_SECONDS.labels(*labels))
    return series


def _observe_pool(app: web.Application, now: float | None = None) -> None:
    """The pool's gauges: on every scrape, and after an answer (`now`) at most every
    POOL_GAUGE_SECONDS, since counting idle connections walks the pool."""
    global _pool_seen
    svc = app.get(SERVICES)
    if svc is None:
        return
    if now is not None:
        if now - _pool_seen < POOL_GAUGE_SECONDS:
            return
        _pool_seen = now
    size, idle = svc.pool.get_size(), svc.pool.get_idle_size()
    metrics.POOL_CONNECTIONS.labels("in_use").set(size - idle)
    metrics.POOL_CONNECTIONS.labels("idle").set(idle)
    metrics.POOL_CONNECTIONS.labels("max").set(svc.pool.get_max_size())


@web.middleware
async def request_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost: gives the request its id, then counts and times its answer."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    rid = given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
    token = logs.request_id.set(rid)
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:  # a streamed one got it when it was prepared
            response.headers[REQUEST_ID_HEADER] = rid
        return response
    except web.HTTPException as exc:  # redirects pass through the problem middleware
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = rid
        raise
    finally:
        now = time.perf_counter()
        elapsed = now - started
        route, method = _route(request), request.method
        counted, timed = _request_series(route, method, status)
        counted.inc()
        timed.observe(elapsed)
        code = response.get(PROBLEM_CODE) if response is not None else None
        if code == "service_unavailable":
            metrics.DATABASE_UNAVAILABLE.inc()
        if route == "/v1/redemptions" and method == "POST":
            metrics.REDEMPTIONS.labels(code or ("redeemed" if status < 300 else str(status))
                                       ).inc()
        _observe_pool(request.app, now)
        access_log.info("%s %s %s", method, route, status,
                        extra={"status": status, "ms": round(elapsed * 1000, 2)})
        logs.request_id.reset(token)


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """On streamed responses, whose headers go out while the handler runs."""
    rid = logs.request_id.get()
    if rid is not None:
        response.headers[REQUEST_ID_HEADER] = rid


def setup(app: web.Application) -> None:
    app.middlewares.insert(0, request_middleware)
    app.on_response_prepare.append(_add_request_id)


class _ScrapeTimeCollector(Collector):
    """Values read from the database when `/metrics` is asked for (none are kept)."""

    def __init__(self, up: bool, backlog: service_health.OutboxBacklog | None) -> None:
        self.up, self.backlog = up, backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("pos_database_up", "1 when PostgreSQL answered this scrape.",
                                value=1.0 if self.up else 0.0)
        if self.backlog is not None:
            yield GaugeMetricFamily("pos_outbox_backlog",
                                    "Events waiting to be delivered to their listeners.",
                                    value=self.backlog.waiting)
            yield GaugeMetricFamily("pos_outbox_oldest_age_seconds",
                                    "How long the oldest waiting event has waited.",
                                    value=self.backlog.oldest_age_seconds)
            yield GaugeMetricFamily("pos_outbox_failed",
                                    "Events given up on after their last attempt.",
                                    value=self.backlog.failed)


@routes.get("/metrics", summary="Service metrics in the Prometheus text format; needs the "
            "scrape token ([metrics] token) as a bearer token, and is off (404) without one",
            auth="metrics", content_type="text/plain")
async def metrics_page(request: web.Request) -> web.Response:
    """Counts per route, redemption outcomes and pool figures say how busy each shop and
    program is: only the scrape token reads them (the router's "metrics" guard)."""
    backlog: service_health.OutboxBacklog | None = None
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            backlog = await service_health.outbox_backlog(services(request).pool)
    except Exception as exc:
        if not is_database_away(exc):
            raise
    _observe_pool(request.app)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker's counters, added up
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(_ScrapeTimeCollector(backlog is not None, backlog))
    response = web.Response(body=text + generate_latest(scrape))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


@routes.get("/readyz", summary="Can this worker serve: is its database reachable",
            auth="none")
async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await service_health.ping(services(request).pool)
    except Exception as exc:
        if not is_database_away(exc):
            raise
        return problem_response(database_unavailable())
    return json_response({"status": "ready", "database": "up"})
