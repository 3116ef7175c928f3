"""Who a staff route serves: a role, and how the caller proved it."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pos.roles import Role

# "command_line": a `pos` command that names the account acting (`--as LOGIN`); the
# person at the machine already holds the database, so naming is accountability, not proof.
Via = Literal["token", "report_session", "session", "personal_token", "command_line"]


@dataclasses.dataclass(frozen=True)
class Staff:
    """A signed-in person (a named account) or the bootstrap admin token."""

    role: Role
    via: Via
    login: str = "admin-token"
    account_id: str | None = None
    # Only for a console session: the value its unsafe requests must send back.
    csrf_token: str | None = None
    must_change_password: bool = False

    @property
    def is_person(self) -> bool:
        """A named account, as opposed to the bootstrap token (automation, set-up)."""
        return self.account_id is not None


BOOTSTRAP = Staff(role="admin", via="token")
REPORT_SESSION = Staff(role="admin", via="report_session")
