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
from pos.services import Services
from pos.settlement.exporter_api import BatchHeader, ExportContext, ExportLine, SettlementExporter
from pos.storage import settlements as store

log = logging.getLogger(__name__)

# Exporters may yield tiny pieces; the response is written in pieces of about this size.
WRITE_SIZE = 64 * 1024


@dataclasses.dataclass
class Export:
    batch: BatchHeader
    format: str
    plugin: str
    exporter: SettlementExporter
    settings: Mapping[str, Any]
    services: Services
    sha256: str | None = None  # set once the whole file has been produced
    size: int = 0

    @property
    def filename(self) -> str:
        return f"settlement-{self.batch.id}.{self.exporter.extension}"

    def _lines(self) -> AsyncIterator[Sequence[ExportLine]]:
        return store.stream_lines(self.services.pool, self.batch.id)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file, in pieces; records its digest on the batch when it is complete."""
        digest = hashlib.sha256()
        pending: list[bytes] = []
        pending_size = 0
        ctx = ExportContext(batch=self.batch, settings=self.settings, lines=self._lines)
        async for piece in self.exporter.export(ctx):
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
        await store.record_export(self.services.pool, self.batch.id, self.format,
                                  self.sha256, self.size)


async def prepare(services: Services, batch_id: str, fmt: str) -> Export:
    found = services.plugins.exporter(fmt)
    if found is None:
        raise InputProblem("unknown_format",
                           f"No settlement exporter is installed with the name {fmt!r}.",
                           status=404, formats=sorted(services.plugins.exporters))
    exporter, settings = found
    plugin = services.plugins.exporters[fmt].plugin
    batch = await store.batch_header(services.pool, batch_id)
    try:
        refusal = exporter.refuse(batch, settings)
    except Exception:
        log.exception("exporter %s raised while checking batch %s", fmt, batch_id)
        raise PluginProblem(plugin, "The exporter failed while checking this batch.") from None
    if refusal:
        raise InputProblem("export_refused", refusal, status=409, format=fmt)
    return Export(batch=batch, format=fmt, plugin=plugin, exporter=exporter,
                  settings=settings, services=services)


def describe_exporters(services: Services) -> list[dict[str, str]]:
    out = []
    for name, registered in sorted(services.plugins.exporters.items()):
        exporter = registered.adapter
        out.append({"name": name, "plugin": registered.plugin,
                    "description": exporter.description, "media_type": exporter.media_type,
                    "extension": exporter.extension})
    return out
