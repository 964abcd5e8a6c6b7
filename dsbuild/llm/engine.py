"""`LLMEngine`: every LLM request of every builder goes through here.

One call, `complete(request)`, does in order: the cache (a hit costs nothing and sends
nothing), the budget check (refuse to start a request that could take the run over
`max_cost`), the client-side limits (adaptive concurrency, optional requests/tokens per
minute), the backend call with bounded, jittered retries on transient failures, usage and
cost accounting, and — for structured output — local validation with bounded repair turns
that show the model its error. A request that still fails comes back with `error` set
(reason code and detail) and `pending` when the world failed rather than the request (see
`types.WORLD_KINDS`); it is never an empty answer and never retried forever. When every
attempt fails the same way (`limits.FailureWatch`), the engine stops: this and every later
call raise `ServiceError` DSB403 naming the endpoint, the model and the server's message.
How a backend asks for structured output (its mode: `structured_modes`) is the backend's
business; once known, the mode is part of the request's cache key and of its provenance.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable

from dsbuild.errors import BudgetExceededError, ServiceError, UsageError
from dsbuild.llm.limits import (
    AdaptiveLimiter,
    FailureWatch,
    RateLimiter,
    backoff_delay,
    pause_from_headers,
)
from dsbuild.llm.structured import check_structured, repair_turn
from dsbuild.llm.types import (
    Backend,
    BackendError,
    BackendReply,
    ChatRequest,
    LLMResult,
    Usage,
    is_world_failure,
    redact_url,
)

__all__ = ["DEFAULT_COMPLETION_ESTIMATE", "Budget", "EngineStats", "LLMEngine", "redact_url"]

# Completion tokens assumed for a request without max_tokens, when estimating cost.
DEFAULT_COMPLETION_ESTIMATE = 512


@dataclass
class EngineStats:
    """What the engine did: requests sent, cache hits, retries and failures by cause, usage."""

    requests_sent: int = 0
    cache_hits: int = 0
    completed: int = 0
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    pending: int = 0  # failures of the world (left for a re-run), a subset of `failures`
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_tokens: bool = False
    cost_usd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests_sent": self.requests_sent,
            "cache_hits": self.cache_hits,
            "completed": self.completed,
            "retries": dict(self.retries),
            "failures": dict(self.failures),
            "pending": self.pending,
            "repairs": self.repairs,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "estimated_tokens": self.estimated_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class Budget:
    """A spending limit (`max_cost` USD, None: none) that several engines may share: what
    was spent, and what requests in flight have set aside."""

    max_cost: float | None = None
    spent: float = 0.0
    reserved: float = 0.0


class _NotSent(Exception):
    """A cache miss while requests go to a batch queue instead of the endpoint."""


class _Failed(Exception):
    def __init__(self, reason: str, detail: str, world: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.world = reason, detail, world


# What to do about a systematic failure, by kind.
_SYSTEMATIC_FIX = {
    "connection": "start the server or correct --base-url",
    "timeout": "check that the server answers at all; raise --timeout if it is only slow",
    "auth": "check the API key (OPENAI_API_KEY or --api-key) and its permissions",
    "format_refused": "use --structured auto, or the mode the server takes (json_object, "
    "guided_json, prompt)",
    "not_found": "check --model against the models the server lists (GET /models) and "
    "--base-url (it usually ends in /v1)",
}


class LLMEngine:
    """Cached, budgeted, rate-limited, retried calls to one model through one backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        model: str | None,
        spec: str,
        cache: Any = None,
        cache_only: bool = False,
        concurrency: int = 16,
        max_retries: int = 6,
        timeout_s: float = 60.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        price: Any = None,
        max_cost: float | None = None,
        max_repairs: int = 2,
        on_usage: Callable[[int, int, float], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        seed: int = 0,
        budget: Budget | None = None,
    ) -> None:
        self.backend, self.model, self.spec = backend, model, spec
        self.cache, self.cache_only = cache, cache_only
        cap = (
            concurrency
            if backend.max_concurrency is None
            else min(concurrency, backend.max_concurrency)
        )
        self.limiter = AdaptiveLimiter(cap)
        self.rpm = RateLimiter(requests_per_minute) if requests_per_minute else None
        self.tpm = RateLimiter(tokens_per_minute) if tokens_per_minute else None
        self.max_retries, self.timeout_s, self.max_repairs = max_retries, timeout_s, max_repairs
        self.price = price
        # `budget` is shared by the engines of one build; else this engine's own.
        self.budget = budget if budget is not None else Budget(max_cost)
        self.on_usage, self.sleep = on_usage, sleep
        self.rng = random.Random(seed)
        self.stats = EngineStats()
        self.watch = FailureWatch()
        self._stopped: ServiceError | None = None
        self._completions_seen = 0
        self._max_completion = 0
        self._model_lock = asyncio.Lock()
        self.batch: Any = None  # a `batch_queue.BatchQueue` with --batch: misses go there

    def use_batch(self, settings: Any) -> None:
        """Answer cache misses through Batch API rounds (`settings`: a `BatchSettings`); the
        batch ids are kept in the run directory. See `dsbuild.llm.batch_queue`."""
        from dsbuild.llm.batch_queue import BatchQueue, check_backend

        check_backend(self, settings, cache_only=self.cache_only)
        self.batch = BatchQueue(self, settings)

    def bind_run_info(self, run_info: Any) -> None:
        """Add this engine's tokens and cost to a run's `run.json` totals (once per run)."""
        if run_info is not None and getattr(self, "_run_info", None) is not run_info:
            self._run_info = run_info
            self.on_usage = lambda p, c, cost: run_info.add_usage(
                prompt_tokens=p, completion_tokens=c, cost_usd=cost
            )

    # -- building requests -------------------------------------------------------------
    def request(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict | None = None,
        sampling: dict[str, Any] | None = None,
        sample_index: int = 0,
        id: str | None = None,
        template: Any = None,
    ) -> ChatRequest:
        """A `ChatRequest` for this engine's model (template: a `PromptTemplate` or None).

        The backend may shape the response format first (`prepare_response_format`): the
        local model turns dsbuild's grammar patterns into `pattern`s it enforces, so the
        request (and its cache key) says what the grammar will do."""
        prepare = getattr(self.backend, "prepare_response_format", None)
        if prepare is not None and response_format is not None:
            response_format = prepare(response_format)
        return ChatRequest(
            model=self.model or "",
            messages=tuple(messages),
            response_format=response_format,
            sampling=dict(sampling or {}),
            sample_index=sample_index,
            id=id,
            template_id=getattr(template, "id", None),
            template_hash=getattr(template, "hash", None),
        )

    async def resolve_model(self) -> str:
        """The model name to send; asks the endpoint once when none was configured."""
        if self.model is None:
            async with self._model_lock:
                if self.model is None:
                    try:
                        self.model = await self.backend.default_model()  # type: ignore[attr-defined]
                    except BackendError as exc:
                        from dsbuild.errors import ServiceError

                        raise ServiceError(
                            f"cannot ask {self.spec} which model it serves: {exc}",
                            "pass --model NAME",
                            code="DSB401",
                        ) from None
        return self.model

    # -- the one call ------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> LLMResult:
        """Answer `request`; failures come back in `result.error`, never as empty answers.

        Raises `BudgetExceededError` when starting the request could exceed `max_cost`, and
        `UsageError` (DSB107) on a cache miss in cache-only mode. With a batch queue
        (`use_batch`), a miss is queued and `dsbuild.outcomes.Deferred` raised instead; once
        the queue is flushed, the same call returns the answer.
        """
        return await self._complete(request, self.batch)

    async def complete_online(self, request: ChatRequest) -> LLMResult:
        """`complete` through the endpoint's online path, whether or not a batch queue is on."""
        return await self._complete(request, None)

    async def _complete(self, request: ChatRequest, queue: Any) -> LLMResult:
        if not request.model:
            request = replace(request, model=await self.resolve_model())
        request = self.with_structured_mode(request)
        if queue is not None:
            from dsbuild.llm.batch_queue import as_batched

            request = as_batched(request)
            done = queue.answer(request)
            if done is not None:
                return self._counted(done)
        result = LLMResult(request=request, cached=True)
        schema = request.json_schema
        current = request
        for round_ in range(self.max_repairs + 1):
            try:
                reply, cached, cost = await self._reply(current, send=queue is None)
            except _Failed as failed:
                return self._fail(result, failed.reason, failed.detail, pending=failed.world)
            except _NotSent:
                raise queue.defer(request) from None
            if (
                reply.structured_mode is not None
                and reply.structured_mode != current.structured_mode
            ):
                current = replace(current, structured_mode=reply.structured_mode)
                result.request = replace(result.request, structured_mode=reply.structured_mode)
            result.cached = result.cached and cached
            result.content, result.model_answered = reply.content, reply.model
            result.finish_reason = reply.finish_reason
            result.cost_usd += cost
            result.add_usage(reply.usage or Usage())
            if schema is None:
                break
            value, reason, message = check_structured(reply.content, schema)
            if reason is None:
                result.json = value
                break
            if round_ == self.max_repairs:
                return self._fail(result, reason, f"{message} (after {round_} repair turns)")
            self.stats.repairs += 1
            current = repair_turn(current, reply.content, message)
        self.stats.completed += 1
        return result

    def _counted(self, result: LLMResult) -> LLMResult:
        """Count a result another way got (a batch round) in this engine's statistics."""
        if result.error is None:
            self.stats.completed += 1
        else:
            self.stats.failures[result.error["reason"]] += 1
            self.stats.pending += result.pending
        return result

    def with_structured_mode(self, request: ChatRequest) -> ChatRequest:
        """`request` with the structured output mode its backend will send it in, when that
        is known already (it is part of the cache key; see `structured_modes`)."""
        known = getattr(self.backend, "structured_mode", None)
        if known is None or request.structured_mode is not None or request.json_schema is None:
            return request
        mode = known(request.model)
        return replace(request, structured_mode=mode) if mode else request

    def _cache_candidates(self, request: ChatRequest) -> list[ChatRequest]:
        """The requests whose cached answer answers `request`: itself, or, while the mode is
        not chosen yet, the request in each mode the backend may choose."""
        if (
            request.structured_mode is not None
            or request.json_schema is None
            or getattr(self.backend, "structured_mode", None) is None
        ):
            return [request]
        from dsbuild.llm.structured_modes import MODES

        return [replace(request, structured_mode=mode) for mode in MODES]

    def _fail(
        self, result: LLMResult, reason: str, detail: str, *, pending: bool = False
    ) -> LLMResult:
        result.error = {"reason": reason, "detail": detail}
        result.cached = False
        result.pending = pending
        self.stats.failures[reason] += 1
        self.stats.pending += pending
        return result

    @property
    def endpoint(self) -> str:
        """Where requests go, credentials redacted: the base URL, or the backend's name."""
        url = getattr(self.backend, "base_url", None)
        return (
            redact_url(str(url)) if url else f"the {getattr(self.backend, 'name', 'model')} backend"
        )

    def _systematic(self, exc: BackendError) -> ServiceError:
        """The error that stops the engine once every attempt fails the same way."""
        if self._stopped is None:
            w = self.watch
            seen = (
                f"the first {w.streak} requests failed"
                if w.successes == 0
                else f"the last {w.streak} requests failed"
            )
            message = " ".join(exc.detail.split())[:300]
            fix = _SYSTEMATIC_FIX.get(exc.kind, "fix what the server's message says")
            self._stopped = ServiceError(
                f"stopped early: {seen} the same way at {self.endpoint} (model "
                f"{self.model or self.spec}): {exc.kind}: {message}",
                f"{fix}, then run the same command again: finished records are kept and the "
                "rest are retried",
                code="DSB403",
            )
        return ServiceError(self._stopped.what, self._stopped.fix, code="DSB403")

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            raise ServiceError(self._stopped.what, self._stopped.fix, code="DSB403")

    def _charge(self, usage: Usage) -> float:
        """Count a sent request's tokens and cost in the engine's and the run's totals."""
        cost = self._cost(usage)
        self.account(usage, cost)
        return cost

    def account(self, usage: Usage, cost: float) -> None:
        """Count an answer's tokens and `cost` in the engine's and the run's totals (also for
        answers received another way, e.g. from a Batch API round)."""
        s = self.stats
        s.prompt_tokens += usage.prompt_tokens
        s.completion_tokens += usage.completion_tokens
        s.estimated_tokens |= usage.estimated
        s.cost_usd += cost
        self.budget.spent += cost
        self._completions_seen += 1
        self._max_completion = max(self._max_completion, usage.completion_tokens)
        if self.on_usage:
            self.on_usage(usage.prompt_tokens, usage.completion_tokens, cost)

    def _cost(self, usage: Usage) -> float:
        if self.price is None:
            return 0.0
        from dsbuild.llm.pricing import cost_usd

        return cost_usd(usage, self.price)

    def estimate_cost(self, request: ChatRequest, price: Any = None) -> float:
        """A guess of one request's cost, used to keep within the budget: the prompt's
        estimated tokens plus `max_tokens` completion tokens, or, once 20 answers were seen,
        1.25 x the longest answer so far if that is less. `price`: another price than the
        engine's (the Batch API's)."""
        from dsbuild.llm.tokens import estimate_prompt_tokens

        completion = int(request.sampling.get("max_tokens") or DEFAULT_COMPLETION_ESTIMATE)
        if self._completions_seen >= 20:
            completion = min(completion, int(1.25 * self._max_completion) + 1)
        usage = Usage(estimate_prompt_tokens(list(request.messages)), completion, True)
        if price is None:
            return self._cost(usage)
        from dsbuild.llm.pricing import cost_usd

        return cost_usd(usage, price)

    def _budget_error(self, what: str) -> BudgetExceededError:
        budget = self.budget
        held = (
            f" (and about ${budget.reserved:.4f} set aside for work in flight)"
            if budget.reserved > 1e-12
            else ""
        )
        return BudgetExceededError(
            f"budget reached: spent ${budget.spent:.4f} of --max-cost "
            f"${budget.max_cost:g}{held}; {what} would pass it",
            "run the same command again with a larger --max-cost to resume where it stopped",
            code="DSB501",
        )

    def reserve_batch(self, requests: list[ChatRequest], price: Any = None) -> float:
        """Before a batch of `requests` is sent another way (a Batch API batch at `price`):
        set aside its estimated cost, or raise `BudgetExceededError` (DSB501) when it cannot
        fit the budget. Returns what was set aside; give it back with `release` once the
        batch's answers are charged."""
        budget = self.budget
        if budget.max_cost is None:
            return 0.0
        estimate = sum(self.estimate_cost(r, price) for r in requests)
        if budget.spent + budget.reserved + estimate > budget.max_cost:
            raise self._budget_error(
                f"the next batch ({len(requests)} lines, about ${estimate:.4f} at batch prices)"
            )
        budget.reserved += estimate
        return estimate

    def release(self, amount: float) -> None:
        """Give back what `reserve_batch` set aside."""
        self.budget.reserved = max(0.0, self.budget.reserved - amount)

    # -- one reply: cache, budget, limits, retries ----------------------------------------
    async def _reply(
        self, request: ChatRequest, *, send: bool = True
    ) -> tuple[BackendReply, bool, float]:
        """(reply, served from cache, cost charged); `send=False`: a miss raises `_NotSent`."""
        key = request.key()
        if self.cache is not None:
            for candidate in self._cache_candidates(request):
                hit = self.cache.get(candidate.key())
                if hit is not None:
                    self.stats.cache_hits += 1
                    return (
                        replace(
                            BackendReply.from_dict(hit), structured_mode=candidate.structured_mode
                        ),
                        True,
                        0.0,
                    )
        if self.cache_only:
            raise UsageError(
                f"request {request.id or key[:12]} (cache key {key[:16]}) is not in the cache and "
                "--cache-only forbids sending it",
                "run without --cache-only, or point --cache-dir at the cache that holds it",
                code="DSB107",
            )
        if not send:
            raise _NotSent
        estimate = await self._reserve(request)
        try:
            reply = await self._send(request)
            if reply.usage is None:
                from dsbuild.llm.tokens import estimate_usage

                reply = replace(
                    reply, usage=estimate_usage(list(request.messages), reply.content or "")
                )
            cost = self._charge(reply.usage)
        finally:
            self.budget.reserved -= estimate
        if reply.structured_mode is not None and reply.structured_mode != request.structured_mode:
            key = replace(request, structured_mode=reply.structured_mode).key()  # as sent
        if self.cache is not None:
            self.cache.put(key, reply.to_dict())
        return reply, False, cost

    async def _reserve(self, request: ChatRequest) -> float:
        """Set aside the request's estimated cost, or raise when it cannot fit the budget.

        While other requests are in flight it waits for them to settle their real cost
        before deciding, so a run stops within about one request's cost of `max_cost`.
        """
        budget = self.budget
        if budget.max_cost is None:
            return 0.0
        while True:
            estimate = self.estimate_cost(request)
            if budget.spent + budget.reserved + estimate <= budget.max_cost:
                budget.reserved += estimate
                return estimate
            if budget.reserved <= 1e-12:
                raise self._budget_error(f"the next request (about ${estimate:.4f})")
            await asyncio.sleep(0.005)

    async def _send(self, request: ChatRequest) -> BackendReply:
        payload = request.payload()
        tokens = None
        for attempt in range(1, self.max_retries + 2):
            self._check_stopped()
            if self.rpm is not None:
                await self.rpm.acquire(1)
            if self.tpm is not None:
                if tokens is None:
                    from dsbuild.llm.tokens import estimate_prompt_tokens

                    tokens = estimate_prompt_tokens(list(request.messages)) + int(
                        request.sampling.get("max_tokens") or DEFAULT_COMPLETION_ESTIMATE
                    )
                await self.tpm.acquire(tokens)
            await self.limiter.acquire()
            try:
                self._check_stopped()
            except ServiceError:
                self.limiter.release()
                raise
            self.stats.requests_sent += 1
            try:
                reply = await self.backend.complete(payload, timeout=self.timeout_s)
            except BackendError as exc:
                self.limiter.release()
                if exc.kind == "rate_limited":
                    self.limiter.on_overload()
                if self.watch.failure(exc.kind, exc.status, exc.detail, request.key()):
                    raise self._systematic(exc) from None
                if not exc.transient:
                    raise _Failed(exc.kind, exc.detail, is_world_failure(exc.kind)) from None
                if attempt > self.max_retries:
                    raise _Failed(
                        exc.kind, f"{exc.detail} (gave up after {attempt} attempts)", True
                    ) from None
                self.stats.retries[exc.kind] += 1
                await self.sleep(backoff_delay(attempt, retry_after=exc.retry_after, rng=self.rng))
                continue
            self.limiter.release()
            self.limiter.on_success()
            self.watch.success()
            pause = pause_from_headers(reply.headers) if reply.headers else None
            if pause:
                self.limiter.pause(pause)
            return reply
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.backend.aclose()
