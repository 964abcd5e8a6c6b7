from __future__ import annotations

import asyncio
import random
import time

import pytest

from dsbuild.llm.limits import (
    AdaptiveLimiter,
    RateLimiter,
    backoff_delay,
    parse_retry_after,
    pause_from_headers,
)


def test_aimd_halves_once_per_burst_and_regrows_by_one_per_window():
    lim = AdaptiveLimiter(64, cooldown_s=10)
    for _ in range(40):  # a burst of 429s counts once
        lim.on_overload()
    assert lim.limit == 32 and lim.decreases == 1
    for _ in range(32):
        lim.on_success()
    assert 32.9 < lim.limit < 33.1
    for _ in range(10_000):
        lim.on_success()
    assert lim.limit == 64


def test_stray_429s_do_not_shrink_concurrency():
    lim = AdaptiveLimiter(64, cooldown_s=0)
    for i in range(2000):  # 5% of answers are 429s, spread out
        lim.on_overload() if i % 20 == 0 else lim.on_success()
    assert lim.limit == 64 and lim.decreases == 0


def test_a_rate_limit_rejecting_most_requests_shrinks_fast():
    lim = AdaptiveLimiter(64, cooldown_s=0)
    for i in range(200):
        lim.on_overload() if i % 4 else lim.on_success()  # 75% rejected
    assert lim.limit <= 4 and lim.decreases >= 4


def test_aimd_never_below_floor():
    lim = AdaptiveLimiter(4, cooldown_s=0)
    for _ in range(10):
        lim.on_overload()
    assert lim.limit == 1


def test_limiter_blocks_beyond_limit_and_wakes_on_release():
    async def main():
        lim = AdaptiveLimiter(2)
        await lim.acquire()
        await lim.acquire()
        third = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0.01)
        assert not third.done()
        lim.release()
        await asyncio.wait_for(third, 1)
        assert lim.in_flight == 2

    asyncio.run(main())


def test_pause_holds_new_acquires():
    async def main():
        lim = AdaptiveLimiter(8)
        lim.pause(0.15)
        t0 = time.monotonic()
        await lim.acquire()
        return time.monotonic() - t0

    assert asyncio.run(main()) >= 0.14


def test_rate_limiter_spaces_requests():
    async def main():
        rl = RateLimiter(per_minute=600)  # 10/s, bucket of 600 starts full
        rl.tokens = 0
        t0 = time.monotonic()
        for _ in range(3):
            await rl.acquire()
        return time.monotonic() - t0

    assert 0.25 <= asyncio.run(main()) < 1.0


def test_backoff_is_bounded_jittered_and_honours_retry_after():
    rng = random.Random(1)
    delays = [backoff_delay(a, base_s=0.5, cap_s=4, rng=rng) for a in range(1, 12)]
    assert all(0 <= d <= 4 for d in delays) and len(set(delays)) > 5
    assert 2.0 <= backoff_delay(1, retry_after=2.0, rng=rng) <= 2.2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_pause_from_rate_limit_headers():
    assert (
        pause_from_headers(
            {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
        )
        == 360.0
    )
    assert pause_from_headers(
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "120ms"}
    ) == pytest.approx(0.12)
    assert (
        pause_from_headers(
            {"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"}
        )
        is None
    )
