"""Pairing codes: what an administrator reads out (or shows) to pair a tablet with a till.

Eight symbols of Crockford's base-32 alphabet (40 bits), shown as XXXX-XXXX. That is short
enough to type on a tablet, and enough because a code lives ten minutes, works once, and the
exchange is rate-limited per address. The database keeps only a hash.
"""

from __future__ import annotations

import hashlib
import secrets

from pos.codes import ALPHABET, typed_symbols

CODE_LENGTH = 8
TTL_SECONDS = 600


def new_code() -> str:
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{symbols[:4]}-{symbols[4:]}"


def normalise(typed: str) -> str | None:
    """The code's symbols if `typed` could be a pairing code, else None."""
    cleaned = typed_symbols(typed)  # read as voucher codes are
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(symbols: str) -> bytes:
    return hashlib.sha256(b"pairing:" + symbols.encode()).digest()
