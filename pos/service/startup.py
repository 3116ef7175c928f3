"""The one start-up routine: what the HTTP app and every `pos` command run to get a
working service, and to close it again.

`running_services(config)` finds the database (the configured URL, or the embedded
server), opens the pool, brings the schema up to date, builds the plugin manager and the
services, and on the way out closes them in reverse order: plugins first (their HTTP
sessions), then the pool. A failure half-way closes what was already open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from pos.config import Config
from pos.db.embedded import resolve_database_url
from pos.db.migrate import migrate
from pos.db.pool import create_pool
from pos.plugin.manager import Plugins, build_plugins
from pos.service.services import Services, build_services


@contextlib.asynccontextmanager
async def running_plugins(config: Config, extra_plugins: Mapping[str, object] | None = None
                          ) -> AsyncIterator[Plugins]:
    """The plugin manager alone (for `pos plugins`), closed on the way out."""
    plugins = build_plugins(config.plugins, extra_plugins)
    try:
        yield plugins
    finally:
        await plugins.aclose()


@contextlib.asynccontextmanager
async def running_services(
    config: Config, *, extra_plugins: Mapping[str, object] | None = None,
    pool_size: tuple[int, int] | None = None,
) -> AsyncIterator[Services]:
    """Pool, migrated schema, plugins and services; all closed when the block ends.

    `pool_size` is (min, max); the default is the configured size, which suits the
    service, while a command asks for a small pool."""
    url = await asyncio.to_thread(resolve_database_url, config.database.url, config.data_dir)
    low, high = pool_size or (config.database.pool_min_size, config.database.pool_max_size)
    pool = await create_pool(url, min_size=low, max_size=high)
    read_pool = None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        if config.database.replica_url:
            # Reports, exports and history read from the replica (`Services.reader`).
            read_pool = await create_pool(config.database.replica_url, min_size=1,
                                          max_size=max(2, high // 2))
        async with running_plugins(config, extra_plugins) as plugins:
            yield await build_services(config, pool, plugins, read_pool)
    finally:
        if read_pool is not None:
            await read_pool.close()
        await pool.close()
