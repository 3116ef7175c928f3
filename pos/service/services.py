"""What a running service holds: configuration, pool, plugins, keys. One per app."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pos.config import Config
from pos.db.availability import is_database_away
from pos.plugin.manager import Plugins
from pos.signing import keys
from pos.signing.tokens import TokenVerifier
from pos.storage import replication
from pos.storage.driver_errors import DuplicateRow, translated

log = logging.getLogger(__name__)

REPLICA_WAIT_SECONDS = 2.0


def read_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """A random secret kept in the data folder, readable only by the service."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            keys.write_secret_file(path, secrets.token_bytes(nbytes))
        except FileExistsError:
            pass  # another process made it first
    return path.read_bytes()


@dataclasses.dataclass
class Services:
    config: Config
    pool: asyncpg.Pool[Any]
    plugins: Plugins
    public_keys: keys.PublicKeyCache
    verifier: TokenVerifier
    code_secret: bytes
    _private_keys: dict[str, Ed25519PrivateKey] = dataclasses.field(default_factory=dict)
    # A pool on a streaming replica (`[database] replica_url`) for reports, exports and
    # history; None reads everything from the primary.
    read_pool: asyncpg.Pool[Any] | None = None

    async def reader(self) -> asyncpg.Pool[Any]:
        """Where a report, export or history may read: the replica once it has replayed
        everything committed when the read was asked for (so a till or an officer always
        sees their own writes), else the primary: a replica lagging more than
        `REPLICA_WAIT_SECONDS`, or away, costs a little time, never an answer."""
        if self.read_pool is None:
            return self.pool
        try:
            async with asyncio.timeout(REPLICA_WAIT_SECONDS):
                position = await replication.primary_position(self.pool)
                # Polled: the replica's progress is another server's, nothing to await.
                while not await replication.has_replayed(  # noqa: ASYNC110
                        self.read_pool, position):
                    await asyncio.sleep(0.02)
        except Exception as exc:
            if not isinstance(exc, TimeoutError) and not is_database_away(exc):
                raise
            log.warning("replica lags or is away (%s); reading from the primary",
                        type(exc).__name__)
            return self.pool
        return self.read_pool

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    def private_key(self, kid: str) -> Ed25519PrivateKey:
        key = self._private_keys.get(kid)
        if key is None:
            key = keys.load_private_key(self.data_dir, kid)
            self._private_keys[kid] = key
        return key

    async def signing_kid(self) -> str:
        """The active key's kid, making the first key if there is none."""
        kid = await keys.active_kid(self.pool)
        if kid is None:
            try:
                with translated():
                    async with self.pool.acquire() as conn:
                        kid = await keys.rotate(conn, self.data_dir)
            except DuplicateRow:
                # Two first requests raced to make the first key; the winner's is active.
                kid = await keys.active_kid(self.pool)
                assert kid is not None
        return kid


async def build_services(config: Config, pool: asyncpg.Pool[Any], plugins: Plugins,
                         read_pool: asyncpg.Pool[Any] | None = None) -> Services:
    public_keys = keys.PublicKeyCache()
    await public_keys.load_all(pool)
    verifier = TokenVerifier(
        issuer=config.tokens.issuer, audience=config.tokens.audience,
        leeway=config.tokens.leeway_seconds, max_bytes=config.tokens.max_token_bytes,
        lookup_key=public_keys.get,
    )
    return Services(
        config=config, pool=pool, plugins=plugins, public_keys=public_keys,
        verifier=verifier,
        code_secret=read_or_create_secret(config.data_dir / "code_secret"),
        read_pool=read_pool,
    )
