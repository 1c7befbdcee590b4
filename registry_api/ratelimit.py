"""Per-key rate limiting: a token bucket per API key, kept in memory.

One bucket per key in one process: enough for one administration's service (a few
hundred keys). Behind several worker processes each enforces the limit on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Allows ``burst`` requests at once and ``rate_per_second`` sustained, per key."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int | None = None,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = burst
        #: keys are client addresses for public routes: bounded, so many callers cannot grow
        #: the table without end (full buckets go first, then the least recently used)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> int | None:
        """Take one token for ``key``: None if allowed, else the whole seconds to wait."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if self.max_keys is not None and len(self._buckets) >= self.max_keys:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (lock held); if that is not enough, the least
        recently used half."""
        assert self.max_keys is not None
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            by_age = sorted(self._buckets, key=lambda key: self._buckets[key].updated)
            for key in by_age[: max(1, len(by_age) // 2)]:
                del self._buckets[key]
