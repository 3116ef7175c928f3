# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
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
from pos.messages import words
from pos.service.admin_token import MIN_LENGTH


def resolve(config: Config) -> str | None:
    """The scrape token, or None when metrics are off."""
    token = config.metrics.token
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise ConfigError(words(
            "指标令牌（[metrics] token 或 POS_METRICS_TOKEN）只有 {length} 个字符，至少需要 "
            "{least} 个；留空则关闭 /metrics。",
            "the metrics token ([metrics] token or POS_METRICS_TOKEN) is {length} characters "
            "long; it needs at least {least}, or leave it empty to turn /metrics off.",
            length=len(token), least=MIN_LENGTH))
    return token
