"""The scrape token: the bearer credential that opens `GET /metrics`, and nothing else.

Request counts per route, redemption outcomes and pool figures say how busy each shop and
program is, so they are not for whoever reaches the port. Prometheus sends this token
(`authorization` in its scrape config). Unlike the admin token it is never generated:
with none configured the endpoint is off, and a service that nobody scrapes shows its
figures to nobody. A configured token shorter than `MIN_LENGTH` is refused at start, as
the admin token is.
"""

from __future__ import annotations

from pos.config import Config
from pos.errors import ConfigError
from pos.service.admin_token import MIN_LENGTH


def resolve(config: Config) -> str | None:
    """The scrape token, or None when metrics are off."""
    token = config.metrics.token
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise ConfigError(
            f"the metrics token ([metrics] token or POS_METRICS_TOKEN) is {len(token)} "
            f"characters long; it needs at least {MIN_LENGTH}, or leave it empty to turn "
            "/metrics off.")
    return token
