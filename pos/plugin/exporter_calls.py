"""Calls into settlement exporter plugins, for `pos.settlement.exporting`: what a format is,
whether it takes a batch (or which batches of a run), and its file as a stream.

Part of the plugin facade (`Plugins.exports`): every failure of the exporter, including one
half way through a file, is a `PluginProblem` naming the plugin. A file may be large, so
the time limit is per piece, not for the whole file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from pos.errors import PluginProblem
from pos.messages import LANGUAGES, Phrase, words
from pos.plugin.exporter_types import (
    DEFAULT_LANGUAGE,
    BatchHeader,
    ExportContext,
    ExportLine,
    RunExportContext,
    RunExporter,
    TextLines,
)
from pos.plugin.loading import Registered

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ExporterInfo:
    """A settlement format, as the core lists it and names the file it serves."""

    name: str
    plugin: str
    description: str
    media_type: str
    extension: str
    whole_runs: bool  # it can also write a whole run as one file (`RunExporter`)
    # The languages of the words a person reads in its file, the default first; empty when
    # its file is the same whatever the reader's language.
    languages: tuple[str, ...] = ()

    def language_for(self, asked: str) -> str | None:
        """The language its file is written in for a reader who asked for `asked`; None
        when the file does not depend on the reader's language."""
        if not self.languages:
            return None
        return asked if asked in self.languages else self.languages[0]


_CHECK_FAILED = words("结算导出插件在检查时出错。",
                      "The exporter failed while checking this batch.")
_RUN_CHECK_FAILED = words("结算导出插件在检查这次结算时出错。",
                          "The exporter failed while checking this run.")
_WRITE_FAILED = words("结算导出插件在写文件时出错。",
                      "The exporter failed while writing the file.")


class _Nonsense(Exception):
    """An exporter's refusal that is neither a sentence nor one in each language."""


def _refusal(declared: object) -> str | Phrase | None:
    """An exporter's refusal as the core raises it: its sentence in each language as a
    `Phrase`, a plain sentence as it is, nothing as None (see `Refusal`)."""
    if declared is None or isinstance(declared, str):
        return declared or None
    if (isinstance(declared, Mapping) and set(declared) == set(LANGUAGES)
            and all(isinstance(text, str) and text for text in declared.values())):
        return Phrase(dict(declared))
    raise _Nonsense


def _languages(declared: object) -> tuple[str, ...]:
    """The languages an exporter declares that the service knows (zh-CN, en), in its order."""
    if not isinstance(declared, (list, tuple)):
        return ()
    return tuple(lang for lang in declared if lang in LANGUAGES)


class ExporterCalls:
    """The registered settlement exporters, reached only through these methods."""

    def __init__(self, exporters: Mapping[str, Registered],
                 settings: Mapping[str, Mapping[str, Any]], timeout: float) -> None:
        self._exporters = exporters
        self._settings = settings
        self._timeout = timeout

    def info(self, name: str) -> ExporterInfo | None:
        """The format registered as `name`, or None."""
        registered = self._exporters.get(name)
        if registered is None:
            return None
        adapter = registered.adapter
        return ExporterInfo(
            name=name, plugin=registered.plugin,
            description=str(getattr(adapter, "description", "")),
            media_type=str(getattr(adapter, "media_type", "application/octet-stream")),
            extension=str(getattr(adapter, "extension", "bin")),
            whole_runs=isinstance(adapter, RunExporter),
            languages=_languages(getattr(adapter, "languages", ())))

    def infos(self) -> list[ExporterInfo]:
        """Every installed format, by name."""
        return [info for name in sorted(self._exporters)
                if (info := self.info(name)) is not None]

    def refuse(self, name: str, batch: BatchHeader) -> str | Phrase | None:
        """Why the exporter will not write this batch, or None; fails closed."""
        registered = self._exporter(name)
        try:
            declared = registered.adapter.refuse(batch,
                                                 self._settings.get(registered.plugin, {}))
        except Exception:
            log.exception("plugin %s: exporter %s raised checking batch %s",
                          registered.plugin, name, batch.id)
            raise PluginProblem(registered.plugin, _CHECK_FAILED) from None
        try:
            return _refusal(declared)
        except _Nonsense:
            log.error("plugin %s: exporter %s refused with nonsense", registered.plugin, name)
            raise PluginProblem(registered.plugin, _CHECK_FAILED) from None

    def select_for_run(self, name: str, batches: Sequence[BatchHeader]
                       ) -> tuple[list[BatchHeader], str | Phrase | None]:
        """The batches a run file in this format carries, and why it cannot be made (or
        None). Only for exporters that write whole runs; fails closed."""
        registered = self._exporter(name)
        try:
            chosen, declared = registered.adapter.select(
                batches, self._settings.get(registered.plugin, {}))
            chosen = list(chosen)
        except Exception:
            log.exception("plugin %s: exporter %s raised checking a run", registered.plugin,
                          name)
            raise PluginProblem(registered.plugin, _RUN_CHECK_FAILED) from None
        offered = {b.id for b in batches}
        try:
            refusal = _refusal(declared)
            if not all(isinstance(b, BatchHeader) and b.id in offered for b in chosen):
                raise _Nonsense
        except _Nonsense:
            log.error("plugin %s: exporter %s selected nonsense", registered.plugin, name)
            raise PluginProblem(registered.plugin, _RUN_CHECK_FAILED) from None
        return chosen, refusal

    def batch(
        self, name: str, batch: BatchHeader,
        lines: Callable[[], AsyncIterator[Sequence[ExportLine]]],
        text_lines: TextLines | None = None, language: str = DEFAULT_LANGUAGE,
    ) -> AsyncIterator[bytes]:
        """The batch's file as the exporter writes it, checked piece by piece; `language`
        should be one the exporter has (`ExporterInfo.language_for`)."""
        registered = self._exporter(name)
        ctx = ExportContext(batch=batch, settings=self._settings.get(registered.plugin, {}),
                            lines=lines, language=language, text_source=text_lines)
        return self._pieces(registered, name, lambda: registered.adapter.export(ctx))

    def run(self, name: str, run_id: str, batches: Sequence[BatchHeader]
            ) -> AsyncIterator[bytes]:
        """A whole run's file (see `select_for_run`), checked piece by piece."""
        registered = self._exporter(name)
        ctx = RunExportContext(run_id=run_id, batches=batches,
                               settings=self._settings.get(registered.plugin, {}))
        return self._pieces(registered, name, lambda: registered.adapter.export_run(ctx))

    def _exporter(self, name: str) -> Registered:
        registered = self._exporters.get(name)
        if registered is None:
            raise PluginProblem(name, words("没有安装名为 {format} 的结算导出格式。",
                                            "The settlement format {format} is not installed.",
                                            format=repr(name)))
        return registered

    async def _pieces(self, registered: Registered, name: str,
                      produce: Callable[[], Any]) -> AsyncIterator[bytes]:
        """Stream an exporter's output. Each piece has the plugin timeout (the file as a
        whole may take as long as it needs); a failure mid-file is a `PluginProblem`."""
        plugin = registered.plugin
        detail = _WRITE_FAILED
        try:
            iterator = aiter(produce())
        except Exception:
            log.exception("plugin %s: exporter %s raised", plugin, name)
            raise PluginProblem(plugin, detail) from None
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: the exporter keeps running in this
                    # task, so the database cursor it reads lines from stays in one task.
                    async with asyncio.timeout(self._timeout):
                        piece = await anext(iterator)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    log.error("plugin %s: exporter %s timed out", plugin, name)
                    raise PluginProblem(plugin, detail) from None
                except Exception:
                    log.exception("plugin %s: exporter %s raised", plugin, name)
                    raise PluginProblem(plugin, detail) from None
                if not isinstance(piece, bytes):
                    log.error("plugin %s: exporter %s produced %s, not bytes", plugin, name,
                              type(piece).__name__)
                    raise PluginProblem(plugin, detail)
                yield piece
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
