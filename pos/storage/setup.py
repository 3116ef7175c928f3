"""Programs, merchants, partner links and tills: the set-up a program officer does."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Executor
from pos.errors import not_found, validation_error


async def create_program(pool: asyncpg.Pool[Any], values: dict[str, Any]) -> str:
    program_id = str(uuid.uuid4())
    await pool.execute(
        """
        INSERT INTO programs (id, name, currency, restrictions, rule_settings, face_value,
                              per_visit_cap, uses, unit_price, valid_from, valid_until,
                              allowance, require_identity, channels)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        """,
        program_id, values["name"], values["currency"], values["restrictions"],
        values["rule_settings"], values["face_value"], values["per_visit_cap"],
        values["uses"], values["unit_price"], values["valid_from"], values["valid_until"],
        values["allowance"], values["require_identity"], values["channels"],
    )
    return program_id


async def get_program(pool: Executor,
                      program_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        """
        SELECT p.*, coalesce(array_agg(pm.merchant_id::text) FILTER (
                   WHERE pm.merchant_id IS NOT NULL), '{}') AS merchant_ids
          FROM programs p LEFT JOIN program_merchants pm ON pm.program_id = p.id
         WHERE p.id = $1
         GROUP BY p.id
        """,
        program_id,
    )
    if row is None:
        raise not_found("program")
    return program_dict(row)


def program_dict(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["id"] = str(out["id"])
    out["currency"] = out["currency"].strip()
    for key in ("valid_from", "valid_until", "created_at"):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].isoformat()
    if isinstance(out.get("allowance"), str):
        out["allowance"] = json.loads(out["allowance"])
    return out


async def create_merchant(pool: asyncpg.Pool[Any], name: str) -> str:
    merchant_id = str(uuid.uuid4())
    await pool.execute("INSERT INTO merchants (id, name) VALUES ($1, $2)", merchant_id, name)
    return merchant_id


async def get_merchant(pool: asyncpg.Pool[Any], merchant_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT id::text, name, created_at FROM merchants WHERE id = $1", merchant_id
    )
    if row is None:
        raise not_found("merchant")
    out = dict(row)
    out["created_at"] = out["created_at"].isoformat()
    return out


async def add_partner(pool: asyncpg.Pool[Any], program_id: str, merchant_id: str) -> None:
    try:
        await pool.execute(
            "INSERT INTO program_merchants (program_id, merchant_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            program_id, merchant_id,
        )
    except asyncpg.ForeignKeyViolationError:
        raise not_found("program or merchant") from None
    except asyncpg.DataError:
        raise validation_error("merchant_id is not a valid id") from None


async def create_till(
    pool: asyncpg.Pool[Any], merchant_id: str, name: str, secret_hash: bytes
) -> str:
    till_id = str(uuid.uuid4())
    try:
        await pool.execute(
            "INSERT INTO tills (id, merchant_id, name, secret_hash) VALUES ($1, $2, $3, $4)",
            till_id, merchant_id, name, secret_hash,
        )
    except asyncpg.ForeignKeyViolationError:
        raise not_found("merchant") from None
    return till_id


async def till_by_secret_hash(
    pool: asyncpg.Pool[Any], secret_hash: bytes
) -> tuple[str, str] | None:
    """(till id, merchant id) of an enabled till, or None."""
    row = await pool.fetchrow(
        "SELECT id::text, merchant_id::text FROM tills "
        "WHERE secret_hash = $1 AND disabled_at IS NULL",
        secret_hash,
    )
    return None if row is None else (row["id"], row["merchant_id"])
