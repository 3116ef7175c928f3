"""What a running service holds: configuration, pool, plugins, keys. One per app."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pos.config import Config
from pos.plugin.manager import Plugins
from pos.ratelimit import RateLimiter
from pos.signing import keys
from pos.signing.tokens import TokenVerifier
from pos.storage.driver_errors import DuplicateRow, translated


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
    code_limiter: RateLimiter
    _private_keys: dict[str, Ed25519PrivateKey] = dataclasses.field(default_factory=dict)

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


async def build_services(config: Config, pool: asyncpg.Pool[Any], plugins: Plugins) -> Services:
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
        code_limiter=RateLimiter(config.limits.code_lookups_per_minute),
    )
