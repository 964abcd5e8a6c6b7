"""`FakeLLM`: a backend that answers from a queue or deterministically from the prompt.

It implements the same `Backend` protocol as the real backends, so tests exercise the real
engine (cache, retries, validation, budget) with only the model swapped, in the spirit of
`llm`'s `MockModel`::

    fake = FakeLLM()
    fake.enqueue('{"answer": "Paris"}', BackendError("rate_limited", "slow down", transient=True))
    with installed(fake):            # `--model fake:default` now reaches this instance
        ...
    assert fake.calls[0]["messages"][0]["content"] == "..."

Without queued replies it answers deterministically: a schema-shaped JSON value when the
request asks for structured output, else a short text derived from the prompt's hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dsbuild.llm.types import BackendReply, Usage

__all__ = ["FakeLLM", "example_for_schema", "installed", "lookup"]

_INSTALLED: dict[str, FakeLLM] = {}


class FakeLLM:
    """A scripted or deterministic stand-in for a model; records every payload it gets."""

    name = "fake"

    def __init__(
        self,
        model: str = "fake-model",
        *,
        latency_s: float = 0.0,
        max_concurrency: int | None = None,
        report_usage: bool = True,
    ) -> None:
        self.model, self.latency_s = model, latency_s
        self.max_concurrency = max_concurrency
        self.report_usage = report_usage
        self.queue: deque[Any] = deque()
        self.calls: list[dict[str, Any]] = []
        self.closed = False

    def enqueue(self, *replies: str | dict | list | Exception | BackendReply) -> FakeLLM:
        """Queue replies, used in order: text, a JSON value (sent as JSON text), an
        exception to raise (e.g. `BackendError`), or a full `BackendReply`."""
        self.queue.extend(replies)
        return self

    async def default_model(self) -> str:
        return self.model

    async def complete(self, payload: dict[str, Any], *, timeout: float) -> BackendReply:
        self.calls.append(payload)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        item = self.queue.popleft() if self.queue else self._deterministic(payload)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, BackendReply):
            return item
        content = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        usage = None
        if self.report_usage:
            prompt = sum(len(str(m.get("content", ""))) for m in payload.get("messages", []))
            usage = Usage(max(1, prompt // 4), max(1, len(content) // 4))
        return BackendReply(content, payload.get("model") or self.model, usage, "stop")

    def _deterministic(self, payload: dict[str, Any]) -> str | Any:
        rf = payload.get("response_format") or {}
        schema = (
            (rf.get("json_schema") or {}).get("schema")
            if rf.get("type") == "json_schema"
            else rf.get("schema")
        )
        digest = hashlib.sha256(
            json.dumps(payload.get("messages"), sort_keys=True).encode()
        ).hexdigest()
        if isinstance(schema, dict):
            return example_for_schema(schema, digest[:8])
        return f"fake answer {digest[:12]}"

    async def aclose(self) -> None:
        self.closed = True


def example_for_schema(
    schema: dict[str, Any], seed: str = "x", root: dict | None = None, depth: int = 0
) -> Any:
    """A small value satisfying common JSON Schema keywords (types, required, enums,
    min/max items, minimum, string lengths, local $refs) and dsbuild's copy constraints."""
    from dsbuild.llm.structured import COPY_OF

    root = root or schema
    if depth > 10:
        return None
    if COPY_OF in schema:  # a copy of a text (`copy_of`): the text itself, no marks
        return schema[COPY_OF]["text"]
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node.get(part, {})
        return example_for_schema(node, seed, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for_schema(schema[key][0], seed, root, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {
            k: example_for_schema(props.get(k, {}), f"{seed}.{k}", root, depth + 1)
            for k in schema.get("required", list(props))
        }
    if kind == "array":
        n = max(int(schema.get("minItems", 1)), 1)
        n = min(n, int(schema.get("maxItems", n)))
        return [
            example_for_schema(schema.get("items", {}), f"{seed}.{i}", root, depth + 1)
            for i in range(n)
        ]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = f"text {seed}"
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text.ljust(int(schema.get("minLength", 0)), "x")


@contextmanager
def installed(fake: FakeLLM, name: str = "default") -> Iterator[FakeLLM]:
    """Make `--model fake:NAME` reach this instance for the duration of the block."""
    _INSTALLED[name] = fake
    try:
        yield fake
    finally:
        _INSTALLED.pop(name, None)


def lookup(name: str) -> FakeLLM:
    """The installed fake of that name, or a fresh deterministic one."""
    return _INSTALLED.get(name) or FakeLLM(name)


def _register() -> None:
    """`--model fake:NAME` reaches `lookup(NAME)` once this module is imported."""
    from dsbuild.llm.factory import register_provider

    register_provider("fake", lookup)


_register()
