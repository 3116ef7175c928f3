"""The one place where errors become HTTP responses: RFC 9457 problem+json bodies, their
`detail` in the request's language (`Accept-Language`: zh-CN, the default, or en; see
`pos.messages`)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from pos import logs
from pos.api import console_routes, field_errors
from pos.db import availability
from pos.errors import (
    HTTP_ERROR,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    SERVICE_UNAVAILABLE,
    ErrorCode,
    Problem,
    validation_error,
)
from pos.messages import (
    VOUCHER_N,
    Message,
    Phrase,
    language,
    msg,
    pick,
    problem_text,
    render,
    words,
)

log = logging.getLogger(__name__)


class _AnsweredBodyErrors(logging.Filter):
    """Requests aiohttp itself refuses, answered 400 before the app runs (a request line
    too long, a broken chunk, a path that is not UTF-8: `HttpProcessingError`), and a body
    that does not decode as its Content-Encoding says, answered 400 below
    (`RequestPayloadError`), after which aiohttp drains what is left of it and meets the
    same error: aiohttp logs each as an error with its traces. Each is a client's mistake,
    already answered: one warning line, no trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        raised = record.exc_info[1] if record.exc_info else None
        if isinstance(raised, web.RequestPayloadError):
            said: tuple[str, tuple[str, ...]] = (
                "a request body that does not decode: %s",
                (type(raised.__cause__ or raised).__name__,))
        elif isinstance(raised, HttpProcessingError):
            said = "a malformed request refused: %s", (type(raised).__name__,)
        else:
            return True
        record.msg, record.args = said
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_answered_body_errors() -> None:
    """Installs `_AnsweredBodyErrors` on aiohttp's server log (once per process)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _AnsweredBodyErrors) for f in server_log.filters):
        server_log.addFilter(_AnsweredBodyErrors())

PROBLEM_TYPE = "application/problem+json"
# The problem's code, kept on the response for the request metrics.
PROBLEM_CODE = web.ResponseKey("pos_problem_code", str)
_RETRY_AFTER = {429: {"Retry-After": "60"},
                503: {"Retry-After": str(availability.RETRY_AFTER_SECONDS)}}

_HTTP_CODES: dict[int, tuple[ErrorCode, str | Message]] = {
    404: (NOT_FOUND, msg("not_found.address")),
    405: (METHOD_NOT_ALLOWED, "This address does not accept that kind of request."),
    413: (PAYLOAD_TOO_LARGE, "The request is too large."),
}


def problem_response(problem: Problem, lang: str = "en") -> web.Response:
    headers = dict(_RETRY_AFTER.get(problem.status) or {})
    detail = problem_text(problem.code, problem.message, problem.detail, lang)
    position = (problem.extra.get("voucher") or {}).get("position")
    if position and detail != problem.detail:
        # A sale with several vouchers: say which one, in the sentence's language too.
        detail = render(pick(VOUCHER_N, lang), {"n": position}, lang) + detail
    body = _in_language(problem.as_dict(detail), lang)
    rid = logs.request_id.get()
    if rid is not None:
        body["request_id"] = rid  # what the cashier reads out to support, found in the logs
    response = web.Response(
        status=problem.status, text=json.dumps(body, ensure_ascii=False),
        content_type=PROBLEM_TYPE, headers={**headers, "Content-Language": lang},
    )
    response[PROBLEM_CODE] = problem.code  # for the metrics of the request middleware
    return response


def _in_language(value: Any, lang: str) -> Any:
    """A problem's fields with any words in them (a list's row problems, say) said in
    `lang`."""
    if isinstance(value, Phrase | Message):
        return value.render(lang)
    if isinstance(value, dict):
        return {key: _in_language(item, lang) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_in_language(item, lang) for item in value]
    return value


def database_unavailable() -> Problem:
    return SERVICE_UNAVAILABLE(
        "The service cannot reach its database just now. Try again in a few seconds: a "
        "repeated request is never charged twice.")


def from_validation_error(exc: ValidationError) -> Problem:
    """The first error, said in the reader's language (`pos.api.field_errors`); every error
    is listed in `errors` for programs (its field's path and pydantic's English)."""
    found = exc.errors(include_url=False, include_input=False)
    errors = [{"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
              for err in found]
    if any(err["type"] == "json_invalid" for err in found):
        return validation_error(msg("validation_error.json"), errors=errors)
    if not found:
        return validation_error(msg("validation_error.any", message="invalid"), errors=errors)
    what = field_errors.error_phrase(found[0])
    where = field_errors.field_phrase(found[0]["loc"])
    if where is None:  # the body as a whole: a check across its fields
        return validation_error(msg("validation_error.any", message=what), errors=errors)
    return validation_error(msg("validation_error.field", field=where, message=what),
                            errors=errors)


def _route(request: web.Request) -> str:
    """The route's template for logs, never the path itself: paths can carry a voucher's
    manual code (the holder page) or other ids that do not belong in logs."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Any
) -> web.StreamResponse:
    closing = False
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Problem as raised:
        if raised.status >= 500:
            log.warning("%s %s refused: %s", request.method, _route(request), raised.code)
        problem = raised
    except ValidationError as exc:
        problem = from_validation_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        known = _HTTP_CODES.get(exc.status)
        # aiohttp's own refusals of a malformed request keep their status.
        problem = known[0](known[1]) if known is not None \
            else Problem(HTTP_ERROR, exc.reason, status=exc.status)
    except web.RequestPayloadError:
        # A body aiohttp cannot read, such as one that does not decode as its
        # Content-Encoding says: the client's mistake, and nothing was done with it. The
        # connection cannot carry another request (aiohttp closes it), so say so.
        problem = HTTP_ERROR(words(
            "请求正文无法按其 Content-Encoding 所说的方式读取。",
            "The request's body cannot be read as its Content-Encoding says it was sent."))
        closing = True
    except Exception as exc:
        if availability.is_database_away(exc):
            # An outage, not a bug: one line, no trace; the pool heals when it comes back.
            log.warning("%s %s: database unavailable (%s)", request.method, _route(request),
                        type(exc).__name__)
            problem = database_unavailable()
        else:
            # A bug: logged with its trace here, never shown to the client.
            log.exception("unhandled error on %s %s", request.method, _route(request))
            problem = INTERNAL_ERROR(msg("internal_error"))
    if console_routes.wants_console_page(request):
        # A person at the console reads a page in the console's language, not JSON.
        said = problem_text(problem.code, problem.message, problem.detail,
                            console_routes.language(request))
        refused = console_routes.problem_page(request, problem.status, said)
        refused.headers.update(_RETRY_AFTER.get(problem.status) or {})
        refused[PROBLEM_CODE] = problem.code
    else:
        # Read only for a refusal: an answered request never needs its language here.
        refused = problem_response(problem, language(request.headers.get("Accept-Language")))
    if closing:
        refused.force_close()
    return refused
