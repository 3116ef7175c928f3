"""Fixtures: a real PostgreSQL (embedded, or $POS_DATABASE_URL), a fresh database per test
cloned from a migrated template, the real aiohttp app, and helpers to set up programs.

Shared by every test module; plugin-specific fixtures live beside their tests.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from pos.api.app import create_app
from pos.config import Config, load_config
from pos.db.embedded import embedded_url
from pos.db.migrate import migrate

# Every log line of the run is checked for tokens, codes, secrets and references.
pytest_plugins = ["tests.log_guard"]

ADMIN_TOKEN = "adm_test_" + "x" * 32
# The scrape token of /metrics (`[metrics] token`); only Prometheus holds it.
METRICS_TOKEN = "metrics_test_" + "m" * 32
# A `pos` command's locale: Chinese (the default, whatever the machine's locale) or English.
CHINESE = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
ENGLISH = {"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}

def pytest_configure(config: pytest.Config) -> None:
    """Each run gets its own temporary folder (the embedded PostgreSQL lives in it). pytest's
    shared numbered folders are pruned by whichever run starts next, which removes the data
    folder of a server another run on the same machine is still using."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="pos-tests-")
        # Removed at exit, after the embedded server's own exit handler (registered later,
        # so run earlier) has stopped it: never pull a data folder from under a server.
        atexit.register(shutil.rmtree, config.option.basetemp, ignore_errors=True)

TEMPLATE_DB = "pos_test_template"


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    head = base.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the whole session: $POS_DATABASE_URL, or an embedded one."""
    configured = os.environ.get("POS_DATABASE_URL")
    if configured:
        yield configured
    else:
        url = embedded_url(tmp_path_factory.mktemp("pg"))
        asyncio.run(_without_fsync(url))
        yield url


async def _without_fsync(url: str) -> None:
    """The tests' own server writes without waiting for the disk: a test kills processes
    (the service, the postmaster), never the machine, and what a killed process wrote is
    still in the operating system's cache, so every crash test means what it says. Creating
    a database per test then costs 0.03 s instead of 0.17 s. Commits still wait for the
    write-ahead log to be written (`synchronous_commit` stays on)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ALTER SYSTEM SET fsync = off")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(_with_database(server_url, TEMPLATE_DB))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE_DB


@pytest.fixture
async def database_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test, dropped afterwards."""
    name = f"pos_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield _with_database(server_url, name)
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def make_config(database_url: str, data_dir: Path, **overrides: str) -> Config:
    env = {
        "POS_DATABASE_URL": database_url,
        "POS_DATA_DIR": str(data_dir),
        "POS_ADMIN_TOKEN": ADMIN_TOKEN,
        "POS_METRICS_TOKEN": METRICS_TOKEN,
        "POS_DATABASE_POOL_MAX_SIZE": "20",
    }
    env.update(overrides)
    return load_config(Path(__file__).parent.parent / "config.toml", env=env)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return make_config(database_url, tmp_path / "data")


@pytest.fixture
def extra_plugins() -> dict[str, object]:
    """Plugins a test registers for the app under test (see `temporary_plugin`)."""
    return {}


@pytest.fixture
async def client(
    aiohttp_client: Any, config: Config, extra_plugins: Mapping[str, object]
) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(config, extra_plugins=extra_plugins)
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    yield test_client
    await test_client.close()  # before the test's database is dropped


@pytest.fixture
def temporary_plugin(extra_plugins: dict[str, object]) -> Any:
    """Register a plugin object for this test's app: `temporary_plugin("name", obj)`.
    Must be called before the `client` fixture builds the app; it is gone after the test."""
    def register(name: str, plugin: object) -> None:
        extra_plugins[name] = plugin
    yield register
    extra_plugins.clear()


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def till_headers(secret: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


@dataclass
class Shop:
    merchant_id: str
    till_id: str
    secret: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return till_headers(self.secret, key)


@dataclass
class World:
    """A test's set-up, made through the real admin API."""

    client: TestClient[Any, Any]
    programs: dict[str, str] = field(default_factory=dict)

    async def post(self, path: str, body: Any, status: int = 201,
                   headers: Mapping[str, str] | None = None) -> Any:
        resp = await self.client.post(path, json=body, headers=headers or ADMIN)
        data = await resp.json()
        assert resp.status == status, (resp.status, data)
        return data

    async def program(self, *, partners: Sequence[Shop] = (), **values: Any) -> str:
        today = date.today()
        body: dict[str, Any] = {
            "name": "Test program", "currency": "CNY", "restrictions": ["any"],
            "valid_from": str(today - timedelta(days=1)),
            "valid_until": str(today + timedelta(days=60)),
        }
        if "uses" not in values and "allowance" not in values:
            body["face_value"] = 30000
        body.update(values)
        program = await self.post("/v1/programs", body)
        for shop in partners:
            await self.post(f"/v1/programs/{program['id']}/merchants",
                            {"merchant_id": shop.merchant_id})
        return str(program["id"])

    async def shop(self, name: str = "Shop") -> Shop:
        merchant = await self.post("/v1/merchants", {"name": name})
        till = await self.post(f"/v1/merchants/{merchant['id']}/tills", {"name": "Till 1"})
        return Shop(merchant["id"], till["id"], till["secret"])

    async def issue(self, program_id: str, count: int = 1,
                    prefix: str = "ben") -> list[dict[str, str]]:
        data = await self.post(
            f"/v1/programs/{program_id}/vouchers",
            {"beneficiaries": [{"ref": f"{prefix}-{uuid.uuid4().hex[:8]}-{i}"}
                               for i in range(count)]})
        return list(data["vouchers"])

    async def voucher(self, voucher_id: str) -> dict[str, Any]:
        resp = await self.client.get(f"/v1/vouchers/{voucher_id}", headers=ADMIN)
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


@pytest.fixture
def world(client: TestClient[Any, Any]) -> World:
    return World(client)


def basket(*lines: tuple[str, int, int] | dict[str, Any], currency: str = "CNY") -> dict[str, Any]:
    """basket(("stationery", 2, 3000), ...): category, quantity, unit price."""
    out = []
    for i, line in enumerate(lines):
        if isinstance(line, dict):
            out.append(line)
            continue
        category, quantity, price = line
        out.append({"sku": f"SKU-{i}", "category": category, "description": f"{category} item",
                    "quantity": quantity, "unit_price": price})
    return {"currency": currency, "lines": out}


def new_key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    """A direct connection to the test's database, for checking what was written."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
