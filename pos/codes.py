"""Manual voucher codes: typed by a cashier when the camera cannot read the QR.

Twelve symbols from Crockford's base-32 alphabet (no I, L, O, U, so nothing reads as
another symbol) plus a Luhn mod-32 check symbol, which catches every single mistyped symbol
and most swapped neighbours before the database is asked. A code is derived from the
voucher id and its token generation with a secret of the service, so the same card can be
printed again, while the database keeps only a hash of it.
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 12
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# What people type for the symbols that are left out.
_READS_AS = {"O": "0", "I": "1", "L": "1", "U": "V"}


def check_symbol(body: str) -> str:
    """Luhn mod N (N = 32) over the body."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def derive_code(secret: bytes, voucher_id: str, generation: int) -> str:
    """The voucher's current code, formatted for a card: XXXX-XXXX-XXXX-C."""
    digest = hmac.new(secret, f"{voucher_id}:{generation}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> 4  # 60 bits = 12 symbols
    body = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(BODY_LENGTH)))
    full = body + check_symbol(body)
    return "-".join(full[i:i + 4] for i in range(0, len(full), 4))


def normalise(typed: str) -> str | None:
    """The code's body if `typed` is a well-formed code with a right check symbol, else None."""
    cleaned = "".join(
        _READS_AS.get(ch, ch) for ch in typed.upper() if ch not in " -_"
    )
    if len(cleaned) != BODY_LENGTH + 1 or any(ch not in _VALUE for ch in cleaned):
        return None
    body, check = cleaned[:-1], cleaned[-1]
    return body if check_symbol(body) == check else None


def code_hash(body: str) -> bytes:
    """What the database stores and looks up: SHA-256 of the normalised body."""
    return hashlib.sha256(body.encode()).digest()
