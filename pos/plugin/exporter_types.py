"""What a settlement exporter plugin sees: plain data about one batch, its lines in chunks
(as typed `ExportLine`s, or as text ready to write: `TextLine`), the reader's language,
and the protocol it implements. Exporters depend on this module and `pos.hookimpl` only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

# The reader's language unless the caller asks for another (re-exported for exporters).
from pos.messages import DEFAULT_LANGUAGE as DEFAULT_LANGUAGE
from pos.money import format_major


@dataclasses.dataclass(frozen=True)
class Payee:
    """The merchant's payout account."""

    account_name: str
    account_id: str
    agent_bic: str | None = None
    agent_id: str | None = None


@dataclasses.dataclass(frozen=True)
class BatchHeader:
    """One settlement batch: one merchant, one currency. Money in integer minor units."""

    id: str
    run_id: str
    merchant_id: str
    merchant_name: str
    program_id: str | None
    currency: str
    period_end: datetime
    status: str
    created_at: datetime
    approved_at: datetime | None  # the latest approval; a payment file is dated by it
    approvals: int                # how many times it was approved (1 + retries after failure)
    line_count: int
    redemption_total: int
    adjustment_total: int
    total: int
    payee: Payee | None


@dataclasses.dataclass(frozen=True)
class ExportLine:
    """A redemption (positive) or a void after settlement (negative adjustment)."""

    redemption_id: str
    kind: str
    amount: int
    program_id: str
    program_name: str
    voucher_id: str
    occurred_at: datetime


# The values of a `TextLine`, in this order.
TEXT_LINE_COLUMNS = ("redemption_id", "kind", "program_id", "program_name", "voucher_id",
                     "occurred_at", "amount", "amount_minor")

TextLine = Sequence[str]
"""A line as text ready to write, the values of `TEXT_LINE_COLUMNS` in order: ids as
lower-case UUIDs, `kind` a word of letters, `occurred_at` ISO 8601 in the time zone asked
for, with its offset (as `datetime.isoformat`), `amount` in major units with the
currency's decimals ('-90.00', as `pos.money.format_major`), `amount_minor` the integer of
minor units ('-9000'). Only `program_name` can hold a comma, a quote or a line break."""


class TextLines(Protocol):
    def __call__(self, time_zone: str = "UTC", *, seconds: bool = False
                 ) -> AsyncIterator[Sequence[TextLine]]:
        """The batch's lines as text, in chunks, in the order of `ExportContext.lines`;
        times in `time_zone` (an IANA name), to the second with `seconds`, else as
        `datetime.isoformat` writes them (microseconds when there are any)."""
        ...


@dataclasses.dataclass(frozen=True)
class ExportContext:
    """Everything an exporter is given. `lines()` yields the batch's lines in chunks of a
    few thousand, read from the database as they are written out, so memory stays bounded
    whatever the batch's size.

    `text_lines(time_zone, seconds=...)` yields the same lines as `TextLine`s, formatted by
    the database while they stream (`text_source`, which the core sets): the lean shape
    for a text format of many lines, with no object made per line (see `export_csv`).

    `language` is the reader's language (zh-CN or en) for the words a person reads in the
    file, such as a CSV's header row: one of the exporter's `languages` (see
    `SettlementExporter`), zh-CN unless the caller asked for another."""

    batch: BatchHeader
    settings: Mapping[str, Any]
    lines: Callable[[], AsyncIterator[Sequence[ExportLine]]]
    language: str = DEFAULT_LANGUAGE
    # The core's source of `text_lines`; without one they are made from `lines()`.
    text_source: TextLines | None = None

    def text_lines(self, time_zone: str = "UTC", *, seconds: bool = False
                   ) -> AsyncIterator[Sequence[TextLine]]:
        """The batch's lines as `TextLine`s, in chunks (see `TextLines`)."""
        if self.text_source is not None:
            return self.text_source(time_zone, seconds=seconds)
        return _texts_of(self.lines(), self.batch.currency, ZoneInfo(time_zone), seconds)


def text_line(line: ExportLine, currency: str, zone: ZoneInfo, *, seconds: bool = False
              ) -> TextLine:
    """One `ExportLine` as a `TextLine` (what the database writes for `text_lines`)."""
    return (line.redemption_id, line.kind, line.program_id, line.program_name, line.voucher_id,
            line.occurred_at.astimezone(zone).isoformat(
                timespec="seconds" if seconds else "auto"),
            format_major(line.amount, currency), str(line.amount))


async def _texts_of(lines: AsyncIterator[Sequence[ExportLine]], currency: str, zone: ZoneInfo,
                    seconds: bool) -> AsyncIterator[Sequence[TextLine]]:
    async for chunk in lines:
        yield [text_line(line, currency, zone, seconds=seconds) for line in chunk]


# Why an exporter will not write a file, as the finance officer reads it: the sentence in
# each language, {"zh-CN": ..., "en": ...} (both; the core shows the reader's), or one plain
# sentence, shown as it is inside the core's own words in every language.
Refusal = str | Mapping[str, str]


@runtime_checkable
class SettlementExporter(Protocol):
    """A file format for a settlement batch."""

    name: str          # what a caller asks for: /v1/settlements/{id}/export/{name}
    description: str
    media_type: str    # Content-Type of the file
    extension: str     # file name suffix, without the dot
    # Optional: the languages of the words a person reads in the file (e.g. a header row),
    # the default first; `ExportContext.language` is one of them. Without it the file
    # is the same whatever the reader's language (JSON keys, an XML schema's names).
    # languages: Sequence[str]

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> Refusal | None:
        """Why this batch cannot be exported in this format (see `Refusal`), or None."""
        ...

    def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        """The file, as chunks of bytes. Must be deterministic: the same batch gives the
        same bytes, so the recorded SHA-256 identifies the file."""
        ...


@dataclasses.dataclass(frozen=True)
class RunExportContext:
    """A whole settlement run in one file: the run's batches an exporter agreed to take
    (see `RunExporter`), ordered by merchant name."""

    run_id: str
    batches: Sequence[BatchHeader]
    settings: Mapping[str, Any]


@runtime_checkable
class RunExporter(Protocol):
    """An exporter that can also write a whole run as one file, e.g. one credit transfer
    message paying every merchant of the run. Optional: exporters without these methods
    export batch by batch only."""

    def select(self, batches: Sequence[BatchHeader], settings: Mapping[str, Any]
               ) -> tuple[list[BatchHeader], Refusal | None]:
        """The batches the run file will carry, and why it cannot be made (see `Refusal`),
        or None."""
        ...

    def export_run(self, ctx: RunExportContext) -> AsyncIterator[bytes]:
        """The run's file, as chunks of bytes; deterministic, as `export` is."""
        ...


class ExporterRegistry(Protocol):
    def add(self, exporter: SettlementExporter) -> None: ...

