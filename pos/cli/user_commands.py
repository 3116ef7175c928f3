"""`pos users add LOGIN --role ROLE [--token]` and `pos users list`: named accounts from the
command line (the first administrator is made here; the console makes the rest), printed
in the terminal's language (`pos.cli.texts`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from pos.accounts import signing_in
from pos.cli.texts import error, pad, role_name, say
from pos.config import Config
from pos.roles import ROLES, Role
from pos.service.startup import running_services
from pos.storage import accounts as store

COMMANDS = ("users",)


def add_parsers(sub: Any) -> None:
    users = sub.add_parser("users", help="add or list named accounts (console sign-in)")
    action = users.add_subparsers(dest="users_action", required=True)
    add = action.add_parser("add", help="add an account; prints a one-time password")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--token", action="store_true",
                     help="also print a personal API token for scripts")
    action.add_parser("list", help="list accounts and their roles")


async def _add(config: Config, login: str, role: Role, with_token: bool) -> int:
    async with running_services(config, pool_size=(1, 1)) as svc:
        made = await signing_in.add_account(svc.pool, login.strip().lower(), role,
                                            with_token=with_token)
    print(say("users.account", login=made.account.login, role=role_name(made.account.role)))
    print(say("users.password", password=made.one_time_password))
    print(say("users.password_note"))
    if made.token:
        print(say("users.token", token=made.token))
        print(say("users.token_note"))
    return 0


async def _list(config: Config) -> int:
    async with running_services(config, pool_size=(1, 1)) as svc:
        found = await store.list_accounts(svc.pool)
    for account in found:
        state = say("users.disabled" if account.disabled else "users.active")
        print(f"{account.login:24} {pad(role_name(account.role), 8)} {state}")
    return 0


def run(config: Config, args: argparse.Namespace) -> int:
    if args.users_action == "add":
        if not (2 <= len(args.login) <= 63):
            print(error("users.login_length"), file=sys.stderr)
            return 2
        return asyncio.run(_add(config, args.login, args.role, args.token))
    return asyncio.run(_list(config))
