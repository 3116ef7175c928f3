"""Exporting a batch: pick the exporter plugin, check it will take the batch (before a
byte is sent, so a refusal is still a problem response), then stream its bytes while
hashing them; the SHA-256 is recorded on the batch once the whole file has gone out."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pos.errors import InputProblem, PluginProblem
from pos.plugin.exporter_types import (
    BatchHeader,
    ExportContext,
    ExportLine,
    RunExportContext,
    RunExporter,
    SettlementExporter,
)
from pos.service.services import Services
from pos.storage import settlements as store

log = logging.getLogger(__name__)

# Exporters may yield tiny pieces; the response is written in pieces of about this size.
WRITE_SIZE = 64 * 1024


@dataclasses.dataclass
class Export:
    """One file on its way out: a batch's, or a whole run's (`run_id` set)."""

    batches: list[BatchHeader]
    format: str
    plugin: str
    exporter: SettlementExporter
    settings: Mapping[str, Any]
    services: Services
    run_id: str | None = None
    sha256: str | None = None  # set once the whole file has been produced
    size: int = 0
    read_pool: Any = None  # where the lines are read, chosen when the file is produced

    @property
    def filename(self) -> str:
        what = f"run-{self.run_id}" if self.run_id else self.batches[0].id
        return f"settlement-{what}.{self.exporter.extension}"

    @property
    def recorded_as(self) -> str:
        """The format name the digest is recorded under on each batch the file carries."""
        return f"{self.format}:run" if self.run_id else self.format

    def _produce(self) -> AsyncIterator[bytes]:
        if self.run_id is not None:
            assert isinstance(self.exporter, RunExporter)
            return self.exporter.export_run(RunExportContext(
                run_id=self.run_id, batches=self.batches, settings=self.settings))
        batch = self.batches[0]

        def lines() -> AsyncIterator[Sequence[ExportLine]]:
            return store.stream_lines(self.read_pool or self.services.pool, batch.id)

        return self.exporter.export(ExportContext(batch=batch, settings=self.settings,
                                                  lines=lines))

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file, in pieces; records its digest on its batches when it is complete."""
        # The lines come from the replica once it has caught up (the digest is written to
        # the primary, below).
        self.read_pool = await self.services.reader()
        digest = hashlib.sha256()
        pending: list[bytes] = []
        pending_size = 0
        async for piece in self._produce():
            if not isinstance(piece, bytes):
                raise PluginProblem(self.plugin, "The exporter produced something that is "
                                    "not bytes.")
            digest.update(piece)
            self.size += len(piece)
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= WRITE_SIZE:
                yield b"".join(pending)
                pending, pending_size = [], 0
        if pending:
            yield b"".join(pending)
        self.sha256 = digest.hexdigest()
        for batch in self.batches:
            await store.record_export(self.services.pool, batch.id, self.recorded_as,
                                      self.sha256, self.size)


def _exporter(services: Services, fmt: str) -> tuple[SettlementExporter, dict[str, Any], str]:
    found = services.plugins.exporter(fmt)
    if found is None:
        raise InputProblem("unknown_format",
                           f"No settlement exporter is installed with the name {fmt!r}.",
                           status=404, formats=sorted(services.plugins.exporters))
    exporter, settings = found
    return exporter, settings, services.plugins.exporters[fmt].plugin


async def prepare(services: Services, batch_id: str, fmt: str) -> Export:
    exporter, settings, plugin = _exporter(services, fmt)
    batch = await store.batch_header(services.pool, batch_id)
    try:
        refusal = exporter.refuse(batch, settings)
    except Exception:
        log.exception("exporter %s raised while checking batch %s", fmt, batch_id)
        raise PluginProblem(plugin, "The exporter failed while checking this batch.") from None
    if refusal:
        raise InputProblem("export_refused", refusal, status=409, format=fmt)
    return Export(batches=[batch], format=fmt, plugin=plugin, exporter=exporter,
                  settings=settings, services=services)


async def prepare_run(services: Services, run_id: str, fmt: str) -> Export:
    """A whole run in one file, for exporters that can write one (pain.001 does)."""
    exporter, settings, plugin = _exporter(services, fmt)
    if not isinstance(exporter, RunExporter):
        raise InputProblem("export_refused", f"The {fmt} format is made batch by batch; "
                           "export each batch of the run.", status=409, format=fmt)
    batches = await store.run_headers(services.pool, run_id)
    try:
        chosen, refusal = exporter.select(batches, settings)
    except Exception:
        log.exception("exporter %s raised while checking run %s", fmt, run_id)
        raise PluginProblem(plugin, "The exporter failed while checking this run.") from None
    if refusal or not chosen:
        raise InputProblem("export_refused", refusal or "Nothing in this run to export.",
                           status=409, format=fmt)
    return Export(batches=list(chosen), format=fmt, plugin=plugin, exporter=exporter,
                  settings=settings, services=services, run_id=run_id)


def describe_exporters(services: Services) -> list[dict[str, str]]:
    out = []
    for name, registered in sorted(services.plugins.exporters.items()):
        exporter = registered.adapter
        out.append({"name": name, "plugin": registered.plugin,
                    "description": exporter.description, "media_type": exporter.media_type,
                    "extension": exporter.extension})
    return out
