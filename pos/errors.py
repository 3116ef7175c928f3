"""Every error the service raises on purpose, and the problem each becomes at the till.

    PosError                      anything this package raises deliberately
    ├── ConfigError               the configuration cannot be used (start-up only)
    ├── StorageError              the database is unreachable or misbehaves
    └── Problem                   a refusal the client sees as RFC 9457 problem+json
        ├── AuthProblem           401/403: unauthorized, forbidden
        ├── InputProblem          4xx: validation_error, not_found, currency_mismatch, ...
        ├── TokenProblem          401-ish token refusals: invalid_token, token_expired, ...
        ├── VoucherProblem        the voucher cannot pay: suspended, revoked, exhausted, ...
        ├── IdempotencyProblem    idempotency_key_required, idempotency_conflict, in progress
        └── PluginProblem         plugin_error: a plugin raised, hung or returned nonsense;
                                  carries the plugin's name

A `Problem` is turned into an HTTP response in exactly one place, `pos.api.problems`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PosError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(PosError):
    """The configuration cannot be used."""


class StorageError(PosError):
    """The database is unreachable or answered in a way the service cannot use."""


class Problem(PosError):
    """A refusal with a stable `code`, an HTTP status and a sentence for the cashier."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request refused"

    def __init__(self, code: str, detail: str, *, status: int | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra
        if status is not None:
            self.status = status  # type: ignore[misc]

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://pos-vouchers.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class AuthProblem(Problem):
    status = 401
    title = "Not allowed"


class InputProblem(Problem):
    status = 400
    title = "Invalid request"


class TokenProblem(Problem):
    status = 401
    title = "Voucher code not accepted"


class VoucherProblem(Problem):
    status = 409
    title = "Voucher cannot pay"


class IdempotencyProblem(Problem):
    status = 409
    title = "Repeated request"


class PluginProblem(Problem):
    status = 502
    title = "A plugin failed"

    def __init__(self, plugin: str, detail: str) -> None:
        super().__init__("plugin_error", detail, plugin=plugin)
        self.plugin = plugin


def unauthorized(detail: str = "This device is not signed in. Pair the till again.") -> Problem:
    return AuthProblem("unauthorized", detail)


def forbidden(detail: str) -> Problem:
    return AuthProblem("forbidden", detail, status=403)


def not_found(what: str) -> Problem:
    return InputProblem("not_found", f"No {what} was found.", status=404)


def validation_error(detail: str, **extra: Any) -> Problem:
    return InputProblem("validation_error", detail, status=422, **extra)
