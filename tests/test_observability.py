"""What an operator watches: /metrics in the Prometheus text format (for the scrape token
only, off without one), /readyz and /healthz, a request id in a header, in every problem
body and on every log line, logs as JSON."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pos import logs
from pos.api.app import create_app
from pos.errors import ConfigError
from pos.service import metrics_token
from tests.conftest import ADMIN, METRICS_TOKEN, SCRAPER, World, basket, make_config, new_key


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_count_requests_redemptions_pool_outbox_and_plugins(
        world: World) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    redeem = {"token": voucher["token"], "basket": basket(("food", 1, 1000))}
    resp = await world.client.post("/v1/redemptions", json=redeem,
                                   headers=shop.headers(new_key()))
    assert resp.status == 201
    resp = await world.client.post("/v1/redemptions", json={**redeem, "amount": 10 ** 9},
                                   headers=shop.headers(new_key()))
    refused = (await resp.json())["code"]
    assert resp.status >= 400

    resp = await world.client.get("/metrics", headers=SCRAPER)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    samples = _samples(await resp.text())
    route = (("method", "POST"), ("route", "/v1/redemptions"), ("status", "201"))
    assert samples[("pos_http_requests_total", route)] >= 1
    assert samples[("pos_http_request_duration_seconds_count", route)] >= 1
    assert samples[("pos_redemptions_total", (("outcome", "redeemed"),))] >= 1
    assert samples[("pos_redemptions_total", (("outcome", refused),))] >= 1
    assert samples[("pos_db_pool_connections", (("state", "max"),))] == 20
    assert ("pos_db_pool_connections", (("state", "in_use"),)) in samples
    assert samples[("pos_database_up", ())] == 1
    assert samples[("pos_outbox_backlog", ())] >= 0
    assert ("pos_outbox_oldest_age_seconds", ()) in samples
    assert samples[("pos_plugin_call_duration_seconds_count",
                    (("call", "rule:any"), ("plugin", "any")))] >= 1
    assert not any(voucher["token"] in str(k) or voucher["id"] in str(k) for k in samples)


async def test_metrics_need_the_scrape_token_and_nothing_else_opens_them(
        world: World) -> None:
    shop = await world.shop()
    wrong = {"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"}
    for headers in ({}, wrong, ADMIN, shop.headers(), {"Authorization": METRICS_TOKEN}):
        resp = await world.client.get("/metrics", headers=headers)
        text = await resp.text()
        assert (resp.status, resp.content_type) == (401, "application/problem+json"), text
        assert "pos_" not in text, "a refusal shows no figure"
        assert (await resp.json())["code"] == "unauthorized"
    # A sentence in the reader's language, about the scrape token (not about a till).
    zh = await (await world.client.get("/metrics")).json()
    assert "指标令牌" in zh["detail"]
    en = await (await world.client.get("/metrics", headers={"Accept-Language": "en"})).json()
    assert "metrics token" in en["detail"]
    resp = await world.client.get("/metrics", headers={**SCRAPER, "Accept-Language": "en"})
    assert resp.status == 200 and "pos_http_requests_total" in await resp.text()


async def test_metrics_are_off_without_a_scrape_token(
        aiohttp_client: Any, database_url: str, tmp_path: Path) -> None:
    config = make_config(database_url, tmp_path / "data", POS_METRICS_TOKEN="")
    client = await aiohttp_client(create_app(config))
    try:
        for headers in ({}, SCRAPER, ADMIN):
            resp = await client.get("/metrics", headers={**headers, "Accept-Language": "en"})
            problem = await resp.json()
            assert (resp.status, resp.content_type, problem["code"]) == (
                404, "application/problem+json", "not_found")
            assert problem["detail"].startswith("Metrics are off")
        assert (await client.get("/readyz")).status == 200  # the rest serves as before
    finally:
        await client.close()


def test_a_short_scrape_token_is_refused_at_start(tmp_path: Path) -> None:
    short = make_config("postgresql://unused/x", tmp_path, POS_METRICS_TOKEN="too-short")
    with pytest.raises(ConfigError, match="at least 32"):
        metrics_token.resolve(short)
    off = make_config("postgresql://unused/x", tmp_path, POS_METRICS_TOKEN="")
    assert metrics_token.resolve(off) is None


async def test_request_ids_in_header_and_problem_body(world: World) -> None:
    resp = await world.client.get("/v1/vouchers/not-a-uuid", headers=ADMIN)
    problem = await resp.json()
    assert resp.status == 404
    assert problem["request_id"] == resp.headers["X-Request-Id"]
    assert len(problem["request_id"]) == 32
    given = "lb-7f3a9c21e0"
    resp = await world.client.get("/healthz", headers={"X-Request-Id": given})
    assert resp.headers["X-Request-Id"] == given
    resp = await world.client.get("/healthz", headers={"X-Request-Id": "bad id\u00e9"})
    assert resp.headers["X-Request-Id"] != "bad id\u00e9"


async def test_readiness_and_liveness(world: World) -> None:
    resp = await world.client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["database"] == "up"
    resp = await world.client.get("/healthz")
    assert resp.status == 200 and (await resp.json()) == {"status": "ok"}


async def test_access_log_lines_carry_the_request_id_and_no_path(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    shop = await world.shop()
    program = await world.program(partners=[shop])
    (voucher,) = await world.issue(program)
    with caplog.at_level(logging.INFO, logger="pos.access"):
        resp = await world.client.get(f"/v/{voucher['code']}")
    rid = resp.headers["X-Request-Id"]
    (record,) = [r for r in caplog.records
                 if r.name == "pos.access" and "/v/{code}" in r.getMessage()]
    line = json.loads(logs.JsonLineFormatter().format(record))
    assert line["msg"] == "GET /v/{code} 200" and line["status"] == 200
    assert voucher["code"] not in json.dumps(line)
    assert line["level"] == "info" and "ms" in line
    token = logs.request_id.set(rid)
    try:
        line = json.loads(logs.JsonLineFormatter().format(record))
    finally:
        logs.request_id.reset(token)
    assert line["request_id"] == rid


def test_json_lines_keep_the_trace_of_an_error() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("pos.test").makeRecord(
            "pos.test", logging.ERROR, __file__, 1, "failed %s", ("once",),
            exc_info=sys.exc_info())
    line = json.loads(logs.JsonLineFormatter().format(record))
    assert line["msg"] == "failed once" and "RuntimeError: boom" in line["exc"]
