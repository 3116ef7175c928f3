"""Signing keys in PostgreSQL: public halves and status (the private halves are files, see
`pos.signing.keys`). Status is read with every voucher, so a revocation holds at once."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pos.db.pool import Connection, Executor
from pos.errors import not_found


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    kid: str
    status: str
    created_at: datetime
    public_key: str


async def list_keys(conn: Executor) -> list[KeyInfo]:
    rows = await conn.fetch(
        "SELECT kid, status, created_at, public_key FROM signing_keys ORDER BY created_at"
    )
    return [KeyInfo(**dict(r)) for r in rows]


async def make_active(conn: Connection, kid: str, public_key: str) -> None:
    """The new key becomes the only active one; the previous active key is retired."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE signing_keys SET status = 'retired', retired_at = now() "
            "WHERE status = 'active'"
        )
        await conn.execute(
            "INSERT INTO signing_keys (kid, public_key, status) VALUES ($1, $2, 'active')",
            kid, public_key,
        )


async def set_status(conn: Connection, kid: str, status: str) -> None:
    """Retire or revoke a key. Revoking is final; retiring a revoked key changes nothing."""
    row = await conn.fetchrow("SELECT status FROM signing_keys WHERE kid = $1", kid)
    if row is None:
        raise not_found("signing key", kid)
    if row["status"] == "revoked":
        return
    if status == "retired":
        await conn.execute(
            "UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE kid = $1", kid
        )
    else:
        await conn.execute(
            "UPDATE signing_keys SET status = 'revoked', revoked_at = now() WHERE kid = $1", kid
        )


async def active_kid(conn: Executor) -> str | None:
    kid: str | None = await conn.fetchval(
        "SELECT kid FROM signing_keys WHERE status = 'active'"
    )
    return kid


async def public_keys(conn: Executor) -> dict[str, str]:
    """Every key's public half (base64url), by kid."""
    rows = await conn.fetch("SELECT kid, public_key FROM signing_keys")
    return {r["kid"]: r["public_key"] for r in rows}


async def public_key(conn: Executor, kid: str) -> str | None:
    text: str | None = await conn.fetchval(
        "SELECT public_key FROM signing_keys WHERE kid = $1", kid)
    return text

