"""Offline tills in PostgreSQL: tablets' public keys, the offline limits programs publish,
what goes into a till's offline kit, and the kits handed out (each kept, so a forwarded
sale is judged against the kit the till actually used)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from pos.db.pool import Executor
from pos.errors import not_found


@dataclasses.dataclass(frozen=True)
class OfflineLimits:
    enabled: bool
    max_per_sale: int
    max_till_total: int
    max_offline_seconds: int


@dataclasses.dataclass(frozen=True)
class KitProgram:
    """A program a merchant accepts, with what the kit needs to know of it."""

    id: str
    name: str
    currency: str
    restrictions: tuple[str, ...]
    rule_settings: dict[str, Any]
    per_visit_cap: int | None
    unit_price: int | None
    valid_from: datetime
    valid_until: datetime
    require_identity: bool
    channels: tuple[str, ...]
    limits: OfflineLimits | None  # None: the service's [offline] defaults apply


@dataclasses.dataclass(frozen=True)
class IssuedKit:
    version: int
    till_id: str
    issued_at: datetime
    expires_at: datetime
    programs: dict[str, Any]


async def set_device_key(conn: Executor, till_id: str, public_key: str) -> None:
    done = await conn.fetchval(
        "UPDATE tills SET device_public_key = $2 WHERE id = $1 AND disabled_at IS NULL "
        "RETURNING 1", till_id, public_key)
    if done is None:
        raise not_found("till")


async def device_key(conn: Executor, till_id: str) -> str | None:
    key: str | None = await conn.fetchval(
        "SELECT device_public_key FROM tills WHERE id = $1", till_id)
    return key


async def set_limits(conn: Executor, program_id: str, merchant_id: str | None,
                     limits: OfflineLimits) -> None:
    """Publish a program's offline limits (for one of its merchants, or for all)."""
    if await conn.fetchval("SELECT 1 FROM programs WHERE id = $1", program_id) is None:
        raise not_found("program")
    if merchant_id is not None and await conn.fetchval(
            "SELECT 1 FROM merchants WHERE id = $1", merchant_id) is None:
        raise not_found("merchant")
    await conn.execute(
        """
        INSERT INTO offline_limits (program_id, merchant_id, enabled, max_per_sale,
                                    max_till_total, max_offline_seconds)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (program_id, coalesce(merchant_id,
                     '00000000-0000-0000-0000-000000000000'))
        DO UPDATE SET enabled = EXCLUDED.enabled, max_per_sale = EXCLUDED.max_per_sale,
                      max_till_total = EXCLUDED.max_till_total,
                      max_offline_seconds = EXCLUDED.max_offline_seconds, updated_at = now()
        """,
        program_id, merchant_id, limits.enabled, limits.max_per_sale, limits.max_till_total,
        limits.max_offline_seconds)


async def merchant_programs(conn: Executor, merchant_id: str) -> list[KitProgram]:
    """The programs this merchant accepts that have not ended, each with the offline
    limits that apply to this merchant (its own row over the program's)."""
    rows = await conn.fetch(
        """
        SELECT p.id::text, p.name, p.currency, p.restrictions, p.rule_settings,
               p.per_visit_cap, p.unit_price, p.valid_from, p.valid_until,
               p.require_identity, p.channels, l.enabled, l.max_per_sale, l.max_till_total,
               l.max_offline_seconds
          FROM programs p
          JOIN program_merchants pm ON pm.program_id = p.id AND pm.merchant_id = $1
          LEFT JOIN LATERAL (
              SELECT * FROM offline_limits ol
               WHERE ol.program_id = p.id AND (ol.merchant_id = $1 OR ol.merchant_id IS NULL)
               ORDER BY ol.merchant_id NULLS LAST LIMIT 1) l ON true
         WHERE p.valid_until > now()
         ORDER BY p.id
        """,
        merchant_id)
    return [KitProgram(
        id=r["id"], name=r["name"], currency=r["currency"].strip(),
        restrictions=tuple(r["restrictions"]),
        rule_settings=_json(r["rule_settings"]), per_visit_cap=r["per_visit_cap"],
        unit_price=r["unit_price"], valid_from=r["valid_from"], valid_until=r["valid_until"],
        require_identity=r["require_identity"], channels=tuple(r["channels"]),
        limits=None if r["enabled"] is None else OfflineLimits(
            r["enabled"], r["max_per_sale"], r["max_till_total"], r["max_offline_seconds"]),
    ) for r in rows]


def _json(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded or {})


async def blocked_vouchers(conn: Executor, program_ids: list[str]) -> dict[str, str]:
    """Vouchers of these programs a till must refuse offline, with why: not active
    (suspended, revoked, expired), or nothing left (no live credit, or no uses)."""
    rows = await conn.fetch(
        """
        SELECT v.id::text AS id,
               CASE WHEN v.status <> 'active' THEN v.status ELSE 'exhausted' END AS why
          FROM vouchers v
         WHERE v.program_id = ANY($1::uuid[])
           AND (v.status <> 'active' OR v.uses_left = 0 OR NOT EXISTS (
                SELECT 1 FROM credits c WHERE c.voucher_id = v.id AND c.remaining > 0
                   AND c.valid_until > now()))
        """,
        program_ids)
    return {r["id"]: r["why"] for r in rows}


async def key_revoked_at(conn: Executor, kid: str) -> datetime | None:
    """When this signing key was revoked; None while it verifies (or is unknown)."""
    at: datetime | None = await conn.fetchval(
        "SELECT revoked_at FROM signing_keys WHERE kid = $1 AND status = 'revoked'", kid)
    return at


async def revoked_kids(conn: Executor) -> list[str]:
    rows = await conn.fetch("SELECT kid FROM signing_keys WHERE status = 'revoked' ORDER BY kid")
    return [r["kid"] for r in rows]


async def save_kit(conn: Executor, till_id: str, expires_in_seconds: int,
                   max_till_total: int, programs: dict[str, Any],
                   blocked: list[str]) -> IssuedKit:
    row = await conn.fetchrow(
        """
        INSERT INTO offline_kits (till_id, expires_at, max_till_total, programs, blocked)
        VALUES ($1, now() + make_interval(secs => $2), $3, $4, $5::uuid[])
        RETURNING version, issued_at, expires_at
        """,
        till_id, expires_in_seconds, max_till_total, programs, blocked)
    assert row is not None
    return IssuedKit(row["version"], till_id, row["issued_at"], row["expires_at"], programs)


async def load_kit(conn: Executor, version: int, till_id: str) -> IssuedKit | None:
    row = await conn.fetchrow(
        "SELECT version, issued_at, expires_at, programs FROM offline_kits "
        "WHERE version = $1 AND till_id = $2", version, till_id)
    if row is None:
        return None
    return IssuedKit(row["version"], till_id, row["issued_at"], row["expires_at"],
                     _json(row["programs"]))


async def blocked_in_kit(conn: Executor, version: int, voucher_id: str) -> bool:
    """Whether the kit told its till to refuse this voucher."""
    found: bool = await conn.fetchval(
        "SELECT $2::uuid = ANY(blocked) FROM offline_kits WHERE version = $1",
        version, voucher_id)
    return bool(found)


async def tills_accepting(conn: Executor, program_id: str) -> int:
    """Enabled tills of the program's partner merchants."""
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM tills t
          JOIN program_merchants pm ON pm.merchant_id = t.merchant_id AND pm.program_id = $1
         WHERE t.disabled_at IS NULL
        """, program_id)
    return count


# -- typed codes and reissued tokens in a kit ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KitCode:
    """A voucher's current manual code, as the database keeps it (SHA-256 of its body)."""

    voucher_id: str
    program_id: str
    code_hash: bytes


async def voucher_counts(conn: Executor, program_ids: list[str]) -> dict[str, int]:
    """How many vouchers each program has (to keep a kit's code list within its bound)."""
    rows = await conn.fetch(
        "SELECT program_id::text, count(*) AS n FROM vouchers "
        "WHERE program_id = ANY($1::uuid[]) GROUP BY program_id", program_ids)
    return {r["program_id"]: r["n"] for r in rows}


async def kit_codes(conn: Executor, program_ids: list[str]) -> list[KitCode]:
    """Every voucher of these programs with its current code hash, whatever its status:
    the kit's `blocked` list says why one cannot pay, as it does for a scanned token."""
    rows = await conn.fetch(
        "SELECT id::text, program_id::text, code_hash FROM vouchers "
        "WHERE program_id = ANY($1::uuid[])", program_ids)
    return [KitCode(r["id"], r["program_id"], bytes(r["code_hash"])) for r in rows]


async def retired_code_hashes(conn: Executor, program_ids: list[str]) -> list[bytes]:
    """Codes of these programs' vouchers that a reissue replaced."""
    rows = await conn.fetch(
        "SELECT r.code_hash FROM retired_codes r JOIN vouchers v ON v.id = r.voucher_id "
        "WHERE v.program_id = ANY($1::uuid[])", program_ids)
    return [bytes(r["code_hash"]) for r in rows]


async def reissued_tokens(conn: Executor, program_ids: list[str]) -> dict[str, list[Any]]:
    """Voucher id -> [kid, iat] of the current token, for every voucher of these programs
    that was ever reissued (a retired code is the mark of a reissue): a till refuses any
    other token of such a voucher. A voucher never reissued has only one token."""
    rows = await conn.fetch(
        """
        SELECT v.id::text, v.token_kid, v.token_iat FROM vouchers v
         WHERE v.program_id = ANY($1::uuid[])
           AND EXISTS (SELECT 1 FROM retired_codes r WHERE r.voucher_id = v.id)
        """, program_ids)
    return {r["id"]: [r["token_kid"], r["token_iat"]] for r in rows}


@dataclasses.dataclass(frozen=True)
class VoucherCredentials:
    """What a forwarded sale's token or code is checked against."""

    program_id: str
    token_kid: str
    token_iat: int
    token_exp: int
    code_hash: bytes


async def voucher_credentials(conn: Executor, voucher_id: str) -> VoucherCredentials | None:
    row = await conn.fetchrow(
        "SELECT program_id::text, token_kid, token_iat, token_exp, code_hash FROM vouchers "
        "WHERE id = $1", voucher_id)
    if row is None:
        return None
    return VoucherCredentials(row["program_id"], row["token_kid"], row["token_iat"],
                              row["token_exp"], bytes(row["code_hash"]))


async def code_retired_at(conn: Executor, code_hash: bytes, voucher_id: str
                          ) -> datetime | None:
    """When a reissue replaced this code of this voucher; None if it never was its code
    (or is its current one)."""
    at: datetime | None = await conn.fetchval(
        "SELECT retired_at FROM retired_codes WHERE code_hash = $1 AND voucher_id = $2",
        code_hash, voucher_id)
    return at
