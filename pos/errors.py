"""Every error the service raises on purpose, and the problem each becomes at the till.

    PosError                      anything this package raises deliberately
    ├── ConfigError               the configuration cannot be used (start-up only)
    ├── StorageError              the database is unreachable or misbehaves
    └── Problem                   a refusal the client sees as RFC 9457 problem+json
        ├── AuthProblem           401/403: unauthorized, forbidden
        ├── InputProblem          4xx: validation_error, not_found, currency_mismatch, ...
        ├── TokenProblem          422/403 token refusals: invalid_token, token_expired, ...
        │                         (never 401, which is only about the caller's credential)
        ├── VoucherProblem        the voucher cannot pay: suspended, revoked, exhausted, ...
        ├── IdempotencyProblem    idempotency_key_required, idempotency_conflict, in progress
        └── PluginProblem         plugin_error: a plugin raised, hung or returned nonsense;
                                  carries the plugin's name

Every problem code is declared once, below, in the catalogue: its HTTP status, its title
and its family. Code raises a problem by the entry's name (`raise VOUCHER_REVOKED("...")`);
the OpenAPI document lists the catalogue. A `Problem` is turned into an HTTP response in
exactly one place, `pos.api.problems`. A problem raised with a `pos.messages.Message` or
`Phrase` instead of a plain sentence is put into the request's language there (zh-CN or
en).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from pos.messages import Message, Phrase, words
from pos.problem_texts import THINGS, texts


class PosError(Exception):
    """Base of every error this package raises on purpose. Raised with a `Phrase`, it is
    said in the reader's language by `said` (and in English by `str`, for the logs)."""

    def said(self, lang: str) -> str:
        first = self.args[0] if self.args else None
        return first.render(lang) if isinstance(first, Phrase) else str(self)


class ConfigError(PosError):
    """The configuration cannot be used."""


class StorageError(PosError):
    """The database is unreachable or answered in a way the service cannot use."""


class Problem(PosError):
    """A refusal with a stable `code`, an HTTP status and a sentence for the cashier."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request refused"

    def __init__(self, code: ErrorCode | str, detail: str | Message | Phrase, *,
                 status: int | None = None, **extra: Any) -> None:
        super().__init__(str(detail))
        entry = code if isinstance(code, ErrorCode) else CATALOGUE.get(code)
        self.code = entry.code if entry is not None else str(code)
        self.detail = str(detail)  # English: what logs and callers without a language see
        self.message = detail if isinstance(detail, Message | Phrase) else None
        self.extra = extra
        if entry is not None:
            self.status = entry.status  # type: ignore[misc]
            self.title = entry.title  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]

    def as_dict(self, detail: str | None = None) -> dict[str, Any]:
        """The problem+json body; `detail` replaces the English sentence (a translation)."""
        body: dict[str, Any] = {
            "type": f"https://pos-vouchers.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail if detail is None else detail,
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
    status = 422
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

    def __init__(self, plugin: str, detail: str | Message | Phrase) -> None:
        super().__init__(PLUGIN_ERROR, detail, plugin=plugin)
        self.plugin = plugin


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    """One entry of the catalogue: a stable machine code, its HTTP status, its title, and
    the family of problem it raises. Calling it makes the problem: `NOT_FOUND("...")`."""

    code: str
    status: int
    title: str
    family: type[Problem] = Problem

    def __call__(self, detail: str | Message | Phrase, **extra: Any) -> Problem:
        return self.family(self, detail, **extra)


CATALOGUE: dict[str, ErrorCode] = {}


def _declare(code: str, status: int, title: str, family: type[Problem]) -> ErrorCode:
    if code in CATALOGUE:
        raise ValueError(f"problem code {code} declared twice")
    entry = ErrorCode(code, status, title, family)
    CATALOGUE[code] = entry
    return entry


# -- the caller's own credential ----------------------------------------------------------
UNAUTHORIZED = _declare("unauthorized", 401, "Not signed in", AuthProblem)
FORBIDDEN = _declare("forbidden", 403, "Not allowed", AuthProblem)

# -- the request itself ---------------------------------------------------------------------
VALIDATION_ERROR = _declare("validation_error", 422, "Invalid request", InputProblem)
UNSUPPORTED_MEDIA_TYPE = _declare("unsupported_media_type", 415, "Wrong kind of content",
                                  InputProblem)
PAYLOAD_TOO_LARGE = _declare("payload_too_large", 413, "Request too large", InputProblem)
NOT_FOUND = _declare("not_found", 404, "Not found", InputProblem)
METHOD_NOT_ALLOWED = _declare("method_not_allowed", 405, "Method not allowed", InputProblem)
HTTP_ERROR = _declare("http_error", 400, "Request refused", InputProblem)
RATE_LIMITED = _declare("rate_limited", 429, "Too many attempts", InputProblem)
INVALID_PAIRING_CODE = _declare("invalid_pairing_code", 400, "Pairing code not accepted",
                                InputProblem)
UNKNOWN_FORMAT = _declare("unknown_format", 404, "Unknown export format", InputProblem)

# -- the voucher's token or code ------------------------------------------------------------
# Never 401: a refused voucher says nothing about the till's own credential, and a till
# that reads 401 as "unpaired" must keep its pairing after a mistyped code.
INVALID_TOKEN = _declare("invalid_token", 422, "Voucher code not accepted", TokenProblem)
TOKEN_EXPIRED = _declare("token_expired", 403, "Voucher expired", TokenProblem)
TOKEN_NOT_YET_VALID = _declare("token_not_yet_valid", 403, "Voucher not valid yet",
                               TokenProblem)

# -- the voucher cannot pay -----------------------------------------------------------------
VOUCHER_SUSPENDED = _declare("voucher_suspended", 403, "Voucher suspended", VoucherProblem)
VOUCHER_REVOKED = _declare("voucher_revoked", 403, "Voucher revoked", VoucherProblem)
VOUCHER_EXHAUSTED = _declare("voucher_exhausted", 409, "Voucher used up", VoucherProblem)
VOUCHER_EXPIRED = _declare("voucher_expired", 409, "Voucher expired", VoucherProblem)
VOUCHER_REPLACED = _declare("voucher_replaced", 410, "Voucher replaced", InputProblem)
REISSUE_REQUIRED = _declare("reissue_required", 409, "Voucher must be reissued",
                            VoucherProblem)
MERCHANT_NOT_ACCEPTED = _declare("merchant_not_accepted", 403, "Shop not in this program",
                                 VoucherProblem)
ALREADY_VOIDED = _declare("already_voided", 409, "Already cancelled", VoucherProblem)
VOID_WINDOW_CLOSED = _declare("void_window_closed", 409, "Too late to cancel", VoucherProblem)

# -- the sale --------------------------------------------------------------------------------
CURRENCY_MISMATCH = _declare("currency_mismatch", 422, "Wrong currency", InputProblem)
NO_ELIGIBLE_LINES = _declare("no_eligible_lines", 422, "Nothing the voucher may pay for",
                             InputProblem)
AMOUNT_EXCEEDS_COVERAGE = _declare("amount_exceeds_coverage", 422, "Amount too high",
                                   InputProblem)
IDENTITY_CHECK_REQUIRED = _declare("identity_check_required", 422, "Identity check needed",
                                   InputProblem)
LIMIT_REACHED = _declare("limit_reached", 422, "Limit reached for now", InputProblem)
CHANNEL_NOT_ALLOWED = _declare("channel_not_allowed", 422, "Payment channel not allowed",
                               InputProblem)
VOUCHER_LISTED_TWICE = _declare("voucher_listed_twice", 422, "Voucher scanned twice",
                                InputProblem)
VOUCHERS_CHANGED = _declare("vouchers_changed", 409, "Vouchers changed meanwhile",
                            VoucherProblem)
PAYMENT_DECLINED = _declare("payment_declined", 402, "Payment declined", InputProblem)
PAYMENT_FAILED = _declare("payment_failed", 502, "Payment failed", Problem)

# -- repeated requests -----------------------------------------------------------------------
IDEMPOTENCY_KEY_REQUIRED = _declare("idempotency_key_required", 400,
                                    "Idempotency-Key needed", IdempotencyProblem)
IDEMPOTENCY_CONFLICT = _declare("idempotency_conflict", 422, "Key used for another request",
                                IdempotencyProblem)
IDEMPOTENCY_IN_PROGRESS = _declare("idempotency_in_progress", 409, "Still being processed",
                                   IdempotencyProblem)

# -- issuing and looking after vouchers ------------------------------------------------------
ALREADY_ISSUED = _declare("already_issued", 409, "Already issued", InputProblem)
ISSUANCE_CONFLICT = _declare("issuance_conflict", 409, "Issuance conflict", InputProblem)
PROGRAM_ENDED = _declare("program_ended", 409, "Program ended", InputProblem)
BATCH_INVALID = _declare("batch_invalid", 422, "List has errors", InputProblem)
BATCH_UNREADABLE = _declare("batch_unreadable", 422, "List cannot be read", InputProblem)
FONT_UNAVAILABLE = _declare("font_unavailable", 503, "No font for cards", Problem)

# -- settlement ------------------------------------------------------------------------------
PERIOD_NOT_OVER = _declare("period_not_over", 422, "Period not over", InputProblem)
SETTLEMENT_CONFLICT = _declare("settlement_conflict", 409, "Settlement conflict", InputProblem)
SETTLEMENT_TIMEOUT = _declare("settlement_timeout", 503, "Settlement took too long",
                              InputProblem)
INVALID_TRANSITION = _declare("invalid_transition", 409, "Not possible in this state",
                              InputProblem)
NOTHING_TO_PAY = _declare("nothing_to_pay", 409, "Nothing to pay", InputProblem)
EXPORT_REFUSED = _declare("export_refused", 409, "Export refused", InputProblem)

# -- named accounts and four eyes -----------------------------------------------------------
SIGN_IN_FAILED = _declare("sign_in_failed", 401, "Sign-in failed", AuthProblem)
SIGN_IN_THROTTLED = _declare("sign_in_throttled", 429, "Too many wrong passwords",
                             InputProblem)
CSRF_FAILED = _declare("csrf_failed", 403, "Not sent by the console page", AuthProblem)
PASSWORD_CHANGE_REQUIRED = _declare("password_change_required", 403, "Password must change",
                                    AuthProblem)
WRONG_PASSWORD = _declare("wrong_password", 422, "Current password not right", InputProblem)
LOGIN_TAKEN = _declare("login_taken", 409, "Login taken", InputProblem)
NOT_AN_ACCOUNT = _declare("not_an_account", 409, "Needs a named account", InputProblem)
SECOND_PERSON_REQUIRED = _declare("second_person_required", 409, "Another person must do this",
                                  InputProblem)
ALREADY_DECIDED = _declare("already_decided", 409, "Already decided", InputProblem)

# -- payment providers' webhooks -------------------------------------------------------------
WEBHOOK_SIGNATURE_INVALID = _declare("webhook_signature_invalid", 401, "Signature not valid",
                                     InputProblem)
WEBHOOK_STALE = _declare("webhook_stale", 400, "Webhook too old", InputProblem)
WEBHOOK_INVALID = _declare("webhook_invalid", 422, "Webhook not understood", InputProblem)
WEBHOOK_REPLAYED = _declare("webhook_replayed", 409, "Webhook already taken", InputProblem)

# -- offline tills (docs/offline.md) ----------------------------------------------------------
OFFLINE_SALE_SIGNATURE_INVALID = _declare(
    "offline_sale_signature_invalid", 422, "Offline sale not signed by this till", InputProblem)
OFFLINE_SALE_UNREADABLE = _declare("offline_sale_unreadable", 422, "Offline sale unreadable",
                                   InputProblem)
OFFLINE_KEY_MISMATCH = _declare("offline_key_mismatch", 422, "Wrong key for this sale",
                                InputProblem)
OFFLINE_KIT_UNKNOWN = _declare("offline_kit_unknown", 422, "Unknown offline kit", InputProblem)
OFFLINE_KIT_EXPIRED = _declare("offline_kit_expired", 422, "Outside the offline kit's life",
                               InputProblem)
OFFLINE_NOT_ALLOWED = _declare("offline_not_allowed", 422, "Not allowed offline", InputProblem)
OFFLINE_VOUCHER_INVALID = _declare("offline_voucher_invalid", 422,
                                   "Voucher not valid for this offline sale", InputProblem)
OFFLINE_LIMIT_EXCEEDED = _declare("offline_limit_exceeded", 422, "Over the offline limits",
                                  InputProblem)
OFFLINE_SALE_NOT_VOIDABLE = _declare("offline_sale_not_voidable", 409,
                                     "Offline sale cannot be cancelled", VoucherProblem)

# -- our side --------------------------------------------------------------------------------
TRY_AGAIN = _declare("try_again", 503, "Busy, try again", Problem)
# PostgreSQL cannot be reached just now (answered with Retry-After; the pool heals itself).
SERVICE_UNAVAILABLE = _declare("service_unavailable", 503, "Database unavailable", Problem)
# Raised as `PluginProblem(plugin, detail)`, which carries the plugin's name.
PLUGIN_ERROR = _declare("plugin_error", 502, "A plugin failed", Problem)
INTERNAL_ERROR = _declare("internal_error", 500, "Something went wrong", Problem)


def unauthorized(detail: str | Phrase = "This device is not signed in. Pair the till again."
                 ) -> Problem:
    return UNAUTHORIZED(detail)


def forbidden(detail: str | Phrase) -> Problem:
    return FORBIDDEN(detail)


def not_found(what: str, name: str = "") -> Problem:
    """Nothing of the kind `what` (one of `THINGS`), or none by `name`, was found."""
    thing = Phrase(THINGS.get(what, texts(what, what)))
    if name:
        return NOT_FOUND(words("没有找到{thing} {name}。", "No {thing} {name} was found.",
                               thing=thing, name=name))
    return NOT_FOUND(words("没有找到该{thing}。", "No {thing} was found.", thing=thing))


def validation_error(detail: str | Message | Phrase, **extra: Any) -> Problem:
    return VALIDATION_ERROR(detail, **extra)
