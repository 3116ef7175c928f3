"""The `pos settle` and `pos report` commands.

    pos settle run --period-end 2026-01-31 (--as LOGIN | --by NAME) [--merchant ID]
                   [--program ID]
    pos settle list [--status draft] | show ID
    pos settle approve ID --as LOGIN | paid ID --by NAME [--reference REF]
    pos settle failed ID --by NAME --reason TEXT
    pos settle export ID FORMAT [--lang zh-CN|en] [--out FILE]   (prints the file's SHA-256)
    pos settle export-run RUN_ID pain001 [--out FILE]
    pos report PROGRAM_ID [--json | --csv SECTION]

Approving is four eyes at the command line too: `--as` names the approving account (a
finance or admin account), which is refused when it cut the batch's run, exactly as in the
console (`pos.accounts.four_eyes`), and the audit log records that account. A run cut
`--as` an account records it as the run's author, so that account cannot approve it; a
run cut `--by` a name is automation's, like the admin token's. Everything but JSON is
printed in the terminal's language (`LANG`: English for en_*, else Chinese; see
`pos.cli.texts`), categories by their names.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pos.accounts.staff import Staff
from pos.cli.texts import category_name, error, pad, problem_line, say
from pos.config import Config
from pos.db.actor import Actor, acting
from pos.errors import Problem, not_found
from pos.messages import LANGUAGES
from pos.money import format_major
from pos.private_files import open_private
from pos.service.services import Services

COMMANDS = ("settle", "report")


def add_parsers(sub: Any) -> None:
    settle = sub.add_parser("settle", help="settlement batches: run, list, approve, export")
    actions = settle.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="cut batches of what is due up to a period end")
    run.add_argument("--period-end", required=True,
                     help="a date (the whole day, local time) or an ISO date-time")
    who = run.add_mutually_exclusive_group(required=True)
    who.add_argument("--as", dest="as_login", metavar="LOGIN",
                     help="the finance or admin account cutting the run (it may then not "
                          "approve its batches)")
    who.add_argument("--by", help="a name, for automation outside named accounts")
    run.add_argument("--merchant", help="only this merchant's id")
    run.add_argument("--program", help="only this program's id")
    listing = actions.add_parser("list", help="batches, newest first")
    listing.add_argument("--status", choices=["draft", "approved", "paid", "failed"])
    show = actions.add_parser("show", help="one batch with its history and exports")
    show.add_argument("batch")
    approve = actions.add_parser("approve", help="approve a batch for payment, as a named "
                                 "account other than the one that cut its run")
    approve.add_argument("batch")
    approve.add_argument("--as", dest="as_login", metavar="LOGIN", required=True,
                         help="the approving finance or admin account")
    for name, text in (("paid", "record that an approved batch was paid"),
                       ("failed", "record that paying a batch failed")):
        step = actions.add_parser(name, help=text)
        step.add_argument("batch")
        step.add_argument("--by", required=True)
        if name == "paid":
            step.add_argument("--reference", help="the bank's reference")
        if name == "failed":
            step.add_argument("--reason", required=True)
    export = actions.add_parser("export", help="write a batch in a format; prints its SHA-256")
    export.add_argument("batch")
    export.add_argument("format", help="csv, json, pain001, or another installed exporter")
    export.add_argument("--lang", choices=LANGUAGES, default=LANGUAGES[0],
                        help="the language of the words a person reads in the file (a CSV's "
                             "header row and line kinds); machine formats do not change")
    export.add_argument("--out", help="file to write (default: settlement-<id>.<ext>)")
    export_run = actions.add_parser("export-run", help="write a whole run as one file "
                                    "(pain001: one payment per merchant)")
    export_run.add_argument("run")
    export_run.add_argument("format")
    export_run.add_argument("--out", help="file to write (default: settlement-run-<id>.<ext>)")

    report = sub.add_parser("report", help="a program's report: figures, categories, ...")
    report.add_argument("program")
    shape = report.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the report as JSON")
    shape.add_argument("--csv", choices=["summary", "categories", "merchants", "months",
                                         "unused"], help="one section as CSV")


def run(config: Config, args: argparse.Namespace) -> int:
    from pos.cli.voucher_commands import command_services

    period_end: date | datetime | None = None
    if args.command == "settle" and args.action == "run":
        try:
            period_end = _period_end(args.period_end)
        except ValueError:
            print(error("settle.period_end", text=repr(args.period_end)), file=sys.stderr)
            return 1

    async def work() -> int:
        async with command_services(config) as svc:
            if args.command == "report":
                return await _report(svc, args)
            return await _settle(svc, args, period_end)

    try:
        return asyncio.run(work())
    except Problem as problem:
        print(problem_line(problem), file=sys.stderr)
        return 1


@contextlib.contextmanager
def _acting_as(staff: Staff, action: str) -> Iterator[None]:
    """The audit log records the named account, as the console does, and the system user
    who typed the command in the action, after a colon as a route's summary is: a Chinese
    audit page shows what comes before it, the command."""
    with acting(Actor(login=staff.login, role=staff.role, account_id=staff.account_id,
                      action=f"{action}: command line, system user {getpass.getuser()}",
                      address="local")):
        yield


def _batch_id(text: str) -> str:
    """A batch id as typed: anything not a uuid is simply not a batch."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise not_found("settlement batch") from None


def _period_end(text: str) -> date | datetime:
    """A period end as typed; ValueError when it is neither a date nor a date-time."""
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


def _line(batch: dict[str, Any]) -> str:
    total = format_major(batch["total"], batch["currency"])
    status = pad(say(f"status.{batch['status']}"), 8)
    lines = pad(say("settle.lines", count=batch["line_count"]), 14, right=True)
    return (f"{batch['id']}  {status}  {batch['currency']} {total:>14}  {lines}  "
            f"{batch['merchant_name']}")


async def _settle(svc: Services, args: argparse.Namespace,
                  period_end: date | datetime | None) -> int:
    from pos.accounts import four_eyes
    from pos.settlement import batch_status, exporting, runs
    from pos.storage import settlements as store

    if args.action == "run":
        assert period_end is not None
        author = (await four_eyes.settlement_account(svc, args.as_login)
                  if args.as_login else None)
        with (_acting_as(author, "pos settle run") if author is not None
              else contextlib.nullcontext()):
            result = await runs.settle(svc, period_end=period_end,
                                       merchant_id=args.merchant, program_id=args.program,
                                       actor=author.login if author is not None else args.by)
        print(say("settle.run", run=result["run_id"], period_end=result["period_end"],
                  count=len(result["batches"])))
        for batch in result["batches"]:
            print(_line(batch))
    elif args.action == "approve":
        batch_id = _batch_id(args.batch)
        approver = await four_eyes.settlement_account(svc, args.as_login)
        await four_eyes.check_approver(svc, batch_id, approver)
        with _acting_as(approver, "pos settle approve"):
            batch = await batch_status.move(svc, batch_id, "approve", approver.login)
        print(_line(batch))
    elif args.action == "list":
        for batch in await store.list_batches(svc.pool, status=args.status):
            print(_line(batch))
    elif args.action == "show":
        print(json.dumps(await store.get_batch(svc.pool, _batch_id(args.batch)), indent=2,
                         ensure_ascii=False))
    elif args.action in ("paid", "failed"):
        batch = await batch_status.move(svc, _batch_id(args.batch), args.action, args.by,
                                     note=getattr(args, "reason", None),
                                     reference=getattr(args, "reference", None))
        print(_line(batch))
    else:
        job = await (exporting.prepare_run(svc, args.run, args.format)
                     if args.action == "export-run" else
                     exporting.prepare(svc, _batch_id(args.batch), args.format, args.lang))
        out = Path(args.out or job.filename)
        # Payment files carry account numbers: readable by their owner only.
        with open_private(out) as handle:
            async for chunk in job.chunks():
                handle.write(chunk)
        print(say("settle.exported", path=out, size=job.size, sha256=job.sha256))
    return 0


async def _report(svc: Services, args: argparse.Namespace) -> int:
    from pos.reports import figures

    zone = svc.config.redemption.timezone
    if args.csv:
        data = await figures.report_csv(svc.pool, args.program, args.csv, zone)
        sys.stdout.buffer.write(data)
        return 0
    report = await figures.program_report(svc.pool, args.program, zone)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    cur = report["currency"]

    def money(amount: int) -> str:
        return f"{format_major(amount, cur):>16} {cur}"

    def row(label: str, shown: str) -> str:
        return f"    {pad(label, 24)} {shown}"

    value, red = report["value"], report["redemptions"]
    print(f"{report['program']['name']}  ({report['program']['id']})")
    print(f"  {pad(say('report.issued'), 17)} {report['vouchers']['issued']:>16}")
    print(f"  {pad(say('report.unused'), 17)} {report['vouchers']['unused']:>16}")
    for key in ("issued", "redeemed", "voided", "expired", "remaining", "unaccounted"):
        print(f"  {pad(say('report.value.' + key), 17)} {money(value[key])}")
    print(f"  {pad(say('report.redemptions'), 17)} {red['count']:>16}   "
          f"{say('report.voided', count=red['voided'])}")
    print(f"  {pad(say('report.average_basket'), 17)} {money(red['average_basket'])}")
    print(f"  {pad(say('report.average_covered'), 17)} {money(red['average_covered'])}")
    print(f"  {say('report.by_category')}")
    for c in report["by_category"]:
        print(row(category_name(c["category"]), money(c["amount"])))
    print(f"  {say('report.by_merchant')}")
    for m in report["by_merchant"]:
        print(row(m["merchant_name"], f"{money(m['redeemed'])}  ({m['redemptions']})"))
    print(f"  {say('report.by_month')}")
    for m in report["by_month"]:
        print(row(m["month"], f"{money(m['redeemed'])}  ({m['redemptions']})"))
    return 0
