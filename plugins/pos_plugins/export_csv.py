"""`export_csv`: a settlement batch as CSV that opens correctly in Excel.

Excel only reads a CSV as UTF-8 when it starts with a byte order mark, so Chinese merchant
and program names would otherwise turn into mojibake; rows end in CRLF as Excel writes
them. Cells that Excel would run as a formula (starting with = + - @) get a leading
apostrophe. Amounts are in major units with the currency's decimals, and in minor units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from pos import hookimpl
from pos.money import format_major
from pos.plugin.exporter_types import BatchHeader, ExportContext, ExporterRegistry
from pos.plugin.types import Setting

BOM = "\ufeff"
COLUMNS = ("batch_id", "merchant_id", "merchant_name", "currency", "redemption_id", "kind",
           "program_id", "program_name", "voucher_id", "occurred_at", "amount",
           "amount_minor")


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


class CsvExporter:
    name = "csv"
    description = "CSV for spreadsheets (UTF-8 with BOM, so Excel shows Chinese names)."
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        batch = ctx.batch
        zone = ZoneInfo(ctx.settings.get("timezone", "Asia/Shanghai"))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        yield (BOM + buffer.getvalue()).encode("utf-8")
        merchant = _cell(batch.merchant_name)
        async for chunk in ctx.lines():
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(
                (batch.id, batch.merchant_id, merchant, batch.currency, line.redemption_id,
                 line.kind, line.program_id, _cell(line.program_name), line.voucher_id,
                 line.occurred_at.astimezone(zone).isoformat(timespec="seconds"),
                 format_major(line.amount, batch.currency), line.amount)
                for line in chunk
            )
            yield buffer.getvalue().encode("utf-8")


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("timezone", str, "Asia/Shanghai",
                    "Time zone in which redemption times are written.")]


@hookimpl
def pos_register_settlement_exporters(
    register: ExporterRegistry, settings: Mapping[str, Any]
) -> None:
    register.add(CsvExporter())
