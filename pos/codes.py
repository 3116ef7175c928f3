"""Manual voucher codes: typed by a cashier when the camera cannot read the QR.

Twelve symbols from Crockford's base-32 alphabet (no I, L, O, U, so nothing reads as
another symbol) plus a Luhn mod-32 check symbol, which catches every single mistyped symbol
and most swapped neighbours before the database is asked. A code is derived from the
voucher id and its token generation with a secret of the service, so the same card can be
printed again, while the database keeps only a hash of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 12
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# What people type for the symbols that are left out.
_READS_AS = {"O": "0", "I": "1", "L": "1", "U": "V"}


# Luhn's doubled addend of each symbol value (2v folded into base 32), for `check_symbol`.
_DOUBLED = bytes((2 * v) // 32 + (2 * v) % 32 if v < 32 else 0 for v in range(256))
_VALUES = bytes.maketrans(ALPHABET.encode(), bytes(range(32)))
# Standard base 32 (RFC 4648) to this alphabet, symbol for symbol.
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def check_symbol(body: str) -> str:
    """Luhn mod N (N = 32) over the body: from the right, every other symbol's value
    doubled (and folded), the rest as they are."""
    values = body.encode().translate(_VALUES)[::-1]
    total = sum(values[0::2].translate(_DOUBLED)) + sum(values[1::2])
    return ALPHABET[-total % 32]


def derive_body(secret: bytes, voucher_id: str, generation: int) -> str:
    """The voucher's current code without its check symbol: what `code_hash` is taken of."""
    digest = hmac.digest(secret, f"{voucher_id}:{generation}".encode(), "sha256")
    # The body is the digest's first 60 bits, 5 bits a symbol: the first 12 symbols of its
    # base-32 spelling (RFC 4648 encodes the most significant bits first), re-lettered.
    return base64.b32encode(digest[:10])[:BODY_LENGTH].translate(_FROM_BASE32).decode("ascii")


# Two symbols for every 10-bit value: a body's 60 bits spelled in six look-ups.
_PAIRS = [ALPHABET[v >> 5] + ALPHABET[v & 31] for v in range(1024)]


def derive_bodies(secret: bytes, voucher_ids: Iterable[str], generation: int) -> list[str]:
    """`derive_body` of many vouchers of one generation, as a batch issuance needs them:
    the same bodies (a test holds them equal) at half the cost, the HMAC key prepared once
    and the 60 bits spelled from a table rather than through `base64.b32encode`."""
    keyed = hmac.new(secret, digestmod=hashlib.sha256)
    pairs = _PAIRS
    bodies = []
    for voucher_id in voucher_ids:
        mac = keyed.copy()
        mac.update(f"{voucher_id}:{generation}".encode())
        bits = int.from_bytes(mac.digest()[:8], "big") >> 4
        bodies.append(pairs[bits >> 50] + pairs[bits >> 40 & 1023] + pairs[bits >> 30 & 1023]
                      + pairs[bits >> 20 & 1023] + pairs[bits >> 10 & 1023] + pairs[bits & 1023])
    return bodies


def derive_code(secret: bytes, voucher_id: str, generation: int) -> str:
    """The voucher's current code, formatted for a card: XXXX-XXXX-XXXX-C."""
    return format_code(derive_body(secret, voucher_id, generation))


def format_code(body: str) -> str:
    """A body with its check symbol, as printed: XXXX-XXXX-XXXX-C."""
    return f"{body[:4]}-{body[4:8]}-{body[8:]}-{check_symbol(body)}"


def typed_symbols(typed: str) -> str:
    """What was typed as this alphabet's symbols: upper case, without spaces and dashes, O
    read as 0 (and so on). The full-width forms a Chinese input method types in full-width
    mode are the same symbols (NFKC)."""
    folded = unicodedata.normalize("NFKC", typed).upper()
    return "".join(_READS_AS.get(ch, ch) for ch in folded if ch not in " -_")


def normalise(typed: str) -> str | None:
    """The code's body if `typed` is a well-formed code with a right check symbol, else None."""
    cleaned = typed_symbols(typed)
    if len(cleaned) != BODY_LENGTH + 1 or any(ch not in _VALUE for ch in cleaned):
        return None
    body, check = cleaned[:-1], cleaned[-1]
    return body if check_symbol(body) == check else None


def code_hash(body: str) -> bytes:
    """What the database stores and looks up: SHA-256 of the normalised body."""
    return hashlib.sha256(body.encode()).digest()
