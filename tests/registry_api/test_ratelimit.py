"""The token bucket's bound on how many keys it tracks (public routes key by address)."""

from __future__ import annotations

from registry_api.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bounded_limiter_forgets_refilled_buckets_first() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_second=1.0, burst=1, clock=clock, max_keys=3)
    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None
    clock.now = 10.0  # a and b have refilled
    assert limiter.acquire("c") is None
    assert limiter.acquire("c") == 1  # c is limited, and stays so
    assert limiter.acquire("d") is None  # the table was full: a and b went, c stayed
    assert limiter.acquire("c") == 1
    assert len(limiter._buckets) <= 3


def test_a_bounded_limiter_never_holds_more_keys_than_its_bound() -> None:
    limiter = TokenBucketLimiter(rate_per_second=0.001, burst=1, max_keys=100)
    for address in range(10_000):
        limiter.acquire(f"10.0.{address // 256}.{address % 256}")
        assert len(limiter._buckets) <= 100
