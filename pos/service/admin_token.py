# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""The admin token: from the configuration, or generated once into the data folder.

There is no built-in fallback: a service without a configured token makes a random one,
keeps it in a file only the service's user can read, and prints it when it is made (never
again, and never a token that came from the configuration or the environment). A configured
token shorter than `MIN_LENGTH` is refused at start: it would be guessable.
"""

from __future__ import annotations

import secrets

from pos.config import Config
from pos.errors import ConfigError
from pos.messages import words
from pos.signing.keys import write_secret_file

FILE_NAME = "admin_token"
MIN_LENGTH = 32


def resolve_and_say_if_new(config: Config) -> tuple[str, bool]:
    """The admin token, and whether it was generated just now (then it may be shown once)."""
    if config.admin.token:
        if len(config.admin.token) < MIN_LENGTH:
            raise ConfigError(words(
                "管理员令牌（[admin] token 或 POS_ADMIN_TOKEN）只有 {length} 个字符，至少需要 "
                "{least} 个。留空则会自动生成一个足够强的令牌。",
                "the admin token ([admin] token or POS_ADMIN_TOKEN) is {length} characters "
                "long; it needs at least {least}. Leave it empty to have a strong one "
                "generated.", length=len(config.admin.token), least=MIN_LENGTH))
        return config.admin.token, False
    path = config.data_dir / FILE_NAME
    generated = False
    if not path.exists():
        config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            write_secret_file(path, ("adm_" + secrets.token_urlsafe(32)).encode())
            generated = True
        except FileExistsError:
            pass
    return path.read_text().strip(), generated


def resolve(config: Config) -> str:
    return resolve_and_say_if_new(config)[0]
