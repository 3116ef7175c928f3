"""The admin token: from the configuration, or generated once into the data folder.

There is no built-in fallback: a service without a configured token makes a random one,
keeps it in a file only the service's user can read, and prints it at start-up.
"""

from __future__ import annotations

import secrets

from pos.config import Config
from pos.signing.keys import write_secret_file

FILE_NAME = "admin_token"


def resolve(config: Config) -> str:
    if config.admin.token:
        return config.admin.token
    path = config.data_dir / FILE_NAME
    if not path.exists():
        config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            write_secret_file(path, ("adm_" + secrets.token_urlsafe(32)).encode())
        except FileExistsError:
            pass
    return path.read_text().strip()
