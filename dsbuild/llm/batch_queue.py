"""`BatchQueue`: an engine's cache misses gathered over a stage and answered in Batch API rounds.

With `--batch`, `LLMEngine.complete` does not send a request that misses the cache: it
queues it here and raises `dsbuild.outcomes.Deferred` carrying this queue's `flush`. The
runner goes on through the stage, so one pass queues the requests of every record; then it
awaits `flush`, which answers them all through `BatchRunner` rounds (same cache, same schema
checks and repair turns, batch prices, `--max-cost` before each batch), and runs the
deferred records again: now their requests are answered here or from the cache. A record
that asks again depending on an answer (a second call, a repair the cache does not hold)
is deferred again, and the next flush answers that. Nothing in a builder changes.

`BatchSettings` says how: through the endpoint's Batch API (`mode="api"`) or as files for an
offline tool (`mode="offline"`, `dsbuild.llm.batch_offline`); `detach` submits and stops
(`Detached`), a later run of the same command collects; `fallback="online"` sends what the
batch rounds left unanswered through the online path instead of leaving it pending.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dsbuild.llm.types import ChatRequest, LLMResult

__all__ = [
    "STATE_FOLDER",
    "BatchQueue",
    "BatchSettings",
    "as_batched",
    "check_backend",
    "state_file",
    "state_files",
]


@dataclass(frozen=True)
class BatchSettings:
    """How `--batch` answers: `mode` api|offline, `detach`, `fallback` None|"online", and
    `results` (offline: output files to ingest)."""

    mode: str = "api"
    detach: bool = False
    fallback: str | None = None
    results: tuple[Path, ...] = ()

    @property
    def waits(self) -> bool:
        """Whether a flush waits for its batches (else it submits and stops)."""
        return self.mode == "api" and not self.detach


def as_batched(request: ChatRequest) -> ChatRequest:
    """`request` as a batch line sends it: a structured request whose mode is not known yet
    in the canonical `json_schema` mode (it is part of the cache key)."""
    if request.structured_mode is None and request.json_schema is not None:
        return replace(request, structured_mode="json_schema")
    return request


class BatchQueue:
    """The requests an engine deferred, and the answers of the flushes so far."""

    def __init__(self, engine: Any, settings: BatchSettings) -> None:
        self.engine, self.settings = engine, settings
        self.queued: dict[str, ChatRequest] = {}
        self.results: dict[str, LLMResult] = {}
        self.stopped: Exception | None = None  # the budget stopped the rounds
        self.unanswered: set[str] = set()  # then: the requests it left unsent
        self._runner: Any = None
        self._detach_next = False  # --detach: batches are live, stop at the next flush

    @property
    def stats(self) -> Any:
        """What the batch rounds did so far (`BatchRunStats`: its one runner counts them
        across flushes)."""
        if self._runner is None:
            from dsbuild.llm.batch_api import BatchRunStats

            return BatchRunStats()
        return self._runner.stats

    @property
    def state_path(self) -> Path:
        """This engine's batch state file in the run directory (`state_file`)."""
        run_info = getattr(self.engine, "_run_info", None)
        if run_info is None:
            from dsbuild.errors import DsbuildError

            raise DsbuildError(
                "--batch needs a run directory to keep its batch ids in",
                "run the requests through a build or `dsbuild llm run`",
            )
        return state_file(Path(run_info.path).parent, self.engine.spec)

    # -- called by the engine --------------------------------------------------------------
    def answer(self, request: ChatRequest) -> LLMResult | None:
        """The result a flush got for `request` (under the caller's id), or None; raises the
        budget error that kept it from being sent."""
        done = self.results.get(request.key())
        if done is not None:
            return replace(done, request=replace(done.request, id=request.id))
        if self.stopped is not None and request.key() in self.unanswered:
            raise self.stopped
        return None

    def defer(self, request: ChatRequest) -> Exception:
        """Queue `request` for the next flush; the exception for its record to raise."""
        from dsbuild.outcomes import Deferred

        self.queued.setdefault(request.key(), request)
        return Deferred(
            "batch_queued",
            self.flush,
            f"request {request.id or request.key()[:12]}",
            release=self.release,
        )

    def release(self) -> None:
        """The stage is over: forget its results (the answers are in the cache)."""
        self.results.clear()

    # -- called by the runner between passes -------------------------------------------------
    async def flush(self, task: Any = None) -> None:
        """Answer the queued requests through batch rounds (see the module docstring).
        `task`: a progress task, advanced as the batches report lines done."""
        from dsbuild.errors import BudgetExceededError

        requests, self.queued = list(self.queued.values()), {}
        if not requests:
            return
        runner = self._batch_runner(task)
        if self._detach_next:  # the records answered before have taken their results
            raise self._detached(runner)
        try:
            results = await runner.run(requests, wait=self.settings.waits)
        except BudgetExceededError as exc:  # what was answered is kept, the rest waits
            self.stopped, results = exc, getattr(exc, "results", {})
            self.unanswered = {r.key() for r in requests} - set(results)
        if self.settings.fallback == "online":
            results = await self._online(requests, results)
        self.results.update(results)
        if not self.settings.waits and runner.live_batches:
            if not results:
                raise self._detached(runner)
            # Detach at the next flush, once the runner has run the records answered here
            # again: a failed line's result is in no cache, and lost with this process it
            # would be sent again by the next run.
            self._detach_next = True

    def _batch_runner(self, task: Any) -> Any:
        from dsbuild.llm.batch_api import BatchRunner
        from dsbuild.llm.pricing import batch_price

        engine = self.engine
        seen: dict[str, int] = {}

        def progress(batch_id: str, done: int, failed: int, total: int) -> None:
            now = done + failed
            if task is not None and now > seen.get(batch_id, 0):
                task.advance(now - seen.get(batch_id, 0))
            seen[batch_id] = max(now, seen.get(batch_id, 0))

        if self._runner is None:
            price = batch_price(engine.price)
            self._runner = BatchRunner(
                self._api(),
                self.state_path,
                meta={"model": _label(engine.spec), "mode": self.settings.mode},
                cache=engine.cache,
                price=price,
                max_repairs=engine.max_repairs,
                on_charge=engine.account,
                seed=0,
                # --max-cost: checked before each batch is submitted, at batch prices
                reserve=lambda reqs: engine.reserve_batch(reqs, price),
                release=engine.release,
            )
        self._runner.progress = progress
        return self._runner

    def _api(self) -> Any:
        if self.settings.mode == "offline":
            from dsbuild.llm.batch_offline import OfflineBatchAPI

            return OfflineBatchAPI(self.state_path.with_suffix(""), self.settings.results)
        from dsbuild.llm.batch_api import BatchAPIClient

        return BatchAPIClient(self.engine.backend.client)

    async def _online(
        self, requests: list[ChatRequest], results: dict[str, LLMResult]
    ) -> dict[str, LLMResult]:
        """`--batch-fallback online`: what the rounds left pending (lines that failed or
        never ran in every round), online. Not with `--detach`: it does not wait."""
        import asyncio

        if not self.settings.waits:
            return results
        left = [r for r in requests if r.key() in results and results[r.key()].pending]
        if not left:
            return results
        answers = await asyncio.gather(*(self.engine.complete_online(r) for r in left))
        self._runner.stats.fallback_online += len(left)
        return {**results, **{r.key(): a for r, a in zip(left, answers)}}

    def _detached(self, runner: Any) -> Exception:
        from dsbuild.outcomes import Detached

        live = runner.live_batches
        if self.settings.mode == "offline":
            folder = self.state_path.with_suffix("")
            return Detached(
                f"{len(live)} batch input file(s) written to {folder} for {self.engine.spec}: "
                "run them with `vllm run-batch` (or any tool taking the OpenAI batch format), "
                "then run the same command again with --batch-results OUTPUT.jsonl ... to "
                "ingest their output"
            )
        return Detached(
            f"{len(live)} batch(es) in flight for {self.engine.spec} (ids in {self.state_path}); "
            "run the same command again to collect them and go on (`dsbuild batches status "
            "RUN` shows them)"
        )


STATE_FOLDER = "batches"


def _label(spec: str) -> str:
    from dsbuild.redact import redact_text

    return redact_text(spec)


def state_file(run_dir: Path, spec: str) -> Path:
    """`RUN/batches/<model>.json`: the batch ids of one model of a run (credentials in the
    spec's URL are not part of the name)."""
    import hashlib
    import re

    label = _label(spec)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:60] or "model"
    return run_dir / STATE_FOLDER / f"{slug}-{hashlib.sha1(label.encode()).hexdigest()[:8]}.json"


def state_files(run: Path) -> list[Path]:
    """The batch state files of a run directory, or of `run.run` when `run` names the output
    file of a `dsbuild llm run`; a one-line `UsageError` (DSB103) when there are none."""
    from dsbuild.errors import UsageError

    run = Path(run)
    for folder in (run, run.with_name(run.name + ".run")):
        found = sorted((folder / STATE_FOLDER).glob("*.json"))
        if found:
            return found
    what = "does not exist" if not run.exists() else f"holds no batch state ({STATE_FOLDER}/)"
    raise UsageError(
        f"{run} {what}",
        "give the run directory of a build or `dsbuild llm run` made with --batch",
        code="DSB103",
    )


def check_backend(engine: Any, settings: BatchSettings, *, cache_only: bool = False) -> None:
    """Refuse, before anything runs, a batch mode the engine cannot do (DSB103)."""
    from dsbuild.errors import ConfigError

    if cache_only:
        raise ConfigError(
            "--batch sends requests and --cache-only forbids it",
            "drop one of the two",
            code="DSB103",
        )
    if settings.mode == "offline":
        return
    if getattr(getattr(engine.backend, "client", None), "batches", None) is None:
        raise ConfigError(
            f"--batch needs an OpenAI-compatible endpoint with the Batch API; model "
            f"{engine.spec} has none",
            "use an openai: model (or --base-url of a server serving /v1/batches), --batch "
            "offline to write batch files for a self-hosted tool, or drop --batch",
            code="DSB103",
        )
