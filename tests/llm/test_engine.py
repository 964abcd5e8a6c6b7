"""The engine with the fake backend: cache, retries, repairs, budget, provenance."""

from __future__ import annotations

import asyncio

import pytest

from dsbuild.errors import BudgetExceededError, UsageError
from dsbuild.llm.engine import LLMEngine
from dsbuild.llm.types import BackendError, ChatRequest
from dsbuild.testing import FakeLLM

SCHEMA = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3}
    },
    "required": ["items"],
    "additionalProperties": False,
}
RF = {"type": "json_schema", "json_schema": {"name": "three", "schema": SCHEMA}}


class DictCache:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value


async def no_sleep(seconds):
    no_sleep.total += seconds


no_sleep.total = 0.0


def engine(fake, **kw):
    kw.setdefault("sleep", no_sleep)
    return LLMEngine(fake, model="fake-model", spec="fake:default", **kw)


def run(coro):
    return asyncio.run(coro)


def req(text="hi", **kw):
    return ChatRequest(model="fake-model", messages=({"role": "user", "content": text},), **kw)


def test_cache_key_covers_payload_and_sample_index():
    a = req(sampling={"temperature": 0.7})
    assert a.key() == req(sampling={"temperature": 0.7}).key()
    assert a.key() != req(sampling={"temperature": 0.8}).key()
    assert a.key() != req(sampling={"temperature": 0.7}, sample_index=1).key()
    assert a.key() != req(sampling={"temperature": 0.7}, response_format=RF).key()
    assert a.key() == req(sampling={"temperature": 0.7}, id="other-id").key()


def test_cache_hit_sends_nothing_and_costs_nothing():
    fake, cache = FakeLLM().enqueue("first answer"), DictCache()
    eng = engine(fake, cache=cache)
    r1 = run(eng.complete(req()))
    r2 = run(eng.complete(req()))
    assert r1.content == r2.content == "first answer"
    assert not r1.cached and r2.cached and len(fake.calls) == 1
    assert eng.stats.cache_hits == 1 and eng.stats.requests_sent == 1


def test_samples_at_temperature_stay_distinct_in_cache():
    fake, cache = FakeLLM().enqueue("a", "b"), DictCache()
    eng = engine(fake, cache=cache)
    r0 = run(eng.complete(req(sampling={"temperature": 1.0}, sample_index=0)))
    r1 = run(eng.complete(req(sampling={"temperature": 1.0}, sample_index=1)))
    assert (r0.content, r1.content) == ("a", "b") and len(cache.data) == 2


def test_cache_only_miss_is_a_clear_error():
    eng = engine(FakeLLM(), cache=DictCache(), cache_only=True)
    with pytest.raises(UsageError) as info:
        run(eng.complete(req(id="q7")))
    assert info.value.code == "DSB107" and "q7" in info.value.one_line()


def test_transient_errors_are_retried_with_counts_by_cause():
    fake = FakeLLM().enqueue(
        BackendError("rate_limited", "slow", transient=True, retry_after=1.0),
        BackendError("server_error", "500", transient=True),
        BackendError("timeout", "t", transient=True),
        "finally",
    )
    eng = engine(fake, max_retries=5)
    no_sleep.total = 0.0
    result = run(eng.complete(req()))
    assert result.ok and result.content == "finally"
    assert dict(eng.stats.retries) == {"rate_limited": 1, "server_error": 1, "timeout": 1}
    assert no_sleep.total >= 1.0  # Retry-After honoured


def test_retries_are_bounded_then_a_reject_with_reason():
    fake = FakeLLM().enqueue(*[BackendError("server_error", "HTTP 503", transient=True)] * 10)
    eng = engine(fake, max_retries=3)
    result = run(eng.complete(req()))
    assert not result.ok and result.error["reason"] == "server_error"
    assert "4 attempts" in result.error["detail"] and len(fake.calls) == 4
    assert result.content is None and eng.stats.failures["server_error"] == 1


def test_permanent_error_is_not_retried():
    fake = FakeLLM().enqueue(BackendError("auth", "HTTP 401", transient=False), "never")
    result = run(engine(fake).complete(req()))
    assert result.error["reason"] == "auth" and len(fake.calls) == 1


def test_structured_output_repaired_after_showing_the_error():
    fake = FakeLLM().enqueue('{"items": ["a", "b"]}', '{"items": ["a", "b", "c"]}')
    eng = engine(fake)
    result = run(eng.complete(req(response_format=RF)))
    assert result.ok and result.json == {"items": ["a", "b", "c"]}
    repair_turn = fake.calls[1]["messages"][-1]["content"]
    assert "too short" in repair_turn and fake.calls[1]["messages"][-2]["role"] == "assistant"
    assert eng.stats.repairs == 1


def test_structured_output_gives_up_after_bounded_repairs():
    fake = FakeLLM().enqueue("not json", "still not", "{}", "{}")
    eng = engine(fake, max_repairs=2)
    result = run(eng.complete(req(response_format=RF)))
    assert not result.ok and result.error["reason"] == "schema_mismatch"
    assert len(fake.calls) == 3 and result.json is None


def test_json_in_a_code_fence_is_accepted():
    fake = FakeLLM().enqueue('```json\n{"items": ["x", "y", "z"]}\n```')
    assert run(engine(fake).complete(req(response_format=RF))).json == {"items": ["x", "y", "z"]}


class FlatPrice:
    input_per_m = 1000.0
    output_per_m = 1000.0


def test_budget_stops_before_exceeding(monkeypatch):
    monkeypatch.setattr(
        "dsbuild.llm.engine.LLMEngine._cost", lambda self, usage: usage.total_tokens * 0.001
    )
    fake = FakeLLM()
    eng = engine(fake, price=FlatPrice(), max_cost=0.5)
    spent_before = []
    with pytest.raises(BudgetExceededError) as info:
        for i in range(1000):
            run(eng.complete(req(f"question {i}", sampling={"max_tokens": 20})))
            spent_before.append(eng.stats.cost_usd)
    assert info.value.exit_code == 5 and "--max-cost" in info.value.one_line()
    assert eng.stats.cost_usd <= 0.5
    assert 0.5 - eng.stats.cost_usd <= eng.estimate_cost(
        req("question 999", sampling={"max_tokens": 20})
    )


def test_usage_estimated_and_marked_when_provider_does_not_report():
    fake = FakeLLM(report_usage=False).enqueue("some answer text")
    result = run(engine(fake).complete(req("a prompt of a few words")))
    assert result.usage.estimated and result.usage.completion_tokens > 0


def test_provenance_names_models_template_and_request_hash():
    fake = FakeLLM()
    eng = engine(fake)

    class Tpl:
        id, hash = "psiloqa/generate_qa@1", "abc123"

    r = eng.request(
        [{"role": "user", "content": "q"}], sampling={"temperature": 0, "seed": 3}, template=Tpl()
    )
    prov = run(eng.complete(r)).provenance()
    assert prov["model_requested"] == "fake-model" and prov["model_answered"] == "fake-model"
    assert prov["template_id"] == "psiloqa/generate_qa@1" and prov["template_hash"] == "abc123"
    assert prov["seed"] == 3 and prov["request_hash"] == r.key()


def test_concurrency_cap_holds():
    fake = FakeLLM(latency_s=0.01)
    eng = engine(fake, concurrency=4)
    peak = 0

    async def main():
        nonlocal peak

        async def one(i):
            nonlocal peak
            task = asyncio.ensure_future(eng.complete(req(f"q{i}")))
            await asyncio.sleep(0)
            peak = max(peak, eng.limiter.in_flight)
            return await task

        return await asyncio.gather(*(one(i) for i in range(40)))

    results = run(main())
    assert all(r.ok for r in results) and 1 <= peak <= 4
