"""Roles of named accounts, and which roles each kind of admin route admits.

    admin     accounts and everything else
    officer   programs, merchants, tills, issuance, vouchers
    finance   settlement runs, approval, payment files
    auditor   reads only: reports, history, the audit log, verification

Every role may read (the `staff` kind). The bootstrap admin token acts as `admin`.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["admin", "officer", "finance", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

# A route's `auth=` kind -> the roles it lets in.
StaffKind = Literal["admin", "officer", "finance", "staff"]
ADMITS: dict[StaffKind, frozenset[Role]] = {
    "admin": frozenset({"admin"}),
    "officer": frozenset({"admin", "officer"}),
    "finance": frozenset({"admin", "finance"}),
    "staff": frozenset(ROLES),
}

# What a refusal tells the caller the route needs, in words (zh-CN and en).
NEEDS: dict[StaffKind, dict[str, str]] = {
    "admin": {"zh-CN": "管理员", "en": "an administrator"},
    "officer": {"zh-CN": "项目专员或管理员", "en": "a program officer or an administrator"},
    "finance": {"zh-CN": "财务或管理员", "en": "finance staff or an administrator"},
    "staff": {"zh-CN": "已登录的账号", "en": "a signed-in account"},
}
