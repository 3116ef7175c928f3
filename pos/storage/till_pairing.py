"""Pairing codes in PostgreSQL: made by an administrator, spent once by a tablet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from pos.errors import not_found


async def create_code(
    pool: asyncpg.Pool[Any], till_id: str, code_hash: bytes, ttl_seconds: int
) -> datetime:
    """Store a new code for an enabled till; earlier unspent codes of the till stop working,
    so only the code the administrator handed out last can pair. Returns its expiry."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "SELECT 1 FROM tills WHERE id = $1 AND disabled_at IS NULL FOR UPDATE", till_id)
        if found is None:
            raise not_found("till")
        await conn.execute(
            "DELETE FROM till_pairing_codes WHERE till_id = $1 AND used_at IS NULL", till_id)
        expires_at: datetime = await conn.fetchval(
            """
            INSERT INTO till_pairing_codes (code_hash, till_id, expires_at)
            VALUES ($1, $2, now() + make_interval(secs => $3))
            RETURNING expires_at
            """,
            code_hash, till_id, ttl_seconds,
        )
    return expires_at


async def spend_code(
    pool: asyncpg.Pool[Any], code_hash: bytes, new_secret_hash: bytes
) -> dict[str, str] | None:
    """Spend a live code and give its till `new_secret_hash` as its credential, together.
    None when the code is unknown, spent, expired, or its till was disabled meanwhile."""
    try:
        return await _spend(pool, code_hash, new_secret_hash)
    except _TillGone:
        return None


class _TillGone(Exception):
    """Raised inside the transaction so it rolls back: the code stays as it was."""


async def _spend(
    pool: asyncpg.Pool[Any], code_hash: bytes, new_secret_hash: bytes
) -> dict[str, str] | None:
    async with pool.acquire() as conn, conn.transaction():
        till_id = await conn.fetchval(
            """
            UPDATE till_pairing_codes SET used_at = now()
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
            RETURNING till_id
            """,
            code_hash,
        )
        if till_id is None:
            return None
        row = await conn.fetchrow(
            """
            UPDATE tills t SET secret_hash = $2
              FROM merchants m
             WHERE t.id = $1 AND t.disabled_at IS NULL AND m.id = t.merchant_id
            RETURNING t.id::text AS till_id, t.merchant_id::text AS merchant_id,
                      t.name AS till_name, m.name AS merchant_name
            """,
            till_id, new_secret_hash,
        )
        if row is None:
            raise _TillGone
        return dict(row)


async def till_profile(pool: asyncpg.Pool[Any], till_id: str) -> dict[str, str]:
    """What a paired tablet shows about itself: ids and names of the till and its shop."""
    row = await pool.fetchrow(
        """
        SELECT t.id::text AS till_id, t.merchant_id::text AS merchant_id,
               t.name AS till_name, m.name AS merchant_name
          FROM tills t JOIN merchants m ON m.id = t.merchant_id
         WHERE t.id = $1
        """,
        till_id,
    )
    if row is None:
        raise not_found("till")
    return dict(row)
