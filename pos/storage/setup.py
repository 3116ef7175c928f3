"""Programs, merchants, partner links and tills: the set-up a program officer does."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Executor
from pos.errors import not_found, validation_error
from pos.messages import msg, words
from pos.storage.driver_errors import MissingReference, RejectedValue, translated


@dataclasses.dataclass(frozen=True)
class Program:
    """A program as stored: money in minor units of `currency` (three letters, no padding),
    times as aware datetimes, partner merchants by id."""

    id: str
    name: str
    currency: str
    restrictions: tuple[str, ...]  # the rules (plugins) that decide each basket line
    rule_settings: dict[str, Any]  # per rule name, that rule's settings for this program
    face_value: int
    per_visit_cap: int | None
    uses: int | None  # a program counted in uses: how many each voucher gets
    unit_price: int | None  # ... and what one use is worth
    valid_from: datetime
    valid_until: datetime  # the first moment the program no longer works
    allowance: dict[str, Any] | None  # recurring credits: amount, count, rollover
    require_identity: bool
    channels: tuple[str, ...]  # how the rest of a basket may be paid
    created_at: datetime
    merchant_ids: tuple[str, ...]  # partner merchants
    time_zone: str = "Asia/Shanghai"  # IANA name: the program's days, months and limits
    # [{"period": "day"|"week"|"month", "max_redemptions"?: n, "max_amount"?: n}]
    limits: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Program:
        return cls(
            id=str(row["id"]), name=row["name"], currency=row["currency"].strip(),
            restrictions=tuple(row["restrictions"]), rule_settings=dict(row["rule_settings"]),
            face_value=row["face_value"], per_visit_cap=row["per_visit_cap"],
            uses=row["uses"], unit_price=row["unit_price"], valid_from=row["valid_from"],
            valid_until=row["valid_until"], allowance=row["allowance"],
            require_identity=row["require_identity"], channels=tuple(row["channels"]),
            created_at=row["created_at"], merchant_ids=tuple(row["merchant_ids"]),
            time_zone=row["time_zone"], limits=tuple(row["limits"]),
        )

    def as_json(self) -> dict[str, Any]:
        """The program as every answer shows it: times in ISO 8601, lists as lists."""
        return {
            "id": self.id, "name": self.name, "currency": self.currency,
            "restrictions": list(self.restrictions), "rule_settings": self.rule_settings,
            "face_value": self.face_value, "per_visit_cap": self.per_visit_cap,
            "uses": self.uses, "unit_price": self.unit_price,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(), "allowance": self.allowance,
            "require_identity": self.require_identity, "channels": list(self.channels),
            "created_at": self.created_at.isoformat(),
            "merchant_ids": list(self.merchant_ids),
            "time_zone": self.time_zone, "limits": list(self.limits),
        }


async def create_program(pool: asyncpg.Pool[Any], values: dict[str, Any]) -> str:
    program_id = str(uuid.uuid4())
    try:
        with translated():
            await pool.execute(
                """
                INSERT INTO programs (id, name, currency, restrictions, rule_settings,
                                      face_value, per_visit_cap, uses, unit_price, valid_from,
                                      valid_until, allowance, require_identity, channels,
                                      time_zone, limits)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                """,
                program_id, values["name"], values["currency"], values["restrictions"],
                values["rule_settings"], values["face_value"], values["per_visit_cap"],
                values["uses"], values["unit_price"], values["valid_from"],
                values["valid_until"], values["allowance"], values["require_identity"],
                values["channels"], values.get("time_zone", "Asia/Shanghai"),
                values.get("limits") or [],
            )
    except RejectedValue:
        # The request model checks each field; this is a combination the table refuses.
        raise validation_error(msg("validation_error.settings_clash")) from None
    return program_id


_PROGRAMS = """
    SELECT p.*, coalesce(array_agg(pm.merchant_id::text ORDER BY pm.merchant_id) FILTER (
               WHERE pm.merchant_id IS NOT NULL), '{}') AS merchant_ids
      FROM programs p LEFT JOIN program_merchants pm ON pm.program_id = p.id
"""


async def known_time_zone(pool: Executor, name: str) -> bool:
    """Whether the database knows this IANA time zone (limits are counted in it there)."""
    try:
        await pool.fetchval("SELECT now() AT TIME ZONE $1", name)
    except asyncpg.InvalidParameterValueError:
        return False
    return True


async def get_program(pool: Executor, program_id: str) -> Program:
    row = await pool.fetchrow(_PROGRAMS + " WHERE p.id = $1 GROUP BY p.id", program_id)
    if row is None:
        raise not_found("program")
    return Program.from_row(row)


async def list_programs(pool: Executor) -> list[Program]:
    """Every program, newest first."""
    rows = await pool.fetch(_PROGRAMS + " GROUP BY p.id ORDER BY p.created_at DESC, p.id")
    return [Program.from_row(r) for r in rows]


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
        with translated():
            await pool.execute(
                "INSERT INTO program_merchants (program_id, merchant_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                program_id, merchant_id,
            )
    except MissingReference:
        raise not_found("program or merchant") from None
    except RejectedValue:
        raise validation_error(words("merchant_id 不是有效的编号。",
                                     "merchant_id is not a valid id.")) from None


async def create_till(
    pool: asyncpg.Pool[Any], merchant_id: str, name: str, secret_hash: bytes
) -> str:
    till_id = str(uuid.uuid4())
    try:
        with translated():
            await pool.execute(
                "INSERT INTO tills (id, merchant_id, name, secret_hash) "
                "VALUES ($1, $2, $3, $4)",
                till_id, merchant_id, name, secret_hash,
            )
    except MissingReference:
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
