# ruff: noqa: RUF001
"""The embedded PostgreSQL used when no database URL is configured.

`pgserver` ships the server binaries and keeps a list of the processes using a data folder
(`.handle_pids.json`), so the service and a `pos` command run beside it share one server,
which stops when the last of them exits. Two things it does not do, done here:

- a process killed with `kill -9` never leaves that list, so the server would never be
  stopped again; dead processes are dropped from the list before joining it;
- nothing restarts the server when it dies; `pos run` calls `supervise`, which watches the
  postmaster and starts it again (same socket, same URL), so the pool heals by itself;
- it runs `initdb` in the locale of whoever starts it first, and initdb refuses a locale
  the machine lacks: `LANG=zh_CN.UTF-8`, which is how a person picks the commands'
  language, could not make a data folder in a container that has only C. `initdb` is given
  `--locale=C`, so a data folder no longer depends on the terminal that made it either.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pos.errors import StorageError
from pos.messages import words

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}
HANDLES_FILE = ".handle_pids.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop processes that died without saying goodbye from pgserver's list; returns them."""
    path = pgdata / HANDLES_FILE
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    dead = [pid for pid in pids if not _pid_alive(pid)]
    if dead:
        path.write_text(json.dumps([pid for pid in pids if pid not in dead]))
        log.info("embedded PostgreSQL: forgot %d process(es) that died", len(dead))
    return dead


def _initdb_in_the_c_locale() -> None:
    """Have pgserver's `initdb` make every new data folder in the C locale."""
    from pgserver import postgres_server

    initdb = postgres_server.initdb  # type: ignore[attr-defined]
    if getattr(initdb, "pos_c_locale", False):
        return

    def initdb_in_c(args: list[str], *more: Any, **kwargs: Any) -> Any:
        return initdb([*args, "--locale=C"], *more, **kwargs)

    initdb_in_c.pos_c_locale = True  # type: ignore[attr-defined]
    postgres_server.initdb = initdb_in_c  # type: ignore[attr-defined]


def _server(pgdata: Path) -> Any:
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, as in most containers.
            warnings.simplefilter("ignore")
            try:
                import pgserver

                _initdb_in_the_c_locale()
                if pgdata.exists():
                    with pgserver.PostgresServer._lock:  # type: ignore[attr-defined]
                        forget_dead_handles(pgdata)
                server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
            except Exception as exc:  # pgserver raises plain exceptions from subprocesses
                raise StorageError(words("无法启动内置的 PostgreSQL：{reason}",
                                         "could not start the embedded PostgreSQL: {reason}",
                                         reason=exc)) from exc
        _servers[pgdata] = server
        log.info("embedded PostgreSQL running")
    return server


def pgdata_of(data_dir: Path) -> Path:
    return (data_dir / "pg").resolve()


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded server under `data_dir/pg` and return its URL."""
    return str(_server(pgdata_of(data_dir)).get_uri())


def resolve_database_url(configured: str, data_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return configured or embedded_url(data_dir)


def postmaster_pid(data_dir: Path) -> int | None:
    """The running postmaster's pid, read from its pid file (None when it is not running)."""
    try:
        first = (pgdata_of(data_dir) / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first.strip()[:12])
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _restart_if_dead(pgdata: Path) -> bool:
    """One look at the postmaster; start it again if it died. True when it is running."""
    server = _servers.get(pgdata)
    if server is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running():
            return True
        log.warning("embedded PostgreSQL is not running; starting it again")
        try:
            with server._lock:
                server.ensure_postgres_running()
        except Exception as exc:  # the old backends may still hold the shared memory
            log.warning("embedded PostgreSQL did not start yet (%s); retrying",
                        type(exc).__name__)
            return False
    log.info("embedded PostgreSQL is running again")
    return True


@contextlib.contextmanager
def supervise(data_dir: Path, every_seconds: float = 0.5) -> Iterator[None]:
    """While the block runs, restart the embedded server whenever it dies."""
    pgdata = pgdata_of(data_dir)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(every_seconds):
            try:
                _restart_if_dead(pgdata)
            except Exception:  # never let the watcher die: it is the only one
                log.exception("embedded PostgreSQL supervisor failed one check")

    thread = threading.Thread(target=watch, name="pos-pg-supervisor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
