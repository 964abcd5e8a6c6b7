"""How structured output is asked of an OpenAI-compatible server: the mode, per endpoint.

Every stage asks for structured output the same, canonical way: a `response_format` of type
`json_schema` (or `json_object` with a `schema`). Servers differ in what they take:

    json_schema   response_format {"type": "json_schema", "json_schema": {name, schema}}
                  (OpenAI, vLLM, llama.cpp's llama-server)
    json_object   response_format {"type": "json_object", "schema": schema}
                  (llama-cpp-python's llama_cpp.server, llama-server)
    guided_json   no response_format; "guided_json": schema in the body (older vLLM)
    prompt        no response_format; the schema is written into the prompt (any server)

Whatever the mode, the answer is validated locally and repaired by the engine. With
`--structured auto` the first structured request to an endpoint tries the modes in that
order: a refusal (an HTTP error whose message is about the request format) or an answer
that ignores the format (one that does not even begin as JSON) moves on to the next one.
The mode that works is remembered per endpoint and model in `structured-modes.json` beside
the LLM cache, so later runs and processes start with it.

The mode changes what is sent, so it is part of the cache key (`ChatRequest.key`) for every
mode but `json_schema`, whose request is the canonical payload itself: caches written before
modes existed stay valid, and a replay with the same mode hits the cache.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dsbuild.llm.structured import expand_copy, without_copy
from dsbuild.llm.types import BackendError, BackendReply, Usage

__all__ = [
    "AUTO",
    "MODES",
    "MODES_FILENAME",
    "STRUCTURED_CHOICES",
    "ModeChooser",
    "ModeMemory",
    "answer_ignores_format",
    "refuses_format",
    "schema_of",
    "shape_payload",
]

log = logging.getLogger("dsbuild.llm")

AUTO = "auto"
MODES = ("json_schema", "json_object", "guided_json", "prompt")  # the order `auto` tries
STRUCTURED_CHOICES = (AUTO, *MODES)
MODES_FILENAME = "structured-modes.json"

PROMPT_INSTRUCTION = (
    "Answer with one JSON value only, with no other text and no code fence. "
    "It must satisfy this JSON Schema:\n"
)

# An HTTP error is a refusal of the format when its message talks about the request's format
# or its validation, and not about the length of the input.
_FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json_object|guided_json|guided_decoding|structured output|"
    r"grammar|schema|input should be|extra (inputs?|fields?)|not permitted|not allowed|"
    r"unsupported|not supported|unrecognized|unknown (field|parameter|argument|type)|"
    r"literal_error|validation error",
    re.IGNORECASE,
)
_LENGTH_WORDS = re.compile(
    r"context length|context window|too long|too many tokens|"
    r"maximum context|exceeds|n_ctx",
    re.IGNORECASE,
)
_REFUSAL_STATUS = frozenset({400, 404, 415, 422, 500, 501})


def schema_of(payload: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(name, JSON Schema) that the payload's response_format asks for, or None."""
    rf = payload.get("response_format")
    if not isinstance(rf, dict):
        return None
    if rf.get("type") == "json_schema":
        spec = rf.get("json_schema") or {}
        schema = spec.get("schema")
        return (str(spec.get("name") or "answer"), schema) if isinstance(schema, dict) else None
    if rf.get("type") == "json_object" and isinstance(rf.get("schema"), dict):
        return "answer", rf["schema"]
    return None


_MAX_ENUM = 256


def small_ranges_as_enums(schema: Any) -> Any:
    """Integers bounded by `minimum`/`maximum` (at most 256 values) also as an `enum`:
    llama.cpp's server grammar ignores integer bounds (a sentence id of 423897605 against a
    maximum of 9 was seen) but keeps to an enum. The bounds stay, for validation."""
    if isinstance(schema, list):
        return [small_ranges_as_enums(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: small_ranges_as_enums(v) for k, v in schema.items()}
    low, high = out.get("minimum"), out.get("maximum")
    if (
        out.get("type") == "integer"
        and "enum" not in out
        and isinstance(low, int)
        and isinstance(high, int)
        and 0 <= high - low < _MAX_ENUM
    ):
        out["enum"] = list(range(low, high + 1))
    return out


def shape_payload(payload: dict[str, Any], mode: str) -> dict[str, Any]:
    """The request body to send in `mode` for a canonical payload; dsbuild's schema
    extensions (`copy_of`, grammar patterns) become `pattern`s where the server decodes with a
    grammar (json_object + schema, guided_json) and are removed elsewhere."""
    found = schema_of(payload)
    if found is None:
        return payload
    name, schema = found
    # servers that take a schema beside json_object, or guided_json, decode with a grammar:
    # they get dsbuild's extensions as patterns; plain JSON-Schema endpoints get none
    if mode in ("json_object", "guided_json"):
        schema = small_ranges_as_enums(expand_copy(schema))
    else:
        schema = without_copy(schema)
    body = {k: v for k, v in payload.items() if k != "response_format"}
    if mode == "json_schema":
        rf = payload["response_format"]
        if rf.get("type") == "json_schema":
            body["response_format"] = {**rf, "json_schema": {**rf["json_schema"], "schema": schema}}
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema},
            }
    elif mode == "json_object":
        body["response_format"] = {"type": "json_object", "schema": schema}
    elif mode == "guided_json":
        body["guided_json"] = schema
    elif mode == "prompt":
        body["messages"] = _with_schema_instruction(list(payload["messages"]), schema)
    else:
        raise ValueError(f"unknown structured output mode {mode!r}")
    return body


def _with_schema_instruction(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list:
    text = PROMPT_INSTRUCTION + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    for i, message in enumerate(messages):
        if message.get("role") == "system" and isinstance(message.get("content"), str):
            messages[i] = {**message, "content": f"{message['content'].rstrip()}\n\n{text}"}
            return messages
    return [{"role": "system", "content": text}, *messages]


def refuses_format(exc: BackendError) -> bool:
    """True when the server's error says it does not take the request's format."""
    if exc.status not in _REFUSAL_STATUS or exc.kind not in (
        "bad_request",
        "server_error",
        "not_found",
        "http_error",
    ):
        return False
    return bool(_FORMAT_WORDS.search(exc.detail)) and not _LENGTH_WORDS.search(exc.detail)


def answer_ignores_format(reply: BackendReply) -> bool:
    """True when a reply shows the server ignored the format: it does not even begin as JSON
    (prose, a code fence). An answer that begins as JSON but is broken (cut at max_tokens, a
    raw control character in a string) shows the format was applied: repairs deal with it."""
    text = (reply.content or "").lstrip()
    return bool(text) and not text.startswith(("{", "["))


class ModeMemory:
    """The mode that works, by endpoint and model, in a small JSON file (atomic writes; a
    file that cannot be read or written only costs a new probe)."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None

    @staticmethod
    def _key(endpoint: str, model: str) -> str:
        return f"{endpoint} {model}"

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        modes = data.get("modes") if isinstance(data, dict) else None
        return modes if isinstance(modes, dict) else {}

    def get(self, endpoint: str, model: str) -> str | None:
        entry = self._read().get(self._key(endpoint, model))
        mode = entry.get("mode") if isinstance(entry, dict) else None
        return mode if mode in MODES else None

    def put(self, endpoint: str, model: str, mode: str | None) -> None:
        """Remember `mode` (None: forget) for the endpoint and model."""
        if self.path is None:
            return
        modes = self._read()  # re-read: another process may have added its own endpoints
        key = self._key(endpoint, model)
        if mode is None:
            modes.pop(key, None)
        else:
            modes[key] = {
                "mode": mode,
                "checked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        text = json.dumps({"version": 1, "modes": modes}, indent=1, sort_keys=True) + "\n"
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".structured-modes.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot remember the structured output mode in %s: %s", self.path, exc)
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


Send = Callable[[dict[str, Any]], Awaitable[BackendReply]]


class ModeChooser:
    """Chooses, remembers and applies the structured output mode of one endpoint.

    `setting` is `auto` or a fixed mode. A fixed mode is sent as is; a refusal then fails
    with kind `format_refused` (a failure of the world: records stay pending, and the engine
    stops once every request fails so). `auto` uses the remembered mode, else probes.
    """

    def __init__(self, setting: str, endpoint: str, memory: ModeMemory | None = None) -> None:
        if setting not in STRUCTURED_CHOICES:
            raise ValueError(
                f"structured output mode {setting!r} is not one of {', '.join(STRUCTURED_CHOICES)}"
            )
        self.setting, self.endpoint = setting, endpoint
        self.memory = memory or ModeMemory(None)
        self._chosen: dict[str, str] = {}  # model -> mode (this process)
        self._unknown_until: dict[str, float] = {}  # model -> when to look in the file again
        self._skip: dict[str, set[str]] = {}  # model -> modes found not to work
        self._locks: dict[str, asyncio.Lock] = {}
        self.probes = 0  # requests sent in a mode that turned out not to work

    def known(self, model: str) -> str | None:
        """The mode requests to `model` are sent in, or None while `auto` has not chosen."""
        if self.setting != AUTO:
            return self.setting
        mode = self._chosen.get(model)
        if mode is None and time.monotonic() >= self._unknown_until.get(model, 0.0):
            # the file is read at most once a second while no mode is known (a batch run
            # asks for every request and never probes)
            mode = self.memory.get(self.endpoint, model)
            if mode is not None:
                self._chosen[model] = mode
            else:
                self._unknown_until[model] = time.monotonic() + 1.0
        return mode

    async def complete(self, payload: dict[str, Any], send: Send) -> BackendReply:
        """Send `payload` (canonical) in the right mode; the reply says which mode."""
        if schema_of(payload) is None:
            return await send(payload)
        model = str(payload.get("model") or "")
        if self.setting != AUTO:
            return await self._send_fixed(payload, self.setting, send)
        mode = self.known(model)
        if mode is not None:
            try:
                return await self._send(payload, mode, send)
            except BackendError as exc:
                if mode == "prompt" or not refuses_format(exc):
                    raise
                log.info(
                    "structured output: %s (model %s) no longer takes %s (%s); choosing again",
                    self.endpoint,
                    model,
                    mode,
                    exc.detail[:200],
                )
                self._forget(model, mode)
        lock = self._locks.setdefault(model, asyncio.Lock())
        async with lock:  # one request probes; the others wait for its choice
            mode = self._chosen.get(model)
            if mode is not None:
                return await self._send(payload, mode, send)
            return await self._probe(payload, model, send)

    async def _send(self, payload: dict[str, Any], mode: str, send: Send) -> BackendReply:
        reply = await send(shape_payload(payload, mode))
        return replace(reply, structured_mode=mode)

    async def _send_fixed(self, payload: dict[str, Any], mode: str, send: Send) -> BackendReply:
        try:
            return await self._send(payload, mode, send)
        except BackendError as exc:
            if mode == "prompt" or not refuses_format(exc):
                raise
            raise BackendError(
                "format_refused",
                f"{self.endpoint} does not take structured output mode {mode} "
                f"(--structured {mode}): {exc.detail}; use --structured auto",
                transient=False,
                status=exc.status,
            ) from None

    async def _probe(self, payload: dict[str, Any], model: str, send: Send) -> BackendReply:
        skip = self._skip.setdefault(model, set())
        spent = Usage()
        for mode in MODES:
            if mode in skip:
                continue
            last = mode == "prompt"
            try:
                reply = await self._send(payload, mode, send)
            except BackendError as exc:
                if last or not refuses_format(exc):
                    raise  # the world or the request failed, not the mode: try again later
                log.info(
                    "structured output: %s (model %s) refuses %s (%s)",
                    self.endpoint,
                    model,
                    mode,
                    exc.detail[:200],
                )
                skip.add(mode)
                self.probes += 1
                continue
            if not last and answer_ignores_format(reply):
                log.info("structured output: %s (model %s) ignores %s", self.endpoint, model, mode)
                skip.add(mode)
                self.probes += 1
                if reply.usage is not None:
                    spent = Usage(
                        spent.prompt_tokens + reply.usage.prompt_tokens,
                        spent.completion_tokens + reply.usage.completion_tokens,
                    )
                continue
            self._chosen[model] = mode
            self.memory.put(self.endpoint, model, mode)
            log.info("structured output: %s (model %s) takes %s", self.endpoint, model, mode)
            if spent.total_tokens and reply.usage is not None:  # the discarded answers cost too
                reply = replace(
                    reply,
                    usage=Usage(
                        reply.usage.prompt_tokens + spent.prompt_tokens,
                        reply.usage.completion_tokens + spent.completion_tokens,
                        reply.usage.estimated,
                    ),
                )
            return reply
        raise AssertionError("unreachable: the prompt mode is always tried")

    def _forget(self, model: str, mode: str) -> None:
        self._chosen.pop(model, None)
        self._skip.setdefault(model, set()).add(mode)
        self.memory.put(self.endpoint, model, None)
