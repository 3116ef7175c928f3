"""The service's own Ed25519 key for offline kits, and checking a tablet's signature.

The kit key is not a voucher key: it signs only offline kits, so rotating voucher keys
never strands a till. Its private half is a file in the data folder (every process of the
service shares it); its public half reaches the tablet when it pairs, and the tablet checks
every kit against it before using the kit. A kit is a compact JWS (EdDSA), so any JOSE
library can check one.

Tablets sign their offline sales with a key pair made at pairing (Ed25519 in WebCrypto);
the service keeps the public half with the till.

A kit names the manual codes a till may take offline by a salted, shortened digest of
each (`kit_code_digest`), never the code itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pos.signing.keys import key_folder, write_secret_file

KIT_KID = "offline-kit"
KIT_TYPE = "pos-offline-kit"

_cache: dict[Path, Ed25519PrivateKey] = {}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kit_key(data_dir: Path) -> Ed25519PrivateKey:
    """The kit signing key, made on first use."""
    path = key_folder(data_dir) / f"{KIT_KID}.pem"
    if path in _cache:
        return _cache[path]
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        try:
            write_secret_file(path, pem)
        except FileExistsError:
            pass  # another process made it first; use theirs
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    _cache[path] = key
    return key


def public_text(key: Ed25519PrivateKey) -> str:
    """The raw public key, base64url: what a tablet pins."""
    return b64url(key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def sign_kit(key: Ed25519PrivateKey, kit: dict[str, Any]) -> str:
    return jwt.encode(kit, key, algorithm="EdDSA", headers={"kid": KIT_KID, "typ": KIT_TYPE})


def valid_public_key(text: str) -> bool:
    try:
        raw = unb64url(text)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and len(text) <= 64


def device_signature_ok(public_key: str, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64url, Ed25519) over `message` was made by the tablet
    whose public key is `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(unb64url(public_key)).verify(
            unb64url(signature), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


# A typed code in a kit: the first 40 bits of SHA-256(kit salt || the code's stored hash).
# Forty bits tell apart the codes of one kit (two codes of a full kit of 20,000 share a
# digest about once in five thousand kits; the builder leaves such codes out), yet each
# digest fits about 2^20 of the 2^60 possible codes, so a leaked kit cannot be turned
# back into codes at all; the random salt of each kit makes its digests useless for any
# other kit or against the database's own column (docs/offline.md, typed codes).
KIT_CODE_DIGEST_BYTES = 5
KIT_CODE_SALT_BYTES = 16


def kit_code_digest(salt: bytes, code_hash: bytes) -> str:
    """The kit's digest of one code, from the hash the database keeps (`pos.codes.code_hash`)."""
    return b64url(hashlib.sha256(salt + code_hash).digest()[:KIT_CODE_DIGEST_BYTES])
