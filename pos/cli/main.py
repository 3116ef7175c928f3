"""The `pos` command: run the service, migrate, verify the ledger, manage keys, plugins."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pos import logs
from pos.cli import serve, settlement_commands, user_commands, voucher_commands
from pos.cli.help_texts import speak_terminal_language
from pos.cli.texts import CLI_TEXTS, check_name, error, language, pad, problem_line, say
from pos.config import Config, load_config
from pos.db.actor import Actor, acting
from pos.errors import PosError, Problem
from pos.service.startup import running_plugins, running_services
from pos.signing import keys
from pos.storage.audit_log import verify_chain
from pos.storage.ledger import verify_ledger
from pos.storage.offline_sales import verify_offline
from pos.storage.reconciliation import verify_settlements

log = logging.getLogger("pos")


async def _with_connection(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    """Run `work` on one connection of the started service (schema migrated on the way)."""
    async with running_services(config, pool_size=(1, 1)) as svc, \
            svc.pool.acquire() as conn:
        return await work(conn)


async def _migrate(conn: Any) -> int:
    print(say("migrate.done"))
    return 0


def _mark(ok: bool) -> str:
    """`ok` or `FAIL` (正常 or 失败), padded so that the checks' names line up."""
    return pad(say("verify.ok") if ok else say("verify.fail"), 4)


async def _verify(conn: Any) -> int:
    failed = False
    for check in [*await verify_ledger(conn), *await verify_settlements(conn),
                  *await verify_offline(conn)]:
        print(say("verify.check", mark=_mark(check.ok), name=check_name(check.name),
                  count=check.checked))
        for problem in check.problems:
            print(f"       {problem.render(language())}")
        failed = failed or not check.ok
    checked, broken = await verify_chain(conn)
    print(say("verify.check", mark=_mark(broken is None), name=say("verify.audit_chain"),
              count=checked))
    if broken is not None:
        print(say("verify.breaks_at", seq=broken.seq, reason=broken.reason))
    return 1 if failed or broken is not None else 0


def _keys_command(config: Config, action: str, kid: str | None) -> Callable[[Any], Awaitable[int]]:
    async def work(conn: Any) -> int:
        if action == "rotate":
            print(say("keys.rotated", kid=await keys.rotate(conn, config.data_dir)))
        elif action in ("retire", "revoke"):
            assert kid is not None
            await keys.set_status(conn, kid, "retired" if action == "retire" else "revoked")
            print(say(f"keys.{action}d", kid=kid))
        for k in await keys.list_keys(conn):
            status = (say(f"key_status.{k.status}") if f"key_status.{k.status}" in CLI_TEXTS
                      else k.status)
            print(say("keys.line", kid=k.kid, status=pad(status, 8),
                      created=f"{k.created_at:%Y-%m-%d %H:%M}"))
        return 0
    return work


async def _plugins(config: Config) -> int:
    async with running_plugins(config) as plugins:
        print(json.dumps(plugins.describe(), indent=2, default=str))
    return 0


def _worker_count(text: str) -> int:
    """`--workers N`: 0 (one per CPU core) or more; a negative count is a mistake, not one."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(say("run.workers_not_whole", value=repr(text))) from None
    if count < 0:
        raise argparse.ArgumentTypeError(say("run.workers_negative", value=repr(text)))
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pos", description=__doc__)
    parser.add_argument("--config", help="configuration file (default: ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the API and the till")
    run.add_argument("--demo", action="store_true", help="load demo data and print it")
    run.add_argument("--workers", type=_worker_count, metavar="N",
                     help="processes serving the port (default: [server] workers, "
                          "0 = one per CPU core)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("verify", help="prove the ledger balances; non-zero exit on a difference")
    key = sub.add_parser("keys", help="list, rotate, retire or revoke signing keys")
    key.add_argument("action", choices=["list", "rotate", "retire", "revoke"])
    key.add_argument("kid", nargs="?")
    sub.add_parser("plugins", help="list loaded plugins, their hooks and settings")
    voucher_commands.add_parsers(sub)  # issue, cards, expire
    settlement_commands.add_parsers(sub)  # settle, report
    user_commands.add_parsers(sub)  # users
    return parser


def main(argv: list[str] | None = None) -> int:
    args = speak_terminal_language(build_parser()).parse_args(argv)
    try:
        config = load_config(args.config)
        # The service logs JSON lines; a command, plain text for the person running it, and
        # only what went wrong: what it did, it says itself, in the terminal's language.
        serving = args.command == "run"
        logs.configure(logging.INFO if serving else logging.WARNING,
                       json_lines=serving and config.server.log_format != "text")
        if args.command == "run":
            return serve.run(config, demo=args.demo, workers=args.workers)
        # Every other command is an administrator at the machine: its changes are logged
        # in the audit log under the operating-system user.
        with acting(Actor(login=f"cli:{getpass.getuser()}", role="admin",
                          action="pos " + " ".join(sys.argv[1:3]), address="local")):
            return _command(config, args)
    except Problem as problem:
        print(problem_line(problem), file=sys.stderr)
        return 1
    except PosError as exc:
        print(say("error", detail=exc.said(language())), file=sys.stderr)
        return 1


def _command(config: Config, args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return asyncio.run(_with_connection(config, _migrate))
    if args.command == "verify":
        return asyncio.run(_with_connection(config, _verify))
    if args.command == "keys":
        if args.action in ("retire", "revoke") and not args.kid:
            print(error("keys.needs_kid", action=args.action), file=sys.stderr)
            return 2
        return asyncio.run(_with_connection(config, _keys_command(config, args.action,
                                                                   args.kid)))
    if args.command == "plugins":
        return asyncio.run(_plugins(config))
    if args.command in voucher_commands.COMMANDS:
        return voucher_commands.run(config, args)
    if args.command in settlement_commands.COMMANDS:
        return settlement_commands.run(config, args)
    if args.command in user_commands.COMMANDS:
        return user_commands.run(config, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
