"""`pos users add LOGIN --role ROLE [--token]` and `pos users list`: named accounts from the
command line (the first administrator is made here; the console makes the rest)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from pos.accounts import signing_in
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
    print(f"account {made.account.login} ({made.account.role})")
    print(f"one-time password: {made.one_time_password}")
    print("  (it must be changed at the first sign-in at /admin/)")
    if made.token:
        print(f"personal API token: {made.token}")
        print("  (shown only now; send it as 'Authorization: Bearer <token>')")
    return 0


async def _list(config: Config) -> int:
    async with running_services(config, pool_size=(1, 1)) as svc:
        found = await store.list_accounts(svc.pool)
    for account in found:
        state = "disabled" if account.disabled else "active"
        print(f"{account.login:24} {account.role:8} {state}")
    return 0


def run(config: Config, args: argparse.Namespace) -> int:
    if args.users_action == "add":
        if not (2 <= len(args.login) <= 63):
            print("error: a login has 2 to 63 characters")
            return 2
        return asyncio.run(_add(config, args.login, args.role, args.token))
    return asyncio.run(_list(config))
