"""`dsbuild llm run`: the engine as a batch command, on the resumable runner.

Input: JSONL, one request per line `{"id", "messages", optional "response_format",
sampling parameters (temperature, top_p, max_tokens, seed, stop, ...), optional
"sample_index"}`. Output: one result per input line, in input order,
`{"id", "content", "json", "usage", "provenance", "error"}`. A line that cannot be read or
is not a request gets a result with `error.reason = "bad_input"`, so the output always
lines up with the input. The work runs in a run directory (default `OUT.run/`): killed
and run again, it resumes; the answers already received come from the cache.

A line that failed because of the world (endpoint down, timeouts, 5xx after retries) is
written as a failed line too, but it is *pending*: the command exits 4 and running it again
retries exactly those lines. Lines that failed for their content (a schema the answer never
met, a request the endpoint refuses) are final.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.llm.types import SAMPLING_KEYS

__all__ = ["BatchRounds", "BatchSummary", "batch_builder", "dry_run", "read_requests", "run_batch"]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_requests(path: Path):
    """Yield one item per input line: the request fields, or a `bad_input` marker."""
    from dsbuild.readers import read_records

    for n, item in enumerate(read_records(path), start=1):
        if item.problem is not None:
            yield {"id": f"line-{n}", "_bad_input": f"{item.locator}: {item.problem.message}"}
            continue
        rec = item.record
        rid = rec.get("id")
        rid = str(rid) if rid is not None else f"line-{n}"
        messages = rec.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            yield {
                "id": rid,
                "_bad_input": f"{item.locator}: 'messages' must be a non-empty list of "
                "{role, content} objects",
            }
            continue
        out = {"id": rid, "messages": messages}
        for key in ("response_format", "sample_index", *SAMPLING_KEYS):
            if rec.get(key) is not None:
                out[key] = rec[key]
        yield out


def _request_of(engine, record: dict, default_sampling: dict[str, Any]):
    sampling = {**default_sampling, **{k: record[k] for k in SAMPLING_KEYS if k in record}}
    return engine.request(
        record["messages"],
        response_format=record.get("response_format"),
        sampling=sampling,
        sample_index=int(record.get("sample_index", 0)),
        id=record["id"],
    )


class BatchRounds:
    """`--batch`: before the first line is completed, every request of the input that
    misses the cache goes through Batch API rounds (`dsbuild.llm.batch_api`); the batch state
    (file and batch ids) lives in the run directory, so a killed run re-attaches to its live
    batches. The lines then take their result from here; lines left unanswered fall back to
    the engine (the cache)."""

    def __init__(
        self,
        in_path: Path,
        default_sampling: dict[str, Any],
        *,
        max_rounds: int = 4,
        poll_interval_s: float = 5.0,
        **runner_options: Any,
    ) -> None:
        self.in_path, self.default_sampling = in_path, default_sampling
        self.max_rounds, self.poll_interval_s = max_rounds, poll_interval_s
        self.runner_options = runner_options
        self.results: dict[str, Any] | None = None
        self.stats: dict[str, int] = {}
        self.stopped: Exception | None = None  # the budget stopped the rounds
        self.unanswered: set[str] = set()  # then: the keys of the requests left unanswered
        self._lock: Any = None

    def request(self, engine, record: dict):
        """The request of a line as the batch sends it: in the structured output mode the
        endpoint is known to take, else the canonical `json_schema` one."""
        return self.as_batched(engine, _request_of(engine, record, self.default_sampling))

    @staticmethod
    def as_batched(engine, request):
        """`request` as a batch sends it (see `request`)."""
        req = engine.with_structured_mode(request)
        if req.structured_mode is None and req.json_schema is not None:
            from dataclasses import replace

            req = replace(req, structured_mode="json_schema")
        return req

    async def ensure(self, ctx) -> dict[str, Any]:
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.results is None:
                self.results = await self._run(ctx)
        return self.results

    async def _run(self, ctx) -> dict[str, Any]:
        from dsbuild.errors import BudgetExceededError
        from dsbuild.llm.batch_api import BatchAPIClient, BatchRunner
        from dsbuild.llm.pricing import batch_price

        engine = ctx.llm
        run_dir = Path(ctx.run_info.path).parent
        log = ctx.logger

        def progress(batch_id: str, done: int, failed: int, total: int) -> None:
            log.info("batch %s: %d of %d lines done, %d failed", batch_id, done, total, failed)

        price = batch_price(engine.price)
        runner = BatchRunner(
            BatchAPIClient(engine.backend.client),
            run_dir,
            cache=engine.cache,
            price=price,
            max_repairs=engine.max_repairs,
            max_rounds=self.max_rounds,
            poll_interval_s=self.poll_interval_s,
            on_charge=engine.account,
            progress=progress,
            seed=ctx.seed,
            # --max-cost: checked before each batch is submitted, at batch prices
            reserve=lambda reqs: engine.reserve_batch(reqs, price),
            release=engine.release,
            **self.runner_options,
        )
        reqs = [
            self.request(engine, rec)
            for rec in read_requests(self.in_path)
            if "_bad_input" not in rec
        ]
        try:
            results = await runner.run(reqs)
        except BudgetExceededError as exc:  # lines answered so far are written, then it stops
            self.stopped, results = exc, getattr(exc, "results", {})
            self.unanswered = {r.key() for r in reqs} - set(results)
        self.stats = runner.stats.to_dict()
        return {k: r for k, r in results.items() if not r.cached}


def batch_builder(
    in_path: Path,
    default_sampling: dict[str, Any],
    concurrency: int = 16,
    batch: BatchRounds | None = None,
):
    """Two stages: read the requests (deterministic source), then complete each (async).
    With `batch`, the requests missing from the cache are answered by Batch API rounds."""
    from dsbuild.stages import Builder, map_stage, source_stage

    def read(ctx):
        yield from read_requests(in_path)

    async def complete(record: dict, ctx) -> dict:
        if "_bad_input" in record:
            return {
                "id": record["id"],
                "content": None,
                "json": None,
                "usage": None,
                "provenance": None,
                "error": {"reason": "bad_input", "detail": record["_bad_input"]},
            }
        engine = ctx.llm
        result = None
        if batch is not None:
            req = batch.request(engine, record)
            result = (await batch.ensure(ctx)).get(req.key())
            if result is not None:
                from dataclasses import replace

                result = replace(result, request=replace(result.request, id=record["id"]))
                if result.ok:
                    engine.stats.completed += 1
            elif batch.stopped is not None and req.key() in batch.unanswered:
                raise batch.stopped  # not sent: the budget stopped the batch rounds
        if result is None:
            result = await engine.complete(_request_of(engine, record, default_sampling))
        line = {
            "id": record["id"],
            "content": result.content,
            "json": result.json,
            "usage": result.usage.to_dict() if result.usage else None,
            "cost_usd": round(result.cost_usd, 8),
            "provenance": result.provenance(),
            "error": result.error,
        }
        result.raise_if_pending(output=line)  # written now, retried by the next run
        return line

    return Builder(
        "llm-run",
        "1",
        (
            source_stage("read_requests", read, description="read the input JSONL"),
            map_stage(
                "complete",
                complete,
                concurrency=concurrency,
                description="one LLM request per line",
            ),
        ),
    )


@dataclass
class BatchSummary:
    run: Any  # RunResult
    engine_stats: dict[str, Any]
    out_path: Path
    seconds: float
    errors: dict[str, int]
    n_results: int


def _config(in_path: Path, settings, engine, max_repairs: int) -> dict[str, Any]:
    return {
        "dataset": "llm-run",
        "input": str(in_path.resolve()),
        "input_sha256": _file_sha256(in_path),
        "model": engine.spec,
        "seed": settings.seed,
        "max_repairs": max_repairs,
        "concurrency": settings.concurrency,
        "options": dict(settings.options),
    }


def run_batch(
    in_path: Path,
    out_path: Path,
    settings,
    *,
    run_dir: Path | None = None,
    mode: str = "resume",
    cache_only: bool = False,
    max_cost: float | None = None,
    prices_file: Path | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    max_repairs: int = 2,
    progress=None,
    use_cache: bool = True,
    http_client: Any = None,
    batch: bool = False,
    batch_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """Run every request of `in_path` through the engine; write results to `out_path`.

    `batch`: the requests that miss the cache go through OpenAI Batch API rounds
    (`BatchRounds`; `batch_options` are `BatchRounds` / `BatchRunner` keyword arguments) at
    the batch price, instead of online calls."""
    import asyncio
    import json

    from dsbuild.llm.factory import make_engine
    from dsbuild.runs import run_builder

    if not in_path.is_file():
        from dsbuild.errors import InputError

        raise InputError(f"input file {in_path} not found", "check the path", code="DSB301")
    from dsbuild.runs.runner import RunIncompleteError

    run_dir = run_dir or out_path.with_name(out_path.name + ".run")
    engine = make_engine(
        settings,
        cache_only=cache_only,
        use_cache=use_cache,
        max_cost=max_cost,
        prices_file=prices_file,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        max_repairs=max_repairs,
        http_client=http_client,
    )
    # One event loop for everything the client does: asking the server for its model, the
    # run, and closing the client (its connections belong to the loop that opened them).
    with asyncio.Runner() as loop:
        try:
            if engine.model is None:
                loop.run(engine.resolve_model())
            default_sampling = {"seed": settings.seed}
            # Twice as many workers as requests allowed in flight: a request sleeping before a
            # retry holds a worker but no connection, and must not leave the connection idle.
            rounds = None
            if batch:
                _check_batch(engine, cache_only=cache_only)
                rounds = BatchRounds(in_path, default_sampling, **(batch_options or {}))
            builder = batch_builder(
                in_path, default_sampling, 2 * max(1, settings.concurrency), rounds
            )
            config = _config(in_path, settings, engine, max_repairs)
            t0 = time.monotonic()
            incomplete: RunIncompleteError | None = None
            try:
                result = run_builder(
                    builder,
                    run_dir,
                    config,
                    mode=mode,
                    progress=progress,
                    context_extras={"llm": engine},
                    loop=loop,
                )
            except RunIncompleteError as e:  # lines failed for external reasons: write them too
                incomplete, result = e, e.result
        finally:
            _close(engine, loop)
    seconds = time.monotonic() - t0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    shutil.copyfile(result.records_path, tmp)
    tmp.replace(out_path)
    errors: dict[str, int] = {}
    n = 0
    with open(out_path, encoding="utf-8") as f:
        for line in f:
            n += 1
            err = json.loads(line).get("error")
            if err:
                errors[err["reason"]] = errors.get(err["reason"], 0) + 1
    summary = BatchSummary(result, engine.stats.to_dict(), out_path, seconds, errors, n)
    if incomplete is not None:
        incomplete.summary = summary  # type: ignore[attr-defined]
        raise incomplete
    return summary


def _check_batch(engine, *, cache_only: bool) -> None:
    from dsbuild.errors import ConfigError

    if getattr(getattr(engine.backend, "client", None), "batches", None) is None:
        raise ConfigError(
            f"--batch needs an OpenAI-compatible endpoint with the Batch API; model "
            f"{engine.spec} has none",
            "use an openai: model (or --base-url of a server serving /v1/batches), or drop --batch",
            code="DSB103",
        )
    if cache_only:
        raise ConfigError(
            "--batch sends requests and --cache-only forbids it",
            "drop one of the two",
            code="DSB103",
        )


def _close(engine, loop=None) -> None:
    import asyncio

    try:
        if loop is not None:
            loop.run(engine.aclose())
        else:
            asyncio.run(engine.aclose())
    except RuntimeError:
        pass
    if engine.cache is not None:
        engine.cache.close()


def dry_run(
    in_path: Path,
    settings,
    *,
    prices_file: Path | None = None,
    batch_api: bool = False,
    max_lines: int | None = None,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """How many requests a run would send (after cache hits) and their estimated cost.

    `batch_api` (`--batch`): also how many Batch API input files (batches) the lines to send
    make (split at `max_lines` lines or `max_bytes`, the Batch API's limits by default), and
    the cost at batch prices."""
    from dsbuild.llm.batch_api import MAX_BATCH_BYTES, MAX_BATCH_LINES, batch_line
    from dsbuild.llm.factory import make_engine
    from dsbuild.llm.pricing import batch_price

    engine = make_engine(settings, prices_file=prices_file)
    if batch_api:
        try:
            _check_batch(engine, cache_only=False)
        except BaseException:
            _close(engine)
            raise
    engine.model = engine.model or "(server default)"
    price = batch_price(engine.price) if batch_api else None
    max_lines = max(1, max_lines or MAX_BATCH_LINES)
    max_bytes = max_bytes or MAX_BATCH_BYTES
    n = bad = hits = 0
    cost = 0.0
    prompt_tokens = completion_tokens = 0
    batches = lines_in_batch = bytes_in_batch = 0
    batched: set[str] = set()  # a request asked twice goes into a batch once
    from dsbuild.llm.engine import DEFAULT_COMPLETION_ESTIMATE
    from dsbuild.llm.tokens import estimate_prompt_tokens

    rounds = BatchRounds(in_path, {}) if batch_api else None
    batch: list = []

    def as_sent(r):
        if rounds is None:
            return engine.with_structured_mode(r)  # the mode is in the key
        return rounds.as_batched(engine, r)

    def flush() -> None:
        nonlocal hits, cost, prompt_tokens, completion_tokens
        nonlocal batches, lines_in_batch, bytes_in_batch
        batch[:] = [as_sent(r) for r in batch]
        found = (
            engine.cache.contains_many([r.key() for r in batch])
            if engine.cache is not None
            else set()
        )
        for r in batch:
            if r.key() in found:
                hits += 1
                continue
            p = estimate_prompt_tokens(list(r.messages))
            c = int(r.sampling.get("max_tokens") or DEFAULT_COMPLETION_ESTIMATE)
            prompt_tokens += p
            completion_tokens += c
            cost += engine.estimate_cost(r, price)
            if rounds is not None and r.key() not in batched:  # as BatchRunner._chunks does
                batched.add(r.key())
                size = len(batch_line(r))
                if lines_in_batch and (
                    lines_in_batch >= max_lines or bytes_in_batch + size > max_bytes
                ):
                    lines_in_batch = bytes_in_batch = 0
                if lines_in_batch == 0:
                    batches += 1
                lines_in_batch += 1
                bytes_in_batch += size
        batch.clear()

    for rec in read_requests(in_path):
        n += 1
        if "_bad_input" in rec:
            bad += 1
            continue
        batch.append(_request_of(engine, rec, {"seed": settings.seed}))
        if len(batch) >= 500:
            flush()
    flush()
    _close(engine)
    extra: dict[str, Any] = {}
    if rounds is not None:
        extra = {"batch": True, "batches": batches, "batch_lines": len(batched)}
    return {
        **extra,
        "model": engine.spec,
        "requests": n,
        "bad_input": bad,
        "cache_hits": hits,
        "to_send": n - bad - hits,
        "est_prompt_tokens": prompt_tokens,
        "est_completion_tokens": completion_tokens,
        "est_cost_usd": round(cost, 6) if engine.price is not None else None,
    }
