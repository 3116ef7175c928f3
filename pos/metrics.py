"""The service's Prometheus metrics, declared once (prometheus-client).

prometheus-client rather than hand-written text: it gets the exposition format, histogram
buckets and label escaping right, and its multiprocess mode adds up the counters of every
worker of `pos run --workers N` (each worker writes to `PROMETHEUS_MULTIPROC_DIR`, which
`pos run` sets before the workers start), so one scrape of any worker sees the whole
service. Values that are read at scrape time (outbox backlog, database up) are not
declared here; `pos.api.observability` collects them when `/metrics` is asked for.

Labels are route templates, methods, statuses, outcome codes and plugin names: never a
path, a token or anything a client chose, so the number of series stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "pos_http_requests", "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "pos_http_request_duration_seconds",
    "Time from receiving a request to its answer, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
REDEMPTIONS = Counter(
    "pos_redemptions",
    "Redemption requests by outcome: redeemed, replayed (same Idempotency-Key), or the "
    "problem code of the refusal.", ["outcome"])
POOL_CONNECTIONS = Gauge(
    "pos_db_pool_connections",
    "Database pool connections of the live workers, by state (in_use, idle, max).",
    ["state"], multiprocess_mode="livesum")
PLUGIN_SECONDS = Histogram(
    "pos_plugin_call_duration_seconds", "Time a plugin took to answer, by plugin and call.",
    ["plugin", "call"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
PLUGIN_FAILURES = Counter(
    "pos_plugin_failures",
    "Plugin calls that failed, by plugin, call and kind (raised, timeout, nonsense).",
    ["plugin", "call", "kind"])
DATABASE_UNAVAILABLE = Counter(
    "pos_database_unavailable",
    "Requests answered 503 because PostgreSQL could not be reached.")
