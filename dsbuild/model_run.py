"""Run a model over the records of a file (detectors, correctors, raters) on the runner.

A `ModelTask` is the half of an evaluation loop that produces predictions: a deterministic
reader of input items and one async map function that asks the run's models. `run_task`
runs it as a two-stage builder (read, predict) on the resumable runner with a `ModelPool`
in the stage context, the way `dsbuild llm run` drives the engine, so every call is cached,
retried and budgeted (`--max-cost`), a record whose endpoint failed stays pending (exit 4),
a kill resumes where it stopped, and usage goes into `run.json`. `plan_task` is the
`--dry-run`: it calls the map function with engines that answer nothing, and counts the
requests that would be sent after cache hits and their estimated cost.

`run_floor` runs a task once into a run directory of its own, named by the task's
fingerprint (`floor_run_dir`): the leaderboards' floor row (the embedded model on the gold
items) costs the model's time the first time and nothing later, and a killed run resumes.

Nothing here knows a dataset: the tasks are written next to their datasets
(`dsbuild.<dataset>.predict`, `.detect`, `.rate`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.runs.runner import RunResult
    from dsbuild.stages import StageContext

__all__ = [
    "FloorRun",
    "ModelTask",
    "file_digest",
    "floor_run_dir",
    "ids_digest",
    "plan_task",
    "run_floor",
    "run_task",
    "task_fingerprint",
]


def file_digest(path: str | Path) -> str:
    """The sha256 of a file, or of a folder's files in name order (a run directory's
    `records.jsonl` is what changes): part of a task's fingerprint."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if path.is_dir() and (path / "records.jsonl").is_file():
        files = [path / "records.jsonl"]
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def ids_digest(ids: Iterable[str]) -> str:
    """The sha256 of a set of item ids (sorted, one a line): part of the fingerprint of a
    task restricted to them."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ModelTask:
    """What to run: `read()` yields the input items (dicts with a string `id`, the same
    sequence every time); `predict(item, ctx)` asks `ctx.llm` (a `ModelPool`) and returns
    the output record, a list of them, or `reject(...)`; a failure of the endpoint raises
    `Pending` (`LLMResult.rejection` does). `config` holds what changes the output (input
    digest, models, samples, prompt hashes): it is the run's fingerprint with `version`.
    `models` are the model specs asked (checked before anything runs)."""

    name: str
    version: str
    read: Callable[[], Iterable[dict]]
    predict: Callable[[dict, StageContext], Awaitable[Any]]
    config: dict[str, Any]
    models: tuple[str | None, ...] = (None,)
    description: str = "one model call per record"
    extras: dict[str, Any] = field(default_factory=dict)

    def builder(self, concurrency: int):
        from dsbuild.stages import Builder, map_stage, source_stage

        def read(ctx):
            yield from self.read()

        return Builder(
            self.name,
            "1",
            (
                source_stage("read", read, description="the input records"),
                map_stage(
                    "predict",
                    self.predict,
                    concurrency=concurrency,
                    version=self.version,
                    description=self.description,
                ),
            ),
        )

    def run_config(self, settings: Settings) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "model": settings.model_spec,
            "base_url": settings.base_url,
            "seed": settings.seed,
            "concurrency": settings.concurrency,
            "options": dict(self.config),
        }


def run_task(
    task: ModelTask,
    settings: Settings,
    run_dir: str | Path,
    *,
    mode: str = "resume",
    max_cost: float | None = None,
    cache_only: bool = False,
    progress: bool = False,
    batch: Any = None,
) -> RunResult:
    """Run `task` into `run_dir` (resuming a run of the same fingerprint); raises what the
    runner raises (`RunIncompleteError` exit 4 with records pending, `BudgetExceededError`
    exit 5, DSB201 for a run directory of other settings, `Detached` when batches were
    left in flight). `batch`: a `dsbuild.llm.batch_queue.BatchSettings` (`--batch`): the
    requests that miss the cache go through Batch API rounds, as in a build."""
    import asyncio

    from dsbuild.llm.pool import ModelPool
    from dsbuild.progress import make_progress
    from dsbuild.runs import run_builder

    pool = ModelPool(settings, cache_only=cache_only, max_cost=max_cost, batch=batch)
    pool.check(task.models)
    # Twice as many workers as requests in flight: a request waiting before a retry holds a
    # worker but no connection (as `dsbuild llm run`).
    builder = task.builder(2 * max(1, settings.concurrency))
    with asyncio.Runner() as loop:
        try:
            return run_builder(
                builder,
                Path(run_dir),
                task.run_config(settings),
                mode=mode,  # type: ignore[arg-type]
                progress=make_progress(progress),
                context_extras={"settings": settings, "llm": pool, **task.extras},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())


class _DryEngine:
    """An engine stand-in for `--dry-run`: builds requests as the real engine does, counts
    those the cache does not hold and their estimated cost, and answers none."""

    def __init__(self, engine: Any, tally: dict[str, Any]) -> None:
        self.engine, self.tally = engine, tally
        self.spec, self.model = engine.spec, engine.model

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.request(*args, **kwargs)

    async def complete(self, request: Any) -> Any:
        from dataclasses import replace

        from dsbuild.llm.engine import DEFAULT_COMPLETION_ESTIMATE
        from dsbuild.llm.tokens import estimate_prompt_tokens
        from dsbuild.llm.types import LLMResult

        engine = self.engine
        if not request.model:
            request = replace(request, model=engine.model or "(server default)")
        request = engine.with_structured_mode(request)
        t = self.tally
        t["requests"] += 1
        if engine.cache is not None and engine.cache.get(request.key()) is not None:
            t["cache_hits"] += 1
        else:
            t["est_prompt_tokens"] += estimate_prompt_tokens(list(request.messages))
            t["est_completion_tokens"] += int(
                request.sampling.get("max_tokens") or DEFAULT_COMPLETION_ESTIMATE
            )
            t["est_cost_usd"] = (
                None
                if engine.price is None or t["est_cost_usd"] is None
                else t["est_cost_usd"] + engine.estimate_cost(request)
            )
        return LLMResult(request=request, error={"reason": "dry_run", "detail": "not sent"})


class _DryPool:
    def __init__(self, pool: Any, tally: dict[str, Any]) -> None:
        self.pool, self.tally = pool, tally
        self._engines: dict[str, _DryEngine] = {}

    def get(self, spec: str | None = None) -> _DryEngine:
        engine = self.pool.get(spec)
        dry = self._engines.get(engine.spec)
        if dry is None:
            dry = self._engines[engine.spec] = _DryEngine(engine, self.tally)
        return dry

    def spec_label(self, spec: str | None) -> str:
        return self.pool.spec_label(spec)


def plan_task(task: ModelTask, settings: Settings) -> dict[str, Any]:
    """`--dry-run`: the records, the requests the task would make, how many the cache
    answers, and the estimated tokens and cost of the rest; nothing is sent or written."""
    import asyncio

    from dsbuild.llm.pool import ModelPool
    from dsbuild.outcomes import Pending
    from dsbuild.stages import StageContext

    pool = ModelPool(settings)
    pool.check(task.models)
    tally: dict[str, Any] = {
        "records": 0,
        "requests": 0,
        "cache_hits": 0,
        "est_prompt_tokens": 0,
        "est_completion_tokens": 0,
        "est_cost_usd": 0.0,
    }
    dry = _DryPool(pool, tally)
    ctx = StageContext(
        config=task.run_config(settings),
        options=task.config,
        seed=settings.seed,
        stage="predict",
        settings=settings,
        llm=dry,
        **task.extras,
    )

    async def go() -> None:
        try:
            for item in task.read():
                tally["records"] += 1
                try:
                    await task.predict(item, ctx)
                except Pending:
                    pass
        finally:
            await pool.aclose()

    asyncio.run(go())
    models = sorted({e.spec for e in dry._engines.values()})
    if any(e.engine.price is None for e in dry._engines.values()):
        tally["est_cost_usd"] = None
    elif tally["est_cost_usd"] is not None:
        tally["est_cost_usd"] = round(tally["est_cost_usd"], 6)
    return {
        "task": task.name,
        "models": models,
        **tally,
        "to_send": tally["requests"] - tally["cache_hits"],
    }


def task_fingerprint(task: ModelTask, settings: Settings) -> str:
    """The fingerprint `run_task` gives the run of `task` with `settings` (its input files'
    digests, models, prompts, ...; never concurrency, timeouts or the cache location)."""
    from dsbuild.runs.fingerprint import compute_fingerprint

    return compute_fingerprint(task.builder(1).fingerprint_parts(), task.run_config(settings))


def floor_run_dir(task: ModelTask, settings: Settings, base: str | Path | None = None) -> Path:
    """Where `run_floor` runs `task`: `BASE/<task name>-<fingerprint>` (BASE by default
    `floors/` in the LLM cache folder, `--cache-dir` / `DSBUILD_CACHE_DIR`). The fingerprint
    holds the gold file's digest, the ids, the model and the prompt: the same board finds its
    run again, another gold file or model gets a run of its own."""
    if base is None:
        from dsbuild.llm.cache import default_cache_dir

        cache = Path(settings.cache_dir).expanduser() if settings.cache_dir else None
        base = (cache or default_cache_dir()) / "floors"
    return Path(base) / f"{task.name}-{task_fingerprint(task, settings)[:16]}"


@dataclass(frozen=True)
class FloorRun:
    """What `run_floor` gives a leaderboard: the `model` label, the output `records` of the
    items answered (an item left pending has none), the `run_dir`, and whether this call
    `ran` the model (False: the run was complete already and nothing was asked)."""

    model: str
    records: list[dict[str, Any]]
    run_dir: Path
    ran: bool


def _finished(run_dir: Path) -> bool:
    import json

    try:
        info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("status") == "finished"


def run_floor(
    task: ModelTask,
    settings: Settings,
    run_dir: str | Path,
    *,
    progress: bool = False,
    announce: Callable[[int], None] | None = None,
) -> FloorRun:
    """Run `task` with `settings` (its model: `settings.model_spec`) into `run_dir` unless
    that run is complete; `announce(n_items)` is called first when the model has work to do.
    Records left pending by failures of the world (timeouts, a server down) are simply
    missing from `records` (the same call later retries them); a systematic failure raises
    as `run_task` does."""
    from dsbuild.builder_kit import read_records
    from dsbuild.runs.runner import RunIncompleteError

    run_dir = Path(run_dir)
    done = _finished(run_dir)
    if not done and announce is not None:
        announce(sum(1 for _ in task.read()))
    try:
        result = run_task(task, settings, run_dir, progress=progress and not done)
    except RunIncompleteError as exc:
        result = exc.result
    from dsbuild.redact import redact_text

    path = Path(result.records_path)
    records = read_records(path) if path.is_file() else []
    return FloorRun(redact_text(settings.model_spec), records, Path(result.run_dir), not done)
