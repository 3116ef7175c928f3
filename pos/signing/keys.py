# ruff: noqa: RUF001
"""Signing keys: private halves in the data folder, public halves and status in PostgreSQL.

Exactly one key is active (signs new tokens). `rotate` makes a new active key and retires
the old one; a retired key signs nothing but its tokens verify until they expire; a revoked
key's tokens are refused at once. The status lives in the database so every process of the
service, and every till request, sees a revocation immediately.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pos.db.pool import Connection, Executor
from pos.errors import ConfigError, validation_error
from pos.messages import words
from pos.storage import signing_keys as store
from pos.storage.signing_keys import KeyInfo, active_kid, list_keys

__all__ = ["KeyInfo", "PublicKeyCache", "active_kid", "jwks", "list_keys", "rotate", "set_status"]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_folder(data_dir: Path) -> Path:
    folder = data_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def write_secret_file(path: Path, content: bytes) -> None:
    """Write a file only the service's user can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def load_private_key(data_dir: Path, kid: str) -> Ed25519PrivateKey:
    path = key_folder(data_dir) / f"{kid}.pem"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"the private key {kid} is not in the data folder") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the key file {path.name} is not an Ed25519 key")
    return key


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64url(text))


async def rotate(conn: Connection, data_dir: Path) -> str:
    """Make a new active key; the previous active key becomes retired."""
    private = Ed25519PrivateKey.generate()
    kid = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret_file(key_folder(data_dir) / f"{kid}.pem", pem)
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    await store.make_active(conn, kid, _b64url(public))
    return kid


async def set_status(conn: Connection, kid: str, status: str) -> None:
    """Retire or revoke a key. Revoking is final; retiring a revoked key changes nothing."""
    if status not in ("retired", "revoked"):
        raise validation_error(words("密钥只能停用（retired）或吊销（revoked），"
                                     "不能设为 {status}。",
                                     "A key can be retired or revoked, not {status}.",
                                     status=repr(status)))
    await store.set_status(conn, kid, status)


def jwks(keys: list[KeyInfo]) -> dict[str, Any]:
    """The JWKS document (RFC 7517, OKP keys per RFC 8037) of keys that still verify."""
    return {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": k.public_key, "kid": k.kid,
             "alg": "EdDSA", "use": "sig"}
            for k in keys if k.status != "revoked"
        ]
    }


class PublicKeyCache:
    """Public keys by kid for the token verifier. A kid not yet known is looked up once;
    a kid the database does not have is remembered as unknown for a few seconds, so a flood
    of made-up kids cannot hammer the database."""

    _UNKNOWN_SECONDS = 5.0

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._unknown: dict[str, float] = {}

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    async def load_all(self, pool: Executor) -> None:
        found = await store.public_keys(pool)
        self._keys.update({kid: public_key_from_text(text) for kid, text in found.items()})

    async def look_up(self, pool: Executor, kid: str) -> None:
        now = time.monotonic()
        if kid in self._keys or self._unknown.get(kid, 0.0) > now or len(kid) > 64:
            return
        text = await store.public_key(pool, kid)
        if text is None:
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[kid] = now + self._UNKNOWN_SECONDS
        else:
            self._keys[kid] = public_key_from_text(text)
