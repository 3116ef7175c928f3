"""A small in-process rate limiter (token bucket per key) for manual-code lookups.

Per process: behind a load balancer each process allows the configured rate, which bounds
guessing well enough for 60-bit codes; a shared limit would go in PostgreSQL.

It counts guesses, not re-reads: a key may `remember` an item it was right about (a till,
a manual code it found), and for a while that item passes `allow` without spending a
token, so re-quoting a basket under a code already found never locks the till. Wrong
items spend as before.
"""

from __future__ import annotations

import time


class RateLimiter:
    def __init__(self, per_minute: int, *, max_keys: int = 100_000,
                 remember_seconds: float = 600.0) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.remember_seconds = remember_seconds
        self._buckets: dict[str, tuple[float, float]] = {}
        self._known: dict[tuple[str, bytes], float] = {}  # (key, item) -> forgotten at

    def remember(self, key: str, item: bytes) -> None:
        """`key` was right about `item`: asking about it again is not a guess."""
        now = time.monotonic()
        if len(self._known) >= self.max_keys:
            self._known = {k: until for k, until in self._known.items() if until > now}
            if len(self._known) >= self.max_keys:
                self._known.clear()
        self._known[(key, item)] = now + self.remember_seconds

    def allow(self, key: str, item: bytes | None = None) -> bool:
        """Whether `key` may try now; spends a token unless `item` is one it was right
        about lately."""
        now = time.monotonic()
        if item is not None and self._known.get((key, item), 0.0) > now:
            return True
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # crude bound on memory; a fresh start only helps callers
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
