"""The `pos issue`, `pos cards` and `pos expire` commands.

`pos issue --program ID list.csv` checks every row, issues the batch once (a re-run finds
the batch and issues nothing), shows a progress bar, and writes the list of vouchers with
their codes, tokens and holder links (and with `--cards`, the printable sheets) into an
output folder it names at the end. Those files hold bearer credentials, so they are
readable by their owner only. What they print is in the terminal's language
(`pos.cli.texts`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import shutil
import sys
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs

from pos.cli.texts import error, language, problem_line, say
from pos.config import Config
from pos.errors import Problem
from pos.private_files import open_private
from pos.service.services import Services
from pos.service.startup import running_services
from pos.vouchers.beneficiary_list import Format
from pos.vouchers.fresh_list import FreshList, csv_text

if TYPE_CHECKING:
    from pos.vouchers.issuance import IssuanceResult

COMMANDS = ("issue", "cards", "expire")


def add_parsers(sub: Any) -> None:
    issue = sub.add_parser("issue", help="issue vouchers to a beneficiary list (CSV or JSON)")
    issue.add_argument("--program", required=True, help="the program's id")
    issue.add_argument("--batch", help="a batch id (UUID); default: derived from the list")
    issue.add_argument("--out", help="output folder (default: ./issuance-<batch id>)")
    issue.add_argument("--cards", action="store_true", help="also write cards.pdf")
    issue.add_argument("--check", action="store_true",
                       help="only check the list and report bad rows; issue nothing")
    issue.add_argument("list", help="beneficiary list: .csv (ref,holder_ref,note) or .json")
    cards = sub.add_parser("cards", help="print a batch's cards as A4 PDF sheets")
    cards.add_argument("--issuance", required=True, help="the batch's id")
    cards.add_argument("--from-line", type=int, default=1, help="first list line to print")
    cards.add_argument("--count", type=int, default=0, help="cards to print (default all)")
    cards.add_argument("out", help="the PDF file to write")
    sub.add_parser("expire", help="expire value left after its end date into the ledger")


def run(config: Config, args: argparse.Namespace) -> int:
    work: dict[str, Callable[[Services], Awaitable[int]]] = {
        "issue": lambda svc: _issue(svc, args),
        "cards": lambda svc: _cards(svc, args),
        "expire": _expire,
    }
    if args.command == "issue" and not Path(args.list).is_file():
        print(error("issue.not_a_file", path=args.list), file=sys.stderr)
        return 2
    try:
        return asyncio.run(_with_services(config, work[args.command]))
    except Problem as problem:
        lang = language()
        print(problem_line(problem), file=sys.stderr)
        for row in problem.extra.get("rows", []):
            ref = say("issue.bad_row_ref", ref=row["ref"]) if row.get("ref") else ""
            problems = "; ".join(p.render(lang) for p in row["problems"])
            print(say("issue.bad_row", line=row["line"], ref=ref, problems=problems),
                  file=sys.stderr)
        return 1


def command_services(config: Config) -> AbstractAsyncContextManager[Services]:
    """What the service holds, for a command: the start-up routine with a small pool."""
    return running_services(config, pool_size=(1, 2))


async def _with_services(config: Config, work: Callable[[Services], Awaitable[int]]) -> int:
    async with command_services(config) as svc:
        return await work(svc)


def _private_file(path: Path) -> Any:
    return open_private(path, "w", encoding="utf-8-sig", newline="")


async def write_vouchers_csv(svc: Services, issuance_id: str, path: Path, *,
                             progress: Callable[[int], object] | None = None) -> int:
    """The batch's list of codes, tokens and holder links, readable by its owner only."""
    from pos.vouchers.carried import EXPORT_COLUMNS, export_batch, export_rows

    count = 0
    with _private_file(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        async for chunk in export_batch(svc, issuance_id):
            handle.write(csv_text(export_rows(svc, chunk)))
            count += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return count


async def issue_and_list(
    svc: Services, program_id: str, source: Path, fmt: Format, listing: Callable[[str], Path],
    staging_dir: Path, *, batch_id: str | None = None, check_only: bool = False,
    progress: Callable[[int, int], None] | None = None, chunk_size: int = 1000,
    workers: int | None = None,
) -> tuple[IssuanceResult, Path | None]:
    """Issue the list and write its vouchers' codes, tokens and holder links in the same
    pass: each chunk's tokens are signed (in `workers` processes, default one per spare
    core; 0 signs here) while the database stores it. The list is written
    to a private file in `staging_dir` and moved to `listing(batch id)` only once the batch
    is committed; a batch issued before is listed from the database instead. Returns the
    outcome and where the list was written (None when only checked)."""
    from pos.vouchers import issuance
    from pos.vouchers.carried import EXPORT_COLUMNS

    await asyncio.to_thread(staging_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
    staging = staging_dir / f".issuing-{uuid.uuid4().hex}.csv"
    try:
        with _private_file(staging) as handle:
            csv.writer(handle).writerow(EXPORT_COLUMNS)
            async with FreshList(svc, handle.write, workers=workers) as fresh:
                result = await issuance.issue_batch(
                    svc, program_id, lambda: source.open("rb"), fmt, source="cli",
                    batch_id=batch_id, progress=progress, check_only=check_only,
                    chunk_size=chunk_size, sink=fresh.add)
        if result.checked_only or (check_only and not result.created):
            return result, None
        path = listing(result.issuance_id)
        await asyncio.to_thread(path.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        if result.created:
            await asyncio.to_thread(shutil.move, staging, path)
        else:
            await write_vouchers_csv(svc, result.issuance_id, path)
        return result, path
    finally:
        staging.unlink(missing_ok=True)


async def _issue(svc: Services, args: argparse.Namespace) -> int:
    source = Path(args.list)
    fmt: Format = "json" if source.suffix.lower() == ".json" else "csv"
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=say("issue.progress_unit"),
                       desc=say("issue.progress"), file=sys.stderr)
        bar.update(done)

    try:
        result, listing = await issue_and_list(
            svc, args.program, source, fmt,
            lambda batch: Path(args.out or f"issuance-{batch}") / "vouchers.csv",
            Path(args.out).parent if args.out else Path.cwd(),
            batch_id=args.batch, check_only=args.check, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if result.checked_only:
        print(say("issue.checked", path=source, count=result.count,
                  batch=result.issuance_id))
        return 0
    print(say("issue.issued" if result.created else "issue.issued_before",
              count=result.count, batch=result.issuance_id))
    if listing is None:
        return 0
    print(say("issue.wrote_list", path=listing))
    if args.cards:
        sheets = listing.parent / "cards.pdf"
        printed = await write_cards(svc, result.issuance_id, sheets)
        print(say("issue.wrote_cards", path=sheets, count=printed))
    return 0


async def write_cards(svc: Services, issuance_id: str, out: Path, *, first: int = 1,
                      count: int = 0) -> int:
    """Print `count` cards (0: all) of the batch from list line `first` as A4 sheets."""
    from pos.printing import pdf_sheets
    from pos.printing.fonts import find_cjk_font
    from pos.vouchers.carried import batch_faces

    font = find_cjk_font(svc.config.vouchers.font_path)
    program, faces = await batch_faces(svc, issuance_id, first=first, count=count or None)
    with tqdm(total=len(faces), unit=say("issue.wrote_cards_unit"), desc=say("cards.progress"),
              file=sys.stderr) as bar:
        return await asyncio.to_thread(pdf_sheets.render_sheets, faces, font, out,
                                       title=program.name, progress=bar.update)


async def _cards(svc: Services, args: argparse.Namespace) -> int:
    import uuid

    try:
        issuance_id = str(uuid.UUID(args.issuance))
    except ValueError:
        print(error("cards.needs_batch"), file=sys.stderr)
        return 2
    out = Path(args.out)
    printed = await write_cards(svc, issuance_id, out, first=args.from_line, count=args.count)
    print(say("issue.wrote_cards", path=out, count=printed))
    return 0


async def _expire(svc: Services) -> int:
    from pos.money import format_major
    from pos.vouchers import lifecycle

    async with svc.pool.acquire() as conn:
        report = await lifecycle.expire(conn)
    amounts = ", ".join(f"{format_major(a, c)} {c}" for c, a in sorted(report.amounts.items()))
    print(say("expire.expired", amounts=amounts or say("expire.nothing"),
              credits=report.credits, vouchers=report.vouchers))
    print(say("expire.ended", count=report.vouchers_ended))
    return 0
