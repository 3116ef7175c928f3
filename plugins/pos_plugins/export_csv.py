"""`export_csv`: a settlement batch as CSV that opens correctly in Excel.

Excel only reads a CSV as UTF-8 when it starts with a byte order mark, so Chinese merchant
and program names would otherwise turn into mojibake; rows end in CRLF as Excel writes
them. Cells that Excel would run as a formula (starting with = + - @) get a leading
apostrophe. Amounts are in major units with the currency's decimals, and in minor units;
times in the configured time zone. The header row is in the reader's language: Chinese by
default, or English (the column codes `COLUMNS`, as files before it had). So is each line's
kind, in words (`KINDS`: 消费 or Redemption, and so on): the codes `redemption` and
`adjustment` are for machines, and the JSON export keeps them.

The lines come as text the database formatted (`ExportContext.text_lines`); of their
values only the program's name can need quoting, so each line is one string put together
around the batch's constant columns, written once. Those columns (with the merchant's
name), any program name and any kind's words that are not plain ASCII stand in a chunk's
text as control characters no value holds, and are put in after it is encoded: text that
is all ASCII joins and encodes about twice as fast as text holding one Chinese character.
"""
# ruff: noqa: RUF001

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.exporter_types import BatchHeader, ExportContext, ExporterRegistry
from pos.plugin.types import Setting

BOM = "\ufeff"
COLUMNS = ("batch_id", "merchant_id", "merchant_name", "currency", "redemption_id", "kind",
           "program_id", "program_name", "voucher_id", "occurred_at", "amount",
           "amount_minor")
HEADERS = {
    "zh-CN": ("批次编号", "商户编号", "商户名称", "币种", "消费编号", "类型", "项目编号",
              "项目名称", "券编号", "发生时间", "金额", "金额（最小货币单位）"),
    "en": COLUMNS,
}
# A line's kind in words, by language; the keys are every kind a settlement line can have
# (the CHECK on settlement_lines.kind, migration 0040).
KINDS = {
    "zh-CN": {"redemption": "消费", "adjustment": "调整（结算后撤销）"},
    "en": {"redemption": "Redemption", "adjustment": "Adjustment (voided after settlement)"},
}


def _cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _row(values: Iterable[str]) -> str:
    """Cells as one CSV row, quoted where they need it (as within any row: a lone empty
    cell stays empty), without the line end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    row = buffer.getvalue()[:-2]
    return "" if row == '""' else row


def _text_cell(text: str, marked: dict[bytes, bytes]) -> str:
    """A cell of a program's name or a kind's words as it goes into a chunk's text: itself
    when it is printable ASCII, else a mark (added to `marked`) that is replaced by it once
    encoded."""
    cell = _row((_cell(text),))
    if cell.isascii() and cell.isprintable():
        return cell
    mark = f"\x02{len(marked)}\x03"
    marked[mark.encode("ascii")] = cell.encode("utf-8")
    return mark


class CsvExporter:
    name = "csv"
    description = "CSV for spreadsheets (UTF-8 with BOM, so Excel shows Chinese names)."
    media_type = "text/csv; charset=utf-8"
    extension = "csv"
    languages = ("zh-CN", "en")

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        batch = ctx.batch
        zone = ctx.settings.get("timezone", "Asia/Shanghai")
        header = HEADERS.get(ctx.language, HEADERS["zh-CN"])
        words = KINDS.get(ctx.language, KINDS["zh-CN"])
        yield (BOM + _row(header) + "\r\n").encode("utf-8")
        # The batch's columns, the same on every line, and each program's name: made once.
        start = (_row((batch.id, batch.merchant_id, _cell(batch.merchant_name),
                       batch.currency)) + ",").encode("utf-8")
        names: dict[str, str] = {}  # name -> its cell, or the mark standing for it
        kinds: dict[str, str] = {}  # kind code -> its words' cell, or the mark for it
        marked: dict[bytes, bytes] = {}  # mark -> the cell
        async for chunk in ctx.text_lines(zone, seconds=True):
            text = []
            for redemption, kind, program, name, voucher, at, amount, minor in chunk:
                cell = names.get(name)
                if cell is None:
                    cell = names[name] = _text_cell(name, marked)
                said = kinds.get(kind)
                if said is None:
                    # A kind without words (none today) is written as its code rather
                    # than leaving a payment line out of the file.
                    said = kinds[kind] = _text_cell(words.get(kind, kind), marked)
                text.append(f"\x01{redemption},{said},{program},{cell},{voucher},{at},"
                            f"{amount},{minor}\r\n")
            data = "".join(text).encode("utf-8").replace(b"\x01", start)
            for mark, value in marked.items():
                data = data.replace(mark, value)
            yield data


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [Setting("timezone", str, "Asia/Shanghai",
                    "Time zone in which redemption times are written.")]


@hookimpl
def pos_register_settlement_exporters(
    register: ExporterRegistry, settings: Mapping[str, Any]
) -> None:
    register.add(CsvExporter())
