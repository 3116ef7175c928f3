"""Changing a program after it was created, and the record of who changed what and when.

Only what may safely change is written here (the caller, `pos.vouchers.program_edits`,
decides what that is): the program row is locked, the new values written, partner
merchants replaced, credits that ended with the program moved to its later end, and one
`program_changes` row records the old and new value of every field, all in one
transaction. Redemptions read the program's terms under the voucher's lock
(`pos_redeem`, migration 0200), so a change applies to later redemptions only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from pos.db.pool import Executor
from pos.errors import not_found, validation_error
from pos.messages import msg, words
from pos.storage.driver_errors import MissingReference, RejectedValue, translated

# The columns a change may write; anything else is refused before SQL is built.
EDITABLE = ("name", "valid_until", "per_visit_cap", "limits", "rule_settings")


@dataclasses.dataclass(frozen=True)
class ProgramChange:
    """One recorded change: who, when, and per field {"from": old, "to": new}."""

    id: int
    program_id: str
    changed_by: str
    changes: dict[str, Any]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "program_id": self.program_id, "changed_by": self.changed_by,
                "changes": self.changes, "created_at": self.created_at.isoformat()}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def change_program(
    pool: asyncpg.Pool[Any], program_id: str, *, changed_by: str, values: dict[str, Any],
    merchant_ids: Sequence[str] | None,
) -> ProgramChange | None:
    """Write `values` (a subset of `EDITABLE`) and, when given, the new set of partner
    merchants. Returns the recorded change, or None when nothing actually changed."""
    fields = [f for f in values if f in EDITABLE]
    if len(fields) != len(values):
        raise validation_error(words(
            "项目只能修改名称、截止时间、上限、限额、合作商户和规则设置。",
            "Only name, valid_until, caps, limits, partner merchants and rule settings of a "
            "program can be changed."))
    try:
        with translated():
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    "SELECT * FROM programs WHERE id = $1 FOR UPDATE", program_id)
                if row is None:
                    raise not_found("program")
                changes: dict[str, Any] = {}
                for field in fields:
                    old, new = row[field], values[field]
                    if old != new:
                        changes[field] = {"from": _jsonable(old), "to": _jsonable(new)}
                        # One statement per field: the column name comes from EDITABLE.
                        await conn.execute(
                            f"UPDATE programs SET {field} = $2 WHERE id = $1",  # noqa: S608
                            program_id, new)
                if "valid_until" in changes:
                    # Value that was to last until the program's end lasts until its new end.
                    await conn.execute(
                        """
                        UPDATE credits c SET valid_until = $3
                          FROM vouchers v
                         WHERE v.program_id = $1 AND c.voucher_id = v.id
                           AND c.valid_until = $2
                        """,
                        program_id, row["valid_until"], values["valid_until"])
                    # Tokens are signed afresh from the voucher row (holder page, reprinted
                    # cards) with the new end; a QR printed before still ends at the old one,
                    # while its manual code works to the new end.
                    await conn.execute(
                        "UPDATE vouchers SET token_exp = $3, updated_at = now() "
                        "WHERE program_id = $1 AND token_exp = $2",
                        program_id, int(row["valid_until"].timestamp()),
                        int(values["valid_until"].timestamp()))
                if merchant_ids is not None:
                    partner_change = await _replace_partners(conn, program_id, merchant_ids)
                    if partner_change is not None:
                        changes["merchant_ids"] = partner_change
                if not changes:
                    return None
                saved = await conn.fetchrow(
                    """
                    INSERT INTO program_changes (program_id, changed_by, changes)
                    VALUES ($1, $2, $3) RETURNING id, created_at
                    """,
                    program_id, changed_by, json.loads(json.dumps(changes, default=str)))
                assert saved is not None
    except MissingReference:
        raise not_found("merchant") from None
    except RejectedValue:
        raise validation_error(msg("validation_error.settings_clash")) from None
    return ProgramChange(saved["id"], program_id, changed_by, changes, saved["created_at"])


async def _replace_partners(conn: Executor, program_id: str,
                            merchant_ids: Sequence[str]) -> dict[str, Any] | None:
    old = sorted(r["m"] for r in await conn.fetch(
        "SELECT merchant_id::text AS m FROM program_merchants WHERE program_id = $1",
        program_id))
    new = sorted(set(merchant_ids))
    if old == new:
        return None
    await conn.execute(
        "DELETE FROM program_merchants WHERE program_id = $1 "
        "AND NOT merchant_id = ANY($2::uuid[])", program_id, new)
    await conn.execute(
        "INSERT INTO program_merchants (program_id, merchant_id) "
        "SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING", program_id, new)
    return {"from": old, "to": new}


async def list_changes(pool: Executor, program_id: str) -> list[ProgramChange]:
    rows = await pool.fetch(
        "SELECT id, program_id::text, changed_by, changes, created_at FROM program_changes "
        "WHERE program_id = $1 ORDER BY id", program_id)
    return [ProgramChange(r["id"], r["program_id"], r["changed_by"], dict(r["changes"]),
                          r["created_at"]) for r in rows]
