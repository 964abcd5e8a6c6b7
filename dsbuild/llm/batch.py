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

__all__ = ["BatchSummary", "batch_builder", "dry_run", "read_requests", "run_batch"]


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


def batch_builder(in_path: Path, default_sampling: dict[str, Any], concurrency: int = 16):
    """Two stages: read the requests (deterministic source), then complete each (async).
    With `--batch` the engine answers the requests missing from the cache by Batch API
    rounds (`dsbuild.llm.batch_queue`); the stage does not know."""
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
    engine_stats: dict[str, Any]  # with --batch, its rounds, batches, polls under "batch"
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
    batch: Any = None,
) -> BatchSummary:
    """Run every request of `in_path` through the engine; write results to `out_path`.

    `batch` (a `batch_queue.BatchSettings`): the requests that miss the cache go through
    OpenAI Batch API rounds at the batch price, instead of online calls."""
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
            if batch is not None:
                engine.use_batch(batch)
            builder = batch_builder(in_path, default_sampling, 2 * max(1, settings.concurrency))
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
    stats = engine.stats.to_dict()
    if engine.batch is not None:
        stats["batch"] = engine.batch.stats.to_dict()
    summary = BatchSummary(result, stats, out_path, seconds, errors, n)
    if incomplete is not None:
        incomplete.summary = summary  # type: ignore[attr-defined]
        raise incomplete
    return summary


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
    batch: Any = None,
    max_lines: int | None = None,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """How many requests a run would send (after cache hits) and their estimated cost.

    `batch` (`--batch`, a `batch_queue.BatchSettings`): also how many Batch API input files
    (batches) the lines to send make (split at `max_lines` lines or `max_bytes`, the Batch
    API's limits by default), and the cost at batch prices."""
    from dsbuild.llm.batch_api import MAX_BATCH_BYTES, MAX_BATCH_LINES, BatchSplit, batch_line
    from dsbuild.llm.batch_queue import as_batched, check_backend
    from dsbuild.llm.factory import make_engine
    from dsbuild.llm.pricing import batch_price

    engine = make_engine(settings, prices_file=prices_file)
    if batch is not None:
        try:
            check_backend(engine, batch)
        except BaseException:
            _close(engine)
            raise
    engine.model = engine.model or "(server default)"
    price = batch_price(engine.price) if batch is not None else None
    split = BatchSplit(max_lines or MAX_BATCH_LINES, max_bytes or MAX_BATCH_BYTES)
    n = bad = hits = 0
    cost = 0.0
    prompt_tokens = completion_tokens = 0
    batches = 0
    batched: set[str] = set()  # a request asked twice goes into a batch once
    from dsbuild.llm.engine import DEFAULT_COMPLETION_ESTIMATE
    from dsbuild.llm.tokens import estimate_prompt_tokens

    chunk: list = []  # requests read, looked up in the cache 500 at a time

    def as_sent(r):
        r = engine.with_structured_mode(r)  # the mode is in the key
        return as_batched(r) if batch is not None else r

    def flush() -> None:
        nonlocal hits, cost, prompt_tokens, completion_tokens
        nonlocal batches
        chunk[:] = [as_sent(r) for r in chunk]
        found = (
            engine.cache.contains_many([r.key() for r in chunk])
            if engine.cache is not None
            else set()
        )
        for r in chunk:
            if r.key() in found:
                hits += 1
                continue
            p = estimate_prompt_tokens(list(r.messages))
            c = int(r.sampling.get("max_tokens") or DEFAULT_COMPLETION_ESTIMATE)
            prompt_tokens += p
            completion_tokens += c
            cost += engine.estimate_cost(r, price)
            if batch is not None and r.key() not in batched:  # cut as BatchRunner cuts
                batched.add(r.key())
                batches += split.starts_new(len(batch_line(r)))
        chunk.clear()

    for rec in read_requests(in_path):
        n += 1
        if "_bad_input" in rec:
            bad += 1
            continue
        chunk.append(_request_of(engine, rec, {"seed": settings.seed}))
        if len(chunk) >= 500:
            flush()
    flush()
    _close(engine)
    extra: dict[str, Any] = {}
    if batch is not None:
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
