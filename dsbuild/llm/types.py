"""The data that crosses the LLM engine's boundaries: requests, backend replies, results.

A `ChatRequest` is what a stage asks for; its `payload()` is the canonical request body
(the OpenAI chat-completions shape) and `key()` the cache key: the hash of that payload
plus the sample index, so n samples at temperature > 0 stay distinct. Backends turn a
payload into a `BackendReply` or raise a `BackendError` saying whether a retry may help.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from dsbuild.runs.fingerprint import canonical_json

__all__ = [
    "Backend",
    "BackendError",
    "BackendReply",
    "ChatRequest",
    "LLMResult",
    "SAMPLING_KEYS",
    "Usage",
]

# Sampling parameters that change the answer, and so belong to the cache key.
SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "seed", "stop", "presence_penalty",
                 "frequency_penalty", "logprobs", "top_logprobs")


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make.

    `response_format` is an OpenAI `response_format` object, e.g.
    `{"type": "json_schema", "json_schema": {"name": "qa", "schema": {...}}}`;
    `sampling` holds any of `SAMPLING_KEYS`; `sample_index` tells apart repeated samples of
    the same payload; `template_id` / `template_hash` name the prompt template it came from.
    """

    model: str
    messages: tuple[dict[str, Any], ...]
    response_format: dict[str, Any] | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    sample_index: int = 0
    id: str | None = None
    template_id: str | None = None
    template_hash: str | None = None

    def payload(self) -> dict[str, Any]:
        """The canonical request body: model, messages, response format, sampling."""
        body: dict[str, Any] = {"model": self.model, "messages": list(self.messages)}
        if self.response_format is not None:
            body["response_format"] = self.response_format
        body.update({k: v for k, v in self.sampling.items() if v is not None})
        return body

    def key(self) -> str:
        """The cache key: sha256 of the canonical payload and the sample index."""
        return self._key

    @cached_property
    def _key(self) -> str:
        text = canonical_json({"payload": self.payload(), "sample_index": self.sample_index})
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The JSON Schema the answer must satisfy, if structured output was asked for."""
        rf = self.response_format or {}
        if rf.get("type") == "json_schema":
            return (rf.get("json_schema") or {}).get("schema")
        if rf.get("type") == "json_object" and isinstance(rf.get("schema"), dict):
            return rf["schema"]
        return None


@dataclass(frozen=True)
class Usage:
    """Tokens of one request; `estimated` when the provider did not report them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens, "estimated": self.estimated}


@dataclass(frozen=True)
class BackendReply:
    """What a backend returns for one payload."""

    content: str | None
    model: str  # the model that answered, as the provider names it
    usage: Usage | None = None  # None: not reported; the engine estimates
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # rate-limit headers, lower-case

    def to_dict(self) -> dict[str, Any]:
        return {"content": self.content, "model": self.model,
                "usage": self.usage.to_dict() if self.usage else None,
                "finish_reason": self.finish_reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackendReply:
        u = data.get("usage")
        usage = Usage(u["prompt_tokens"], u["completion_tokens"], u.get("estimated", False)) if u else None
        return cls(data.get("content"), data.get("model", ""), usage, data.get("finish_reason"))


class BackendError(Exception):
    """A backend call failed. `kind` is the reason code (rate_limited, server_error, timeout,
    connection, bad_response, bad_request, auth, not_found, ...); `transient` says whether
    a retry may succeed; `retry_after` is the server's wait hint in seconds."""

    def __init__(self, kind: str, detail: str, *, transient: bool,
                 retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail, self.transient = kind, detail, transient
        self.retry_after, self.status = retry_after, status


class Backend(Protocol):
    """Turns a canonical payload into a reply; raises `BackendError` on failure."""

    name: str
    max_concurrency: int | None  # e.g. 1 for an in-process model; None: no own limit

    async def complete(self, payload: dict[str, Any], *, timeout: float) -> BackendReply: ...

    async def aclose(self) -> None: ...


@dataclass
class LLMResult:
    """The outcome of one request after cache, retries and validation."""

    request: ChatRequest
    content: str | None = None
    json: Any = None
    usage: Usage | None = None
    cost_usd: float = 0.0
    model_answered: str | None = None
    cached: bool = False
    attempts: int = 0
    error: dict[str, str] | None = None  # {"reason", "detail"} when it failed for good
    finish_reason: str | None = None  # "length" means the answer was cut at max_tokens

    @property
    def ok(self) -> bool:
        return self.error is None

    def rejection(self, where: str = ""):
        """The rejection of a record whose request failed: reason `llm_<reason>`, the detail
        prefixed with `where` (e.g. "judge")."""
        from dsbuild.stages import reject

        assert self.error is not None, "rejection() of a request that did not fail"
        detail = self.error["detail"]
        return reject(f"llm_{self.error['reason']}", f"{where}: {detail}" if where else detail)

    def provenance(self) -> dict[str, Any]:
        return {
            "model_requested": self.request.model,
            "model_answered": self.model_answered,
            "template_id": self.request.template_id,
            "template_hash": self.request.template_hash,
            "sampling": dict(self.request.sampling),
            "seed": self.request.sampling.get("seed"),
            "sample_index": self.request.sample_index,
            "request_hash": self.request.key(),
            "cached": self.cached,
            "finish_reason": self.finish_reason,
        }
