"""`export_json`: a settlement batch as one JSON document, written line by line.

Amounts stay integers in minor units with the currency beside them, as everywhere in the
API; the document ends with the totals so a reader can check what it summed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pos import hookimpl
from pos.plugin.exporter_types import BatchHeader, ExportContext, ExporterRegistry


def _header(batch: BatchHeader) -> dict[str, Any]:
    payee = batch.payee
    return {
        "id": batch.id, "run_id": batch.run_id, "merchant_id": batch.merchant_id,
        "merchant_name": batch.merchant_name, "program_id": batch.program_id,
        "currency": batch.currency, "period_end": batch.period_end.isoformat(),
        "status": batch.status, "created_at": batch.created_at.isoformat(),
        "payee": None if payee is None else {
            "account_name": payee.account_name, "account_id": payee.account_id,
            "agent_bic": payee.agent_bic, "agent_id": payee.agent_id},
    }


class JsonExporter:
    name = "json"
    description = "JSON: the batch, every line in minor units, and the totals."
    media_type = "application/json"
    extension = "json"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        batch = ctx.batch
        head = json.dumps(_header(batch), ensure_ascii=False)
        # The header object stays open: lines, then totals, are appended to it.
        yield (head[:-1] + ', "lines": [').encode("utf-8")
        first = True
        names: dict[str, str] = {}  # program name -> JSON-encoded once
        # The lines as text the database wrote (times in UTC, as `isoformat` writes them).
        async for chunk in ctx.text_lines("UTC"):
            parts = []
            for redemption, kind, program, name, voucher, at, _, minor in chunk:
                encoded = names.get(name)
                if encoded is None:
                    encoded = names[name] = json.dumps(name, ensure_ascii=False)
                # Ids are UUIDs, the kind a fixed word, the time and amount digits: only the
                # name needs encoding, which keeps a million lines from costing a
                # json.dumps each.
                parts.append(
                    f'{{"redemption_id": "{redemption}", "kind": "{kind}", "amount": {minor}, '
                    f'"program_id": "{program}", "program_name": {encoded}, '
                    f'"voucher_id": "{voucher}", "occurred_at": "{at}"}}')
            if parts:
                # Every line after the first starts a line of its own with its comma, so the
                # bytes do not depend on how the lines were chunked.
                yield (("" if first else "\n,") + "\n,".join(parts)).encode("utf-8")
                first = False
        totals = {"line_count": batch.line_count, "redemption_total": batch.redemption_total,
                  "adjustment_total": batch.adjustment_total, "total": batch.total}
        yield ('], "totals": ' + json.dumps(totals) + "}\n").encode("utf-8")


@hookimpl
def pos_register_settlement_exporters(
    register: ExporterRegistry, settings: Mapping[str, Any]
) -> None:
    register.add(JsonExporter())
