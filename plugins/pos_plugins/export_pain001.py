# ruff: noqa: RUF001
"""`export_pain001`: an approved batch as an ISO 20022 `pain.001.001.09` customer credit
transfer initiation, the file a funder uploads to its bank to pay the merchant.

One payment (`CdtTrfTxInf`) per merchant: a batch is one merchant in one currency, and a
file is made for one batch or for a whole run (every approved batch of it that owes
something, a payment information block per currency). Amounts are in major units with
the currency's decimals; `NbOfTxs` and `CtrlSum` are given for the group and for each
block. The message id is made from the batch (or run) and its approvals: unique per file
of payments and the same on a second download, so a bank refuses a file sent twice and
the file's SHA-256 stays the same. The debtor (the funder's account) comes from this
plugin's settings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from pos import hookimpl
from pos.money import format_major, to_major
from pos.plugin.exporter_types import (
    BatchHeader,
    ExportContext,
    ExporterRegistry,
    RunExportContext,
)
from pos.plugin.types import Setting

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Za-z0-9]{1,30}$")
BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
# Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: str, limit: int) -> str:
    """Escaped element text, cut to the schema's MaxNNNText length."""
    return escape(_NOT_XML.sub(" ", value).strip()[:limit] or "-")


def message_id(batch: BatchHeader) -> str:
    return f"{batch.id.replace('-', '')}{batch.approvals % 1000:03d}"  # 35 = Max35Text


def account(account_id: str) -> str:
    if IBAN.match(account_id):
        return f"<Id><IBAN>{account_id}</IBAN></Id>"
    return f"<Id><Othr><Id>{text(account_id, 34)}</Id></Othr></Id>"


def agent(bic: str | None, member_id: str | None) -> str:
    if bic:
        return f"<FinInstnId><BICFI>{escape(bic)}</BICFI></FinInstnId>"
    if member_id:
        return (f"<FinInstnId><ClrSysMmbId><MmbId>{text(member_id, 35)}</MmbId>"
                "</ClrSysMmbId></FinInstnId>")
    return "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>"


def run_message_id(run_id: str, batches: Sequence[BatchHeader]) -> str:
    """Unique per run and per set of payment attempts in it; stable on a re-download."""
    attempts = ",".join(f"{b.id}:{b.approvals}" for b in batches)
    return "R" + hashlib.sha256(f"{run_id}|{attempts}".encode()).hexdigest()[:34]


def _transaction(batch: BatchHeader, zone: ZoneInfo) -> str:
    payee = batch.payee
    assert payee is not None  # see refuse()
    amount = format_major(batch.total, batch.currency)
    remittance = (f"Voucher settlement to {batch.period_end.astimezone(zone):%Y-%m-%d}, "
                  f"batch {batch.id}, {batch.line_count} redemptions")
    return (
        "<CdtTrfTxInf>"
        f"<PmtId><EndToEndId>{batch.id.replace('-', '')}</EndToEndId></PmtId>"
        f"<Amt><InstdAmt Ccy={quoteattr(batch.currency)}>{amount}</InstdAmt></Amt>"
        + (f"<CdtrAgt>{agent(payee.agent_bic, payee.agent_id)}</CdtrAgt>"
           if payee.agent_bic or payee.agent_id else "")
        + f"<Cdtr><Nm>{text(payee.account_name, 140)}</Nm></Cdtr>"
        f"<CdtrAcct>{account(payee.account_id)}</CdtrAcct>"
        f"<RmtInf><Ustrd>{text(remittance, 140)}</Ustrd></RmtInf>"
        "</CdtTrfTxInf>"
    )


def _control_sum(batches: Sequence[BatchHeader]) -> str:
    # The sum of the amounts as written, whatever their currencies (ISO 20022's rule).
    total = sum((to_major(b.total, b.currency) for b in batches), Decimal(0))
    return f"{total:f}"


def document(msg_id: str, batches: Sequence[BatchHeader], settings: Mapping[str, Any]) -> bytes:
    """One message: a payment information block per currency, a payment per batch (one
    merchant each), with counts and control sums on the group and on each block."""
    zone = ZoneInfo(settings.get("timezone", "Asia/Shanghai"))
    approved = max(b.approved_at for b in batches if b.approved_at).astimezone(zone)
    debtor = text(settings["debtor_name"], 140)
    by_currency: dict[str, list[BatchHeader]] = {}
    for batch in batches:
        by_currency.setdefault(batch.currency, []).append(batch)
    blocks = []
    for number, (_, group) in enumerate(sorted(by_currency.items()), start=1):
        blocks.append(
            "<PmtInf>"
            f"<PmtInfId>{msg_id[:32]}{number:03d}</PmtInfId><PmtMtd>TRF</PmtMtd>"
            f"<NbOfTxs>{len(group)}</NbOfTxs><CtrlSum>{_control_sum(group)}</CtrlSum>"
            f"<ReqdExctnDt><Dt>{approved:%Y-%m-%d}</Dt></ReqdExctnDt>"
            f"<Dbtr><Nm>{debtor}</Nm></Dbtr>"
            f"<DbtrAcct>{account(settings['debtor_account'])}</DbtrAcct>"
            f"<DbtrAgt>{agent(settings.get('debtor_agent_bic'), None)}</DbtrAgt>"
            + "".join(_transaction(b, zone) for b in group)
            + "</PmtInf>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NAMESPACE}">'
        "<CstmrCdtTrfInitn>"
        "<GrpHdr>"
        f"<MsgId>{msg_id}</MsgId>"
        f"<CreDtTm>{approved.isoformat(timespec='seconds')}</CreDtTm>"
        f"<NbOfTxs>{len(batches)}</NbOfTxs><CtrlSum>{_control_sum(batches)}</CtrlSum>"
        f"<InitgPty><Nm>{text(settings.get('initiating_party') or debtor, 140)}</Nm>"
        "</InitgPty>"
        "</GrpHdr>"
        + "".join(blocks)
        + "</CstmrCdtTrfInitn></Document>\n"
    ).encode("utf-8")


def _said(zh: str, en: str) -> Mapping[str, str]:
    """A refusal in both languages; the service shows the reader's."""
    return {"zh-CN": zh, "en": en}


class Pain001Exporter:
    name = "pain001"
    description = ("ISO 20022 pain.001.001.09 credit transfer: one payment per merchant, "
                   "for a batch or a whole run.")
    media_type = "application/xml"
    extension = "xml"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]
               ) -> Mapping[str, str] | None:
        if batch.status not in ("approved", "paid") or batch.approved_at is None:
            return _said("付款文件只为已批准的批次生成。",
                         "A payment file is only made for an approved batch.")
        if batch.total <= 0:
            return _said("这个批次不欠商户任何款项，没有要付的。",
                         "This batch does not owe the merchant anything; there is nothing to "
                         "pay.")
        if batch.payee is None:
            return _said(f"商户「{batch.merchant_name}」没有收款账户；请先添加，再支付这个批次。",
                         f"The merchant {batch.merchant_name} has no payout account; add one "
                         "before paying the batch.")
        if not settings.get("debtor_account"):
            return _said("付款账户尚未配置（[plugins.export_pain001] debtor_account）。",
                         "The paying account is not configured "
                         "([plugins.export_pain001] debtor_account).")
        bic = settings.get("debtor_agent_bic") or ""
        if bic and not BIC.match(bic):
            return _said("[plugins.export_pain001] 中付款银行的 BIC 无效。",
                         "The paying bank's BIC in [plugins.export_pain001] is not a valid BIC.")
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        yield document(message_id(ctx.batch), [ctx.batch], ctx.settings)

    def select(self, batches: Sequence[BatchHeader], settings: Mapping[str, Any]
               ) -> tuple[list[BatchHeader], Mapping[str, str] | None]:
        """A run's file pays its approved batches that owe something; it is refused when
        one of those cannot be paid (no payout account), so no merchant is left out
        without anyone noticing."""
        payable = [b for b in batches if b.status == "approved" and b.total > 0]
        if not payable:
            return [], _said("这次结算中没有已批准且有应付款的批次。",
                             "No batch of this run is approved and owes anything.")
        for batch in payable:
            refusal = self.refuse(batch, settings)
            if refusal:
                return [], refusal
        return payable, None

    async def export_run(self, ctx: RunExportContext) -> AsyncIterator[bytes]:
        yield document(run_message_id(ctx.run_id, ctx.batches), ctx.batches, ctx.settings)


@hookimpl
def pos_declare_settings() -> list[Setting]:
    return [
        Setting("debtor_name", str, "Voucher program funder",
                "Name of the account holder that pays the merchants."),
        Setting("debtor_account", str, "",
                "The paying account: an IBAN, or the bank's own account number."),
        Setting("debtor_agent_bic", str, "", "BIC of the paying bank (empty: not given)."),
        Setting("initiating_party", str, "",
                "Who sends the file to the bank (empty: the debtor's name)."),
        Setting("timezone", str, "Asia/Shanghai",
                "Time zone of the file's creation time and execution date."),
    ]


@hookimpl
def pos_register_settlement_exporters(
    register: ExporterRegistry, settings: Mapping[str, Any]
) -> None:
    register.add(Pain001Exporter())
