"""`export_pain001`: an approved batch as an ISO 20022 `pain.001.001.09` customer credit
transfer initiation, the file a funder uploads to its bank to pay the merchant.

One message per batch, one payment (`CdtTrfTxInf`) per merchant: a batch is one merchant
in one currency. Amounts are in major units with the currency's decimals; `NbOfTxs` and
`CtrlSum` are given for the group and the payment information block. The message id is
made from the batch id and its approval count: unique per batch and per attempt to pay it,
and the same on a second download, so the bank refuses a file sent twice and the file's
SHA-256 stays the same. The debtor (the funder's account) comes from this plugin's settings.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from pos import hookimpl
from pos.money import format_major
from pos.plugin_api import Setting
from pos.settlement.exporter_api import BatchHeader, ExportContext, ExporterRegistry

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


class Pain001Exporter:
    name = "pain001"
    description = "ISO 20022 pain.001.001.09 credit transfer: one payment to the merchant."
    media_type = "application/xml"
    extension = "xml"

    def refuse(self, batch: BatchHeader, settings: Mapping[str, Any]) -> str | None:
        if batch.status not in ("approved", "paid") or batch.approved_at is None:
            return "A payment file is only made for an approved batch."
        if batch.total <= 0:
            return "This batch does not owe the merchant anything; there is nothing to pay."
        if batch.payee is None:
            return "The merchant has no payout account; add one before paying the batch."
        if not settings.get("debtor_account"):
            return ("The paying account is not configured "
                    "([plugins.export_pain001] debtor_account).")
        bic = settings.get("debtor_agent_bic") or ""
        if bic and not BIC.match(bic):
            return "The paying bank's BIC in [plugins.export_pain001] is not a valid BIC."
        return None

    async def export(self, ctx: ExportContext) -> AsyncIterator[bytes]:
        batch, settings = ctx.batch, ctx.settings
        assert batch.payee is not None and batch.approved_at is not None  # see refuse()
        zone = ZoneInfo(settings.get("timezone", "Asia/Shanghai"))
        approved = batch.approved_at.astimezone(zone)
        amount = format_major(batch.total, batch.currency)
        msg_id = message_id(batch)
        debtor = text(settings["debtor_name"], 140)
        payee = batch.payee
        remittance = (f"Voucher settlement to {batch.period_end.astimezone(zone):%Y-%m-%d}, "
                      f"batch {batch.id}, {batch.line_count} redemptions")
        yield (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{NAMESPACE}">'
            "<CstmrCdtTrfInitn>"
            "<GrpHdr>"
            f"<MsgId>{msg_id}</MsgId>"
            f"<CreDtTm>{approved.isoformat(timespec='seconds')}</CreDtTm>"
            f"<NbOfTxs>1</NbOfTxs><CtrlSum>{amount}</CtrlSum>"
            f"<InitgPty><Nm>{text(settings.get('initiating_party') or debtor, 140)}</Nm>"
            "</InitgPty>"
            "</GrpHdr>"
            "<PmtInf>"
            f"<PmtInfId>{msg_id}</PmtInfId><PmtMtd>TRF</PmtMtd>"
            f"<NbOfTxs>1</NbOfTxs><CtrlSum>{amount}</CtrlSum>"
            f"<ReqdExctnDt><Dt>{approved:%Y-%m-%d}</Dt></ReqdExctnDt>"
            f"<Dbtr><Nm>{debtor}</Nm></Dbtr>"
            f"<DbtrAcct>{account(settings['debtor_account'])}</DbtrAcct>"
            f"<DbtrAgt>{agent(settings.get('debtor_agent_bic'), None)}</DbtrAgt>"
            "<CdtTrfTxInf>"
            f"<PmtId><EndToEndId>{batch.id.replace('-', '')}</EndToEndId></PmtId>"
            f"<Amt><InstdAmt Ccy={quoteattr(batch.currency)}>{amount}</InstdAmt></Amt>"
            + (f"<CdtrAgt>{agent(payee.agent_bic, payee.agent_id)}</CdtrAgt>"
               if payee.agent_bic or payee.agent_id else "")
            + f"<Cdtr><Nm>{text(payee.account_name, 140)}</Nm></Cdtr>"
            f"<CdtrAcct>{account(payee.account_id)}</CdtrAcct>"
            f"<RmtInf><Ustrd>{text(remittance, 140)}</Ustrd></RmtInf>"
            "</CdtTrfTxInf>"
            "</PmtInf>"
            "</CstmrCdtTrfInitn>"
            "</Document>\n"
        ).encode("utf-8")


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
