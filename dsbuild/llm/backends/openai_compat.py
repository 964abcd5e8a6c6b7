"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM)
through the `openai` SDK's async client.

The SDK's own retries are off: the engine retries with its own policy and counts causes.
The reply is read from the raw HTTP response (no pydantic model per reply), which keeps the
client's CPU per request low; a body that is not valid JSON is a transient `bad_response`.
Structured output is asked for in the mode the endpoint takes (`structured_modes`: a fixed
`--structured` mode, or `auto`: the remembered one, else the first that works).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from dsbuild.llm.limits import parse_retry_after
from dsbuild.llm.structured_modes import ModeChooser, ModeMemory, shape_payload
from dsbuild.llm.types import BackendError, BackendReply, Usage, redact_url

__all__ = ["OpenAIBackend"]

_KEPT_HEADERS = (
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)


class OpenAIBackend:
    """Chat completions over HTTP; `http_client` lets tests pass an in-process transport."""

    name = "openai"
    max_concurrency = None

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float = 60.0,
        http_client: Any = None,
        structured: str = "json_schema",
        modes_file: Any = None,
    ) -> None:
        import openai

        if http_client is None and _aiohttp_available():
            # aiohttp's connection pool costs far less CPU per request than httpx's: on 2
            # cores that CPU is what limits requests/s (benchmarks/llm_engine.py).
            http_client = openai.DefaultAioHttpClient(timeout=timeout_s)
        self.client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            max_retries=0,
            timeout=timeout_s,
            http_client=http_client,
        )
        self.base_url = redact_url(str(self.client.base_url))  # for messages: no credentials
        self._openai = openai
        # The HTTP library the SDK is built on (httpx, or httpx2 in openai 3): a raw reply.
        base = next(
            c for c in type(self.client._client).__mro__ if not c.__module__.startswith("openai")
        )
        self._response_type = sys.modules[base.__module__.split(".")[0]].Response
        # How structured output is asked of this endpoint; `modes_file` remembers it.
        self.modes = ModeChooser(structured, self.base_url, ModeMemory(modes_file))

    def structured_mode(self, model: str) -> str | None:
        """The structured output mode requests to `model` go in (None: not chosen yet)."""
        return self.modes.known(model)

    async def default_model(self) -> str:
        """The first model the endpoint lists (vLLM and Ollama serve what they loaded)."""
        try:
            page = await self.client.models.list()
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        models = [m.id for m in page.data]
        if not models:
            raise BackendError("not_found", f"{self.base_url} lists no models", transient=False)
        return models[0]

    async def complete(self, payload: dict[str, Any], *, timeout: float) -> BackendReply:
        """The reply to a canonical payload; a structured one is sent in the endpoint's mode
        (`reply.structured_mode` says which)."""
        return await self.modes.complete(payload, lambda body: self._post(body, timeout))

    async def _post(self, payload: dict[str, Any], timeout: float) -> BackendReply:
        try:
            # The client's low-level POST: same auth, headers, base URL and HTTP stack as
            # `chat.completions.create`, without re-walking the typed params per request.
            http = await self.client.post(
                "/chat/completions",
                body=payload,
                cast_to=self._response_type,
                options={"timeout": timeout},
            )
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from None
        try:
            data = json.loads(http.content)
            choice = data["choices"][0]
            content = choice["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendError(
                "bad_response",
                f"unreadable reply body ({exc.__class__.__name__})",
                transient=True,
                status=http.status_code,
            ) from None
        u = data.get("usage") or None
        usage = (
            Usage(int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0))
            if isinstance(u, dict)
            else None
        )
        headers = {k: http.headers[k] for k in _KEPT_HEADERS if k in http.headers}
        return BackendReply(
            content,
            str(data.get("model") or payload.get("model") or ""),
            usage,
            choice.get("finish_reason"),
            headers,
        )

    def _error(self, exc: Exception) -> BackendError:
        o = self._openai
        if isinstance(exc, o.APITimeoutError):
            return BackendError("timeout", "the request timed out", transient=True)
        if isinstance(exc, o.APIConnectionError):
            return BackendError(
                "connection", f"cannot reach {self.base_url}: {exc}", transient=True
            )
        if isinstance(exc, o.APIStatusError):
            status = exc.status_code
            headers = {k.lower(): v for k, v in exc.response.headers.items()}
            detail = f"HTTP {status}: {_message(exc)}"
            if status == 429:
                return BackendError(
                    "rate_limited",
                    detail,
                    transient=True,
                    retry_after=parse_retry_after(headers),
                    status=status,
                )
            if status >= 500 or status in (408, 409):
                return BackendError(
                    "server_error",
                    detail,
                    transient=True,
                    retry_after=parse_retry_after(headers),
                    status=status,
                )
            kind = {
                400: "bad_request",
                401: "auth",
                403: "auth",
                404: "not_found",
                413: "bad_request",
                422: "bad_request",
            }.get(status, "http_error")
            return BackendError(kind, detail, transient=False, status=status)
        return BackendError("client_error", f"{exc.__class__.__name__}: {exc}", transient=False)

    async def aclose(self) -> None:
        await self.client.close()


def _plain_schema(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload in `json_schema` mode, dsbuild's schema extensions removed."""
    return shape_payload(payload, "json_schema")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return " ".join(str(err["message"]).split())[:300]
    return " ".join(str(exc).split())[:300]


def _aiohttp_available() -> bool:
    import importlib.util
    import os

    if os.environ.get("DSBUILD_HTTP_CLIENT") == "httpx":
        return False
    return importlib.util.find_spec("aiohttp") is not None
