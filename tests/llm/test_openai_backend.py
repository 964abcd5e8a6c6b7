"""The real OpenAI SDK code path, offline: an in-process HTTP transport plays the server."""

from __future__ import annotations

import asyncio
import json

import pytest

from dsbuild.llm.backends.openai_compat import OpenAIBackend
from dsbuild.llm.engine import LLMEngine
from dsbuild.llm.types import BackendError, ChatRequest

httpx = pytest.importorskip("httpx2")  # the HTTP library of the installed openai SDK


def completion(content, model="served-model", usage=True):
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    return body


def backend_with(handler):
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAIBackend(base_url="http://test.invalid/v1", api_key="sk-test", http_client=client)


def call(backend, payload=None):
    payload = payload or {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return asyncio.run(backend.complete(payload, timeout=5))


def test_success_reads_content_usage_model_and_sends_the_payload():
    seen = {}

    def handler(request):
        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers["authorization"]
        seen["path"] = request.url.path
        return httpx.Response(
            200, json=completion("Bonjour"), headers={"x-ratelimit-remaining-requests": "99"}
        )

    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    reply = call(
        backend_with(handler),
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": rf,
            "temperature": 0.2,
            "seed": 4,
        },
    )
    assert reply.content == "Bonjour" and reply.model == "served-model"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 7)
    assert seen["body"]["response_format"] == rf and seen["body"]["temperature"] == 0.2
    assert seen["body"]["seed"] == 4 and seen["auth"] == "Bearer sk-test"
    assert seen["path"] == "/v1/chat/completions"
    assert reply.headers == {"x-ratelimit-remaining-requests": "99"}


@pytest.mark.parametrize(
    ("response", "kind", "transient", "retry_after"),
    [
        (
            lambda: httpx.Response(
                429, json={"error": {"message": "Rate limit reached"}}, headers={"retry-after": "1"}
            ),
            "rate_limited",
            True,
            1.0,
        ),
        (
            lambda: httpx.Response(500, json={"error": {"message": "boom"}}),
            "server_error",
            True,
            None,
        ),
        (lambda: httpx.Response(503, text="unavailable"), "server_error", True, None),
        (lambda: httpx.Response(401, json={"error": {"message": "bad key"}}), "auth", False, None),
        (
            lambda: httpx.Response(400, json={"error": {"message": "context length"}}),
            "bad_request",
            False,
            None,
        ),
        (
            lambda: httpx.Response(404, json={"error": {"message": "no model"}}),
            "not_found",
            False,
            None,
        ),
        (
            lambda: httpx.Response(200, content=b'{"id": "c1", "choices": [{"mess'),
            "bad_response",
            True,
            None,
        ),
    ],
)
def test_http_failures_are_classified(response, kind, transient, retry_after):
    with pytest.raises(BackendError) as info:
        call(backend_with(lambda request: response()))
    err = info.value
    assert (err.kind, err.transient, err.retry_after) == (kind, transient, retry_after)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        ("ReadTimeout", "timeout"),
        ("ConnectError", "connection"),
        ("RemoteProtocolError", "connection"),
    ],
)
def test_transport_failures_are_transient(exc, kind):
    def handler(request):
        raise getattr(httpx, exc)("simulated", request=request)

    with pytest.raises(BackendError) as info:
        call(backend_with(handler))
    assert info.value.kind == kind and info.value.transient


def test_engine_over_the_sdk_retries_then_succeeds_and_never_lets_the_sdk_retry():
    statuses = iter([429, 500, 200])
    hits = []

    def handler(request):
        hits.append(1)
        status = next(statuses)
        if status == 200:
            return httpx.Response(200, json=completion('{"ok": true}'))
        return httpx.Response(
            status, json={"error": {"message": "nope"}}, headers={"retry-after": "0"}
        )

    async def no_sleep(_):
        return None

    engine = LLMEngine(
        backend_with(handler), model="m", spec="openai:m", max_retries=4, sleep=no_sleep
    )
    rf = {
        "type": "json_schema",
        "json_schema": {
            "name": "x",
            "schema": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            },
        },
    }
    req = ChatRequest(model="m", messages=({"role": "user", "content": "hi"},), response_format=rf)
    result = asyncio.run(engine.complete(req))
    assert result.ok and result.json == {"ok": True} and len(hits) == 3
    assert dict(engine.stats.retries) == {"rate_limited": 1, "server_error": 1}


def test_rate_limit_headers_pause_new_requests():
    def handler(request):
        return httpx.Response(
            200,
            json=completion("x"),
            headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"},
        )

    engine = LLMEngine(backend_with(handler), model="m", spec="openai:m")
    asyncio.run(
        engine.complete(ChatRequest(model="m", messages=({"role": "user", "content": "a"},)))
    )
    import time

    assert 1.5 < engine.limiter.paused_until - time.monotonic() <= 2.0


def test_default_model_is_the_first_the_server_lists():
    def handler(request):
        assert request.url.path == "/v1/models"
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [
                    {
                        "id": "Qwen/Qwen2.5-7B-Instruct",
                        "object": "model",
                        "created": 0,
                        "owned_by": "vllm",
                    }
                ],
            },
        )

    assert asyncio.run(backend_with(handler).default_model()) == "Qwen/Qwen2.5-7B-Instruct"
