"""Logs as JSON lines, each carrying the request id of the request it belongs to.

One object per line (`ts`, `level`, `logger`, `msg`, `request_id` when there is one, and
`exc` with the trace for errors), so a log shipper needs no parsing rules. The standard
library's formatter API is enough for this; no third-party logging package is needed.

The request id lives in a context variable set by the request middleware, so every line
logged while a request is handled (by the core, storage or a plugin) carries it, and the
same id is returned to the client in the `X-Request-Id` header and in problem bodies.
Nothing here adds request data to a line: callers log route templates and codes, never
paths, tokens, manual codes, secrets or beneficiary references.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pos_request_id", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs, so a second call replaces only its own."""


def configure(level: int = logging.INFO, *, json_lines: bool = True) -> None:
    """Send the process's logs to stderr, as JSON lines (or plain text for a terminal).

    Like `logging.basicConfig`, it leaves logging alone when someone else set it up (a test
    runner calling `pos.cli.main.main` in process, say)."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _OurHandler)]
    if len(ours) != len(root.handlers):
        return
    for old in ours:
        root.removeHandler(old)
    handler = _OurHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
