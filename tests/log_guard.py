"""A pytest plugin that reads every log line the suite makes and fails the run when one
carries a voucher token, a manual code, a till secret, the admin token or a beneficiary
reference the tests use (DESIGN.md invariant 7).

It sees the records of the in-process app (the root logger is opened to INFO for it) and
the log files of the services the tests start as processes (`watch_file`). aiohttp's own
access log of the *test* server is left out: the service runs with that log off and writes
route templates instead (`pos.access`)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN

PATTERNS = {
    "voucher token": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}"),
    "manual code": re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b"),
    "till secret": re.compile(r"\btill_[\w-]{30,}"),
    "generated admin token": re.compile(r"\badm_[\w-]{30,}"),
    "admin token of the tests": re.compile(re.escape(ADMIN_TOKEN)),
    "beneficiary reference": re.compile(r"\b(?:ben|child|volunteer|holder)-[0-9a-f]{4,}\b"),
}
IGNORED_LOGGERS = ("aiohttp.access",)

_findings: list[str] = []
_files: list[Path] = []


def scan(text: str, where: str) -> None:
    for name, pattern in PATTERNS.items():
        found = pattern.search(text)
        if found is not None:
            start = max(0, found.start() - 80)
            _findings.append(f"{where}: {name}: ...{text[start:found.end() + 20]!r}")


def watch_file(path: Path) -> None:
    """A service process's log, scanned at the end of the run."""
    _files.append(path)


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(IGNORED_LOGGERS):
            return
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        scan(text, f"log {record.name}")


_handler = _Collector(level=logging.INFO)


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_handler)
    for path in _files:
        if path.exists():
            scan(path.read_text(errors="replace"), f"service log {path.name}")
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # A pytest-xdist worker: its exit status is not the run's, so what it found goes to
        # the controlling process (`pytest_testnodedown`), which fails the run.
        workeroutput["log_guard"] = list(_findings)
        return
    if _findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["log guard: secrets or personal references in log lines:", *_findings[:20]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """A pytest-xdist worker finished: take what its log guard found."""
    _findings.extend(getattr(node, "workeroutput", {}).get("log_guard", []))


def findings() -> list[str]:
    return list(_findings)
