"""Content failures reject, world failures leave the record pending, systematic ones stop."""

from __future__ import annotations

import asyncio

import pytest

from dsbuild.errors import ServiceError
from dsbuild.llm.engine import LLMEngine
from dsbuild.llm.limits import FailureWatch
from dsbuild.llm.types import BackendError, redact_url
from dsbuild.stages import Pending, Rejection
from dsbuild.testing import FakeLLM

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


async def _no_sleep(_s: float) -> None:
    return None


def engine(fake: FakeLLM, **kw) -> LLMEngine:
    return LLMEngine(fake, model="m", spec="fake:m", sleep=_no_sleep, **kw)


def ask(eng: LLMEngine, text: str = "hi", schema: dict | None = None):
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}} if schema else None
    return asyncio.run(
        eng.complete(eng.request([{"role": "user", "content": text}], response_format=rf))
    )


@pytest.mark.parametrize(
    "error",
    [
        BackendError("connection", "refused", transient=True),
        BackendError("timeout", "slow", transient=True),
        BackendError("rate_limited", "429", transient=True),
        BackendError("server_error", "HTTP 503", transient=True),
        BackendError("bad_response", "unreadable body", transient=True),
        BackendError("auth", "HTTP 401", transient=False),
        BackendError("not_found", "HTTP 404", transient=False),
    ],
)
def test_world_failures_are_pending_not_rejects(error):
    eng = engine(FakeLLM().enqueue(*[error] * 3), max_retries=2)
    result = ask(eng)
    assert not result.ok and result.pending and eng.stats.pending == 1
    with pytest.raises(Pending) as caught:
        result.rejection("judge")
    assert caught.value.reason == f"llm_{error.kind}" and caught.value.detail.startswith("judge: ")


@pytest.mark.parametrize(
    "enqueued, reason",
    [
        ([BackendError("bad_request", "context too long", transient=False)], "bad_request"),
        ([BackendError("context_length", "too long", transient=False)], "context_length"),
        (["not json", "still not", "nope"], "invalid_json"),
        ([{"a": "x"}, {"a": "y"}, {"b": 1}], "schema_mismatch"),
    ],
)
def test_content_failures_are_rejects(enqueued, reason):
    eng = engine(FakeLLM().enqueue(*enqueued))
    result = ask(eng, schema=SCHEMA)
    assert not result.ok and not result.pending and result.error["reason"] == reason
    assert (
        isinstance(result.rejection(), Rejection) and result.rejection().reason == f"llm_{reason}"
    )
    result.raise_if_pending()  # no-op


def test_one_requests_retries_alone_never_trip_the_watch():
    eng = engine(
        FakeLLM().enqueue(*[BackendError("server_error", "HTTP 503", transient=True)] * 10),
        max_retries=9,
    )
    result = ask(eng)
    assert result.pending and eng.stats.requests_sent == 10


def test_first_requests_failing_the_same_way_stop_the_engine():
    fake = FakeLLM().enqueue(
        *[
            BackendError(
                "server_error", "HTTP 500: bad field 'x' (req 123)", transient=True, status=500
            )
        ]
        * 100
    )

    async def many():
        eng = engine(fake, concurrency=4, max_retries=6)
        results = await asyncio.gather(
            *(eng.complete(eng.request([{"role": "user", "content": f"q{i}"}])) for i in range(20)),
            return_exceptions=True,
        )
        return eng, results

    eng, results = asyncio.run(many())
    stopped = [r for r in results if isinstance(r, ServiceError)]
    assert len(stopped) >= 16 and {r.code for r in stopped} == {"DSB403"}
    assert all(r.pending for r in results if not isinstance(r, ServiceError))
    assert "bad field 'x'" in str(stopped[0]) and "model m" in str(stopped[0])
    assert len(fake.calls) <= 8  # stopped after the first few attempts, not 20 x 7


def test_successes_in_between_keep_the_engine_going():
    fake = FakeLLM()
    for _ in range(10):
        fake.enqueue(BackendError("server_error", "HTTP 500", transient=True), "ok")
    eng = engine(fake, concurrency=1, max_retries=3)
    for i in range(10):
        assert ask(eng, f"q{i}").ok


def test_window_trips_only_after_a_long_streak():
    now = [0.0]
    watch = FailureWatch(first=4, window=20, min_span_s=10.0, clock=lambda: now[0])
    watch.success()
    for i in range(30):  # 30 identical failures within 3 s: a blip the retries ride out
        now[0] += 0.1
        assert not watch.failure("connection", None, "refused", i % 5)
    for i in range(20):
        now[0] += 1.0
        tripped = watch.failure("connection", None, "refused", i % 5)
    assert tripped
    other = FailureWatch(clock=lambda: now[0])
    for i in range(3):
        assert not other.failure("timeout", None, "timed out", i)  # timeouts: only the window
    assert not other.failure("rate_limited", 429, "slow down", 9)


def test_numbers_and_ids_do_not_make_failures_different():
    watch = FailureWatch(first=3)
    assert not watch.failure("server_error", 500, "error req_8f3a9b2c1d at 12:00:01", 1)
    assert not watch.failure("server_error", 500, "error req_77aa00bb11 at 12:00:02", 2)
    assert watch.failure("server_error", 500, "error req_1234abcd99 at 12:00:03", 3)


def test_redact_url():
    assert (
        redact_url("https://u:p@host:8000/v1?api_key=abc&x=1")
        == "https://u:***@host:8000/v1?api_key=***&x=1"
    )
    assert redact_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9/v1"
