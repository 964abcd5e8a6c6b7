"""Client-side limits on requests: adaptive concurrency, rate limits and retry delays.

`AdaptiveLimiter` keeps at most `limit` requests in flight. It halves the limit when the
server is overloaded and grows it back by one per `limit` successes (AIMD, as TCP does),
never above the configured cap. "Overloaded" means a real share of recent answers were 429s
(at least `overload_share` of the last `window` outcomes), at most once per cooldown: a
stray 429 is only retried after its Retry-After, while a rate limit that rejects most
requests shrinks concurrency fast. A server's rate-limit headers can pause new requests
until a reset time.
`RateLimiter` is a token bucket for optional requests/minute and tokens/minute ceilings.
`FailureWatch` notices an endpoint that fails every request the same way, so a run stops
after a few requests instead of spending every record's retries.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import deque
from collections.abc import Mapping

__all__ = [
    "AdaptiveLimiter",
    "FailureWatch",
    "RateLimiter",
    "backoff_delay",
    "pause_from_headers",
    "parse_retry_after",
]


class AdaptiveLimiter:
    """At most `limit` holders at once; AIMD on overload; a pause gate for reset headers."""

    def __init__(
        self,
        cap: int,
        *,
        floor: int = 1,
        cooldown_s: float = 1.0,
        overload_share: float = 0.2,
        window: int | None = None,
    ) -> None:
        self.cap, self.floor, self.cooldown_s = max(1, cap), max(1, floor), cooldown_s
        self.overload_share = overload_share
        self.window = window or max(10, 2 * self.cap)
        self._outcomes: deque[bool] = deque(maxlen=self.window)  # True: a 429
        self._overloads = 0
        self.limit = float(self.cap)
        self.in_flight = 0
        self.paused_until = 0.0
        self.decreases = 0
        self._last_decrease = -1e9
        self._waiters: list[asyncio.Future] = []

    async def acquire(self) -> None:
        while True:
            delay = self.paused_until - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if self.in_flight < int(self.limit):
                self.in_flight += 1
                return
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        free = int(self.limit) - self.in_flight
        while free > 0 and self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(None)
                free -= 1

    def _record(self, overloaded: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._overloads -= 1
        self._outcomes.append(overloaded)
        self._overloads += overloaded

    def on_success(self) -> None:
        self._record(False)
        if self.limit < self.cap:
            self.limit = min(self.cap, self.limit + 1.0 / self.limit)
            self._wake()

    def on_overload(self) -> None:
        self._record(True)
        now = time.monotonic()
        seen = len(self._outcomes)
        enough = seen >= max(4, int(self.limit) // 2)  # judge a share, not one stray 429
        if (
            enough
            and self._overloads / seen >= self.overload_share
            and now - self._last_decrease >= self.cooldown_s
        ):
            self._last_decrease = now
            self.limit = max(float(self.floor), self.limit / 2)
            self.decreases += 1
            self._outcomes.clear()
            self._overloads = 0

    def pause(self, seconds: float) -> None:
        """Hold back new requests for `seconds` (in-flight ones are not affected)."""
        self.paused_until = max(self.paused_until, time.monotonic() + max(0.0, seconds))


class RateLimiter:
    """Token bucket refilled continuously at `per_minute / 60` per second."""

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, amount: float = 1.0) -> None:
        amount = min(amount, self.capacity)
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= amount:
                    self.tokens -= amount
                    return
                await asyncio.sleep((amount - self.tokens) / self.rate)


_VOLATILE = re.compile(r"[0-9a-fA-F]{8,}|[0-9a-zA-Z_-]*\d[0-9a-zA-Z_-]*")


def failure_signature(kind: str, status: int | None, detail: str) -> tuple[str, int | None, str]:
    """What makes two failures "the same": kind, HTTP status and the server's message with
    numbers and ids masked (request ids and timings differ between identical failures)."""
    return kind, status, _VOLATILE.sub("#", " ".join(detail.split()))[:200]


class FailureWatch:
    """Trips when an endpoint fails every attempt the same way.

    Each attempt's outcome is recorded: a success, or a failure's signature. 429s are left
    out (a rate limit is what backoff is for), and a streak must span at least `min_requests`
    distinct requests (one request's retries alone are no pattern). It trips when the first
    `first` attempts all failed with one signature and none succeeded (a server that is down,
    a wrong URL, key or model, a body the server refuses), or, once something succeeded (or
    for timeouts, which may be load), when the last `window` attempts did over at least
    `min_span_s` seconds (an outage that outlasts the retries, not a blip the retries ride
    out). Once tripped it stays tripped.
    """

    def __init__(
        self,
        *,
        first: int = 4,
        window: int = 20,
        min_span_s: float = 10.0,
        min_requests: int = 2,
        clock=time.monotonic,
    ) -> None:
        self.first, self.window, self.min_span_s, self.clock = first, window, min_span_s, clock
        self.min_requests = min_requests
        self.requests: set = set()  # the distinct requests in the streak (up to min_requests)
        self.successes = 0
        self.streak = 0  # consecutive failures with `signature`
        self.signature: tuple | None = None
        self.streak_started = 0.0
        self.tripped = False

    def success(self) -> None:
        self.successes += 1
        self.streak, self.signature = 0, None
        self.requests.clear()

    def failure(self, kind: str, status: int | None, detail: str, request: object = None) -> bool:
        """Record a failed attempt of `request` (any hashable id); True when this makes the
        failures systematic."""
        if kind == "rate_limited" or self.tripped:
            return self.tripped
        sig = failure_signature(kind, status, detail)
        if sig == self.signature:
            self.streak += 1
        else:
            self.signature, self.streak, self.streak_started = sig, 1, self.clock()
            self.requests.clear()
        if len(self.requests) < self.min_requests:
            self.requests.add(request)
        if len(self.requests) < self.min_requests:
            return False
        if self.successes == 0 and kind != "timeout":  # timeouts may be load: use the window
            self.tripped = self.streak >= self.first
        else:
            self.tripped = (
                self.streak >= self.window and self.clock() - self.streak_started >= self.min_span_s
            )
        return self.tripped


def backoff_delay(
    attempt: int,
    *,
    base_s: float = 0.5,
    cap_s: float = 30.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry `attempt` (1-based): the server's Retry-After plus up to
    10% jitter when given, else full-jitter exponential backoff capped at `cap_s`."""
    rng = rng or random
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, 600.0) * (1.0 + 0.1 * rng.random())
    return rng.uniform(0, min(cap_s, base_s * 2 ** (attempt - 1)))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration_s(text: str) -> float | None:
    """OpenAI's reset durations: '1s', '6m0s', '120ms', '1h2m3.5s'."""
    parts = _DURATION.findall(text or "")
    if not parts:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def pause_from_headers(headers: Mapping[str, str]) -> float | None:
    """If the server says a request or token budget is exhausted, seconds until it resets."""
    waits = []
    for kind in ("requests", "tokens"):
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        if remaining is not None and remaining.strip() in ("0", "0.0"):
            reset = _duration_s(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if reset:
                waits.append(reset)
    return max(waits) if waits else None
