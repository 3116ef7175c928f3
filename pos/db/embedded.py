"""The embedded PostgreSQL used when no database URL is configured.

`pgserver` ships the server binaries and keeps a list of the processes using a data folder,
so the service and a `pos` command run beside it share one server, which stops when the
last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from pos.errors import StorageError

log = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded server under `data_dir/pg` and return its URL."""
    pgdata = (data_dir / "pg").resolve()
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, as in most containers.
            warnings.simplefilter("ignore")
            try:
                import pgserver

                server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
            except Exception as exc:  # pgserver raises plain exceptions from subprocesses
                raise StorageError(f"could not start the embedded PostgreSQL: {exc}") from exc
        _servers[pgdata] = server
        log.info("embedded PostgreSQL running for %s", pgdata)
    return str(server.get_uri())


def resolve_database_url(configured: str, data_dir: Path) -> str:
    """The configured URL, or the embedded server's when none is configured."""
    return configured or embedded_url(data_dir)
