"""The data that crosses the LLM engine's boundaries: requests, backend replies, results.

A `ChatRequest` is what a stage asks for; its `payload()` is the canonical request body
(the OpenAI chat-completions shape) and `key()` the cache key: the hash of that payload
plus the sample index, so n samples at temperature > 0 stay distinct. Backends turn a
payload into a `BackendReply` or raise a `BackendError` saying whether a retry may help.

A request that fails for good fails either because of the record (a request the endpoint
refuses as malformed or too long, an answer that breaks its schema after repairs: the record
is rejected) or because of the world (`WORLD_KINDS`: the endpoint down, timing out,
overloaded, refusing the key: the record stays *pending* and a re-run retries it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from dsbuild.canonical import canonical_json

__all__ = [
    "Backend",
    "BackendError",
    "BackendReply",
    "ChatRequest",
    "KEYED_MODES",
    "LLMResult",
    "SAMPLING_KEYS",
    "Usage",
    "WORLD_KINDS",
    "is_world_failure",
    "redact_url",
]

# Sampling parameters that change the answer, and so belong to the cache key.
SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
)


# Backend failure kinds that say nothing about the request's content: after their retries
# the record is left pending, never rejected. (Any failure the backend calls transient is
# one too.) `bad_request`, `context_length` and local validation failures are content.
WORLD_KINDS = frozenset(
    {
        "connection",
        "timeout",
        "rate_limited",
        "server_error",
        "bad_response",
        "auth",
        "not_found",
        "http_error",
        "format_refused",
    }
)

# Structured output modes whose request differs from the canonical payload, so they are part
# of the cache key (`json_schema` sends the canonical payload; `grammar` is the local model's).
# See `dsbuild.llm.structured_modes`.
KEYED_MODES = frozenset({"json_object", "guided_json", "prompt"})


def is_world_failure(kind: str, transient: bool = False) -> bool:
    """True when a failure of this kind is the world's (endpoint, network), not the record's."""
    return transient or kind in WORLD_KINDS


def redact_url(url: str) -> str:
    """`url` without credentials (`dsbuild.redact`): for messages naming an endpoint."""
    from dsbuild.redact import redact_text

    return redact_text(url)


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
    # How the backend asks for structured output (`structured_modes.MODES`, or "grammar");
    # None: not decided yet, or no structured output.
    structured_mode: str | None = None

    def payload(self) -> dict[str, Any]:
        """The canonical request body: model, messages, response format, sampling."""
        body: dict[str, Any] = {"model": self.model, "messages": list(self.messages)}
        if self.response_format is not None:
            body["response_format"] = self.response_format
        body.update({k: v for k, v in self.sampling.items() if v is not None})
        return body

    def key(self) -> str:
        """The cache key: sha256 of the canonical payload and the sample index, plus the
        structured output mode when that changes what is sent (`KEYED_MODES`)."""
        return self._key

    @cached_property
    def _key(self) -> str:
        data: dict[str, Any] = {"payload": self.payload(), "sample_index": self.sample_index}
        if self.structured_mode in KEYED_MODES and self.json_schema is not None:
            data["structured_mode"] = self.structured_mode  # another request was sent
        text = canonical_json(data)
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
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "estimated": self.estimated,
        }


@dataclass(frozen=True)
class BackendReply:
    """What a backend returns for one payload."""

    content: str | None
    model: str  # the model that answered, as the provider names it
    usage: Usage | None = None  # None: not reported; the engine estimates
    finish_reason: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # rate-limit headers, lower-case
    structured_mode: str | None = None  # the mode the structured request was sent in

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "model": self.model,
            "usage": self.usage.to_dict() if self.usage else None,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackendReply:
        u = data.get("usage")
        usage = (
            Usage(u["prompt_tokens"], u["completion_tokens"], u.get("estimated", False))
            if u
            else None
        )
        return cls(data.get("content"), data.get("model", ""), usage, data.get("finish_reason"))


class BackendError(Exception):
    """A backend call failed. `kind` is the reason code (rate_limited, server_error, timeout,
    connection, bad_response, bad_request, auth, not_found, ...); `transient` says whether
    a retry may succeed; `retry_after` is the server's wait hint in seconds."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
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
    pending: bool = False  # it failed because of the world (see WORLD_KINDS): retry later
    batch_id: str | None = None  # the Batch API batch that answered (`batch_api`), if any
    batch_line: str | None = None  # and the `custom_id` of the line that answered

    @property
    def ok(self) -> bool:
        return self.error is None

    def add_usage(self, usage: Usage) -> None:
        """Count one more reply's tokens in this result (a repair turn adds to the first)."""
        prev = self.usage or Usage()
        self.usage = Usage(
            prev.prompt_tokens + usage.prompt_tokens,
            prev.completion_tokens + usage.completion_tokens,
            prev.estimated or usage.estimated,
        )

    def raise_if_pending(self, where: str = "", *, output: Any = None) -> None:
        """Raise `dsbuild.outcomes.Pending` when the request failed because of the world, so
        the runner leaves the record for the next run instead of rejecting it."""
        if self.error is not None and self.pending:
            from dsbuild.outcomes import Pending

            detail = self.error["detail"]
            raise Pending(
                f"llm_{self.error['reason']}",
                f"{where}: {detail}" if where else detail,
                output=output,
            )

    def rejection(self, where: str = ""):
        """The rejection of a record whose request failed: reason `llm_<reason>`, the detail
        prefixed with `where` (e.g. "judge"). A failure of the world is no reason to drop
        the record: then this raises `Pending` instead (see `raise_if_pending`)."""
        from dsbuild.outcomes import reject

        assert self.error is not None, "rejection() of a request that did not fail"
        self.raise_if_pending(where)
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
            "structured_mode": self.request.structured_mode,
            **(
                {"batch_id": self.batch_id, "batch_line": self.batch_line}
                if self.batch_id is not None
                else {}
            ),
        }
