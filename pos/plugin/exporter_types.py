"""What a settlement exporter plugin sees: plain data about one batch, its lines in chunks,
and the protocol it implements. Exporters depend on this module and `pos.hookimpl` only."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


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


@dataclasses.dataclass(frozen=True)
class ExportContext:
    """Everything an exporter is given. `lines()` yields the batch's lines in chunks of a
    few thousand, read from the database as they are written out, so memory stays bounded
    whatever the batch's size."""

    batch: BatchHeader
    settings: Mapping[str, Any]
    lines: Callable[[], AsyncIterator[Sequence[ExportLine]]]


@runtime_checkable
class SettlementExporter(Protocol):
    """A file format for a settlement batch."""

    name: str          # what a caller asks for: /v1/settlements/{id}/export/{name}
    description: str
    media_type: str    # Content-Type of the file
    extension: str     # file name suffix, without the dot

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        """A sentence saying why this batch cannot be exported in this format, or None."""
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
               ) -> tuple[list[BatchHeader], str | None]:
        """The batches the run file will carry, and a sentence saying why it cannot be
        made (or None)."""
        ...

    def export_run(self, ctx: RunExportContext) -> AsyncIterator[bytes]:
        """The run's file, as chunks of bytes; deterministic, as `export` is."""
        ...


class ExporterRegistry(Protocol):
    def add(self, exporter: SettlementExporter) -> None: ...

