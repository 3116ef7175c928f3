"""Time-ordered ids (RFC 9562 UUID version 7) for rows the service creates.

The first 48 bits are the Unix time in milliseconds, the rest random, so new keys land at
the right-hand edge of their B-tree index instead of on a random page (a random v4 key
dirties a different index page on every insert). SQL makes the same kind with
`pos_uuid7()` (migration 0600).
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    # version 7 in bits 48-51, variant 0b10 in bits 64-65
    value = value & ~(0xF << 76) | (0x7 << 76)
    value = value & ~(0x3 << 62) | (0x2 << 62)
    return uuid.UUID(int=value)
