# ruff: noqa: RUF001
"""Approved product lists: upload a new version whole, read the current one.

A new version is written in one transaction under a lock on the program's row, so two
uploads get consecutive versions and a reader sees either the old list or the new one,
never a mix (`lookup` is one statement, so one snapshot).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from typing import Any

import asyncpg

from pos.errors import not_found, validation_error
from pos.messages import words

MAX_ITEMS = 200_000


@dataclasses.dataclass(frozen=True)
class ApprovedProduct:
    gtin: str
    description: str


def _check_digit_ok(gtin: str) -> bool:
    """GS1 check digit: from the right, weights 3,1,3,... over the body."""
    body, check = gtin[:-1], int(gtin[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def parse_csv(text: str) -> list[ApprovedProduct]:
    """Rows of `gtin[,description]`; a header row naming `gtin` is allowed. Every GTIN must
    be 8, 12, 13 or 14 digits with a right check digit; a bad row refuses the whole file
    (the list is replaced whole or not at all)."""
    if "\x00" in text:  # the csv module reads NUL since Python 3.11; PostgreSQL cannot
        raise validation_error(words("清单中含有 NUL 字符，未做任何更改。",
                                     "The list contains a NUL character. Nothing was "
                                     "changed."))
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # a field over csv.field_size_limit (128 KiB)
        raise validation_error(words(
            "清单不是可读的 CSV 文件（{error}），未做任何更改。",
            "The list is not a readable CSV file ({error}). Nothing was changed.",
            error=str(exc))) from None
    products: dict[str, ApprovedProduct] = {}
    for row_no, row in enumerate(rows, start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        gtin = row[0].strip()
        if row_no == 1 and gtin.lower() == "gtin":
            continue
        if (len(gtin) not in (8, 12, 13, 14) or not (gtin.isascii() and gtin.isdigit())
                or not _check_digit_ok(gtin)):
            raise validation_error(words(
                "第 {row} 行：{gtin} 不是有效的商品条码（GTIN：8、12、13 或 14 位数字，"
                "校验位正确），未做任何更改。",
                "Row {row}: {gtin} is not a valid GTIN (8, 12, 13 or 14 digits with a right "
                "check digit). Nothing was changed.", row=row_no, gtin=repr(gtin)),
                row=row_no)
        description = row[1].strip()[:200] if len(row) > 1 else ""
        products[gtin] = ApprovedProduct(gtin, description)
        if len(products) > MAX_ITEMS:
            raise validation_error(words("清单超过 {most} 件商品。",
                                         "The list has more than {most} products.",
                                         most=MAX_ITEMS))
    if not products:
        raise validation_error(words("清单中没有商品，未做任何更改。",
                                     "The list has no products. Nothing was changed."))
    return list(products.values())


async def replace_list(
    pool: asyncpg.Pool[Any], program_id: str, products: Sequence[ApprovedProduct]
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "SELECT 1 FROM programs WHERE id = $1 FOR UPDATE", program_id)
        if found is None:
            raise not_found("program")
        version: int = await conn.fetchval(
            "SELECT coalesce(max(version), 0) + 1 FROM approved_product_lists "
            "WHERE program_id = $1", program_id)
        row = await conn.fetchrow(
            "INSERT INTO approved_product_lists (program_id, version, items) "
            "VALUES ($1, $2, $3) RETURNING uploaded_at", program_id, version, len(products))
        await conn.copy_records_to_table(
            "approved_products", columns=["program_id", "version", "gtin", "description"],
            records=[(program_id, version, p.gtin, p.description) for p in products])
    assert row is not None
    return {"program_id": program_id, "version": version, "items": len(products),
            "uploaded_at": row["uploaded_at"].isoformat()}


async def current_list(pool: asyncpg.Pool[Any], program_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT version, items, uploaded_at FROM approved_product_lists "
        "WHERE program_id = $1 ORDER BY version DESC LIMIT 1", program_id)
    if row is None:
        raise not_found("approved product list")
    return {"program_id": program_id, "version": row["version"], "items": row["items"],
            "uploaded_at": row["uploaded_at"].isoformat()}


async def lookup(
    pool: Any, program_id: str, gtins: Sequence[str] | None
) -> tuple[int | None, set[str]]:
    """The current version and which of `gtins` are on it (all of it for None), in one
    snapshot."""
    row = await pool.fetchrow(
        """
        WITH current AS (
            SELECT max(version) AS version FROM approved_product_lists WHERE program_id = $1
        )
        SELECT current.version,
               ARRAY(SELECT a.gtin FROM approved_products a
                      WHERE a.program_id = $1 AND a.version = current.version
                        AND ($2::text[] IS NULL OR a.gtin = ANY($2::text[]))) AS listed
          FROM current
        """,
        program_id, None if gtins is None else list(gtins),
    )
    if row is None or row["version"] is None:
        return None, set()
    return int(row["version"]), set(row["listed"])
