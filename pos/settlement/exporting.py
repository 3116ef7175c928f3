# ruff: noqa: RUF001
"""Exporting a batch: pick the exporter plugin, check it will take the batch (before a
byte is sent, so a refusal is still a problem response), then stream its bytes while
hashing them; the SHA-256 is recorded on the batch once the whole file has gone out.
The exporter is reached only through the plugin facade (`Plugins.exports`).

A file whose words a person reads (a CSV's header row) is written in the reader's language
when the exporter has it (zh-CN by default); its digest is recorded under the format's
name for zh-CN and under `<format>:en` for English, so each file's digest says which it is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pos.errors import EXPORT_REFUSED, UNKNOWN_FORMAT
from pos.messages import DEFAULT_LANGUAGE, words
from pos.plugin.exporter_calls import ExporterInfo
from pos.plugin.exporter_types import BatchHeader, ExportLine, TextLine
from pos.service.services import Services
from pos.storage import settlement_lines
from pos.storage import settlements as store

# Exporters may yield tiny pieces; the response is written in pieces of about this size.
WRITE_SIZE = 64 * 1024


@dataclasses.dataclass
class Export:
    """One file on its way out: a batch's, or a whole run's (`run_id` set)."""

    batches: list[BatchHeader]
    format: str
    exporter: ExporterInfo
    services: Services
    run_id: str | None = None
    # The language of the words a person reads in the file: one the exporter has, or the
    # default when its file does not depend on the reader's language.
    language: str = DEFAULT_LANGUAGE
    sha256: str | None = None  # set once the whole file has been produced
    size: int = 0

    @property
    def filename(self) -> str:
        what = f"run-{self.run_id}" if self.run_id else self.batches[0].id
        return f"settlement-{what}.{self.exporter.extension}"

    @property
    def recorded_as(self) -> str:
        """The format name the digest is recorded under on each batch the file carries."""
        if self.run_id:
            return f"{self.format}:run"
        if self.language == DEFAULT_LANGUAGE:
            return self.format
        return f"{self.format}:{self.language}"

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file, in pieces; records its digest on its batches when it is complete.
        The exporter runs behind the plugin facade: if it fails, even half way, this
        raises `PluginProblem` and nothing is recorded."""
        exports = self.services.plugins.exports
        # The batch's lines are read from a server-side cursor that holds a connection;
        # every cursor the exporter opened is closed here, even if it stopped reading.
        opened: list[AsyncIterator[Sequence[object]]] = []
        # The lines come from the replica once it has caught up with the primary (the
        # digest is written to the primary, below).
        read_pool = await self.services.reader()
        batch = self.batches[0]

        def lines() -> AsyncIterator[Sequence[ExportLine]]:
            stream = settlement_lines.stream_lines(read_pool, batch.id)
            opened.append(stream)
            return stream

        def text_lines(time_zone: str = "UTC", *, seconds: bool = False
                       ) -> AsyncIterator[Sequence[TextLine]]:
            stream = settlement_lines.stream_text_lines(read_pool, batch.id, batch.currency,
                                                        time_zone, seconds=seconds)
            opened.append(stream)
            return stream

        pieces = (exports.run(self.format, self.run_id, self.batches)
                  if self.run_id is not None
                  else exports.batch(self.format, batch, lines, text_lines, self.language))
        digest = _Digest()
        pending: list[bytes] = []
        pending_size = 0
        try:
            async for piece in pieces:
                self.size += len(piece)
                pending.append(piece)
                pending_size += len(piece)
                if pending_size >= WRITE_SIZE:
                    yield await digest.add(b"".join(pending))
                    pending, pending_size = [], 0
        finally:
            # The exporter first (it stops reading), then the cursors it read from.
            for generator in [pieces, *opened]:
                await _close(generator)
        if pending:
            yield await digest.add(b"".join(pending))
        self.sha256 = await digest.hexdigest()
        for batch in self.batches:
            await store.record_export(self.services.pool, batch.id, self.recorded_as,
                                      self.sha256, self.size)


class _Digest:
    """SHA-256 of the pieces in order, each hashed in a thread (hashlib lets go of the GIL)
    while the exporter makes the next: a large file's hashing costs the event loop
    nothing."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._last: asyncio.Future[None] | None = None

    async def add(self, piece: bytes) -> bytes:
        """Start hashing `piece` after the pieces before it; returns it."""
        await self._settled()
        self._last = asyncio.get_running_loop().run_in_executor(None, self._sha.update, piece)
        return piece

    async def hexdigest(self) -> str:
        await self._settled()
        return self._sha.hexdigest()

    async def _settled(self) -> None:
        if self._last is not None:
            await self._last
            self._last = None


async def _close(iterator: AsyncIterator[object]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _exporter(services: Services, fmt: str) -> ExporterInfo:
    info = services.plugins.exports.info(fmt)
    if info is None:
        raise UNKNOWN_FORMAT(
            words("没有安装名为 {format} 的结算导出格式。",
                  "No settlement exporter is installed with the name {format}.",
                  format=repr(fmt)),
            formats=[i.name for i in services.plugins.exports.infos()])
    return info


async def prepare(services: Services, batch_id: str, fmt: str,
                  language: str = DEFAULT_LANGUAGE) -> Export:
    """A batch's file in `fmt`, its words in `language` when the exporter has it."""
    info = _exporter(services, fmt)
    batch = await store.batch_header(services.pool, batch_id)
    refusal = services.plugins.exports.refuse(fmt, batch)
    if refusal:
        raise EXPORT_REFUSED(refusal, format=fmt)
    return Export(batches=[batch], format=fmt, exporter=info, services=services,
                  language=info.language_for(language) or DEFAULT_LANGUAGE)


async def prepare_run(services: Services, run_id: str, fmt: str) -> Export:
    """A whole run in one file, for exporters that can write one (pain.001 does)."""
    info = _exporter(services, fmt)
    if not info.whole_runs:
        raise EXPORT_REFUSED(words("{format} 格式按批次生成；请逐个导出这次结算的批次。",
                                   "The {format} format is made batch by batch; export each "
                                   "batch of the run.", format=fmt), format=fmt)
    batches = await store.run_headers(services.pool, run_id)
    chosen, refusal = services.plugins.exports.select_for_run(fmt, batches)
    if refusal or not chosen:
        raise EXPORT_REFUSED(refusal or words("这次结算中没有可导出的内容。",
                                              "Nothing in this run to export."), format=fmt)
    return Export(batches=chosen, format=fmt, exporter=info, services=services,
                  run_id=run_id)


def describe_exporters(services: Services) -> list[dict[str, Any]]:
    return [{"name": info.name, "plugin": info.plugin, "description": info.description,
             "media_type": info.media_type, "extension": info.extension,
             "languages": list(info.languages)}
            for info in services.plugins.exports.infos()]
